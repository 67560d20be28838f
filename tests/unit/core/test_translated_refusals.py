"""A domain refusal keeps its English message and is read in French or German with its
amounts and dates written the way that language writes them."""

from __future__ import annotations

from datetime import date

import pytest

from portal.domain.attachments.policy import UploadLimits, check_counts, UploadRefused
from portal.domain.core.errors import DomainError, Text
from portal.domain.core.locales import N_
from portal.domain.core.money import Money, MoneyError
from portal.domain.payments.policy import PaymentRefused


def over_payment() -> PaymentRefused:
    return PaymentRefused(N_("Invoice %(number)s: at most %(amount)s can be paid now."),
                          number="INV-1001", amount=Money(123_456, "USD"))


def test_the_message_stays_the_english_sentence():
    assert over_payment().message == "Invoice INV-1001: at most $1,234.56 can be paid now."
    assert str(over_payment()) == over_payment().message
    assert DomainError("A plain refusal, 100% English.").message == "A plain refusal, 100% English."


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", "Facture INV-1001 : vous pouvez payer au plus 1\u202f234,56\xa0$US maintenant."),
    ("de", "Rechnung INV-1001: Derzeit können höchstens 1.234,56\xa0$ bezahlt werden."),
    ("en", "Invoice INV-1001: at most $1,234.56 can be paid now."),
])
def test_translated_with_the_languages_catalogue_and_money(language, expected):
    assert over_payment().translated(language).replace("\u202f", " ").replace("\xa0", " ") == \
        expected.replace("\u202f", " ").replace("\xa0", " ")


def test_a_date_parameter_is_written_for_the_language():
    refused = DomainError(N_("Choose a date within %(limit)s days (by %(latest)s)."), limit=30, latest=date(2026, 3, 5))
    assert refused.message == "Choose a date within 30 days (by 05 Mar 2026)."
    assert refused.translated("fr") == "Choisissez une date dans les 30 jours (au plus tard le 5 mars 2026)."
    assert refused.translated("de") == "Wählen Sie ein Datum innerhalb von 30 Tagen (spätestens am 05.03.2026)."


def test_a_nested_amount_problem_is_translated_too():
    with pytest.raises(MoneyError) as caught:
        Money.parse("abc", "USD")
    assert str(caught.value) == "Enter the amount as digits, for example 1,234.50"
    refused = PaymentRefused(N_("Invoice %(number)s: %(problem)s"), number="INV-1", problem=caught.value)
    assert refused.message == "Invoice INV-1: Enter the amount as digits, for example 1,234.50"
    assert refused.translated("fr") == "Facture INV-1\u00a0: Saisissez le montant en chiffres, par exemple 1,234.50"
    assert refused.translated("de") == "Rechnung INV-1: Geben Sie den Betrag in Ziffern ein, zum Beispiel 1,234.50"


def test_an_unmarked_message_and_a_given_gettext():
    assert DomainError("Only staff read this.").translated("fr") == "Only staff read this."
    shouting = DomainError(Text(N_("Pay at most %(count)s invoices at once."), count=3))
    assert shouting.translated("fr", gettext=lambda text: f"[{text}]") == "[Pay at most 3 invoices at once.]"


def test_an_attachment_refusal_in_french_and_german():
    with pytest.raises(UploadRefused) as caught:
        check_counts(7, UploadLimits(max_files=5))
    assert caught.value.message == "At most 5 files can be attached at once; this had 7."
    assert caught.value.translated("fr") == "Vous pouvez joindre au plus 5 fichiers à la fois\u00a0; il y en avait 7."
    assert caught.value.translated("de") == "Es können höchstens 5 Dateien auf einmal angehängt werden; es waren 7."
