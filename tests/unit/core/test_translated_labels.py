"""Labels the domain marks with `N_` and the `Text`s it builds are translated where they are
read; a text the catalogue does not know is shown as written; the consent and mandate words
are built in the contact's language."""

from __future__ import annotations

from datetime import date

import pytest

from portal.domain.core.locales import Text, translate
from portal.domain.core.money import Money
from portal.domain.disputes.states import DEFAULT_REASON_LABELS, STATUS_LABELS, DisputeStatus
from portal.domain.methods.policy import bank_mandate_text, consent_text
from portal.domain.payments.policy import mandate_text


@pytest.mark.parametrize("language, received, pricing", [("en", "Received", "Pricing"), ("fr", "Reçue", "Prix"),
                                                         ("de", "Eingegangen", "Preis")])
def test_a_marked_label_is_read_in_the_language(language, received, pricing):
    assert translate(STATUS_LABELS[DisputeStatus.OPEN], language) == received
    assert translate(DEFAULT_REASON_LABELS["pricing"], language) == pricing


def test_a_text_the_catalogue_does_not_know_is_shown_as_written():
    assert translate("Freight damaged in transit (our own reason)", "fr") == "Freight damaged in transit (our own reason)"
    assert translate("", "de") == "" and translate(None, "fr") is None


def test_a_text_fills_its_values_the_languages_way():
    text = Text("Already promised for %(day)s.", day=date(2026, 3, 5))
    assert str(text) == "Already promised for 05 Mar 2026."
    assert translate(text, "fr") == "Paiement déjà promis pour le 5 mars 2026."
    assert translate(text, "de") == "Zahlung bereits für den 05.03.2026 zugesagt."
    assert translate(Money(123_456, "USD"), "de") == "1.234,56\xa0$"


def test_the_consent_and_mandate_words_are_built_in_the_contacts_language():
    assert consent_text("Northwind", "Acme", "fr").startswith("J'autorise Northwind à enregistrer cette carte")
    assert "Acme" in consent_text("Northwind", "Acme", "de") and "Ich ermächtige Northwind" in consent_text(
        "Northwind", "Acme", "de")
    assert bank_mandate_text("Northwind", "Acme", "fr").startswith("En enregistrant un compte bancaire, j'autorise Northwind")
    assert mandate_text("Northwind", "de").startswith("Mit der Zahlung von einem Bankkonto ermächtigen Sie Northwind")
    assert mandate_text("", "fr").startswith("En payant depuis un compte bancaire, vous autorisez le fournisseur")
    assert consent_text("Northwind", "Acme") == consent_text("Northwind", "Acme", "en")
    assert consent_text("Northwind", "Acme").startswith("I authorise Northwind to save this card")
