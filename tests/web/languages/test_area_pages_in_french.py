"""The dispute, promise, plan, saved-method and problem pages of a French or German contact are
in that language, and so is the email telling a French contact about their dispute."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from portal.domain.core.money import Money
from portal.domain.disputes import service
from portal.domain.disputes.models import Dispute
from portal.domain.disputes.notifications import DisputeMail
from portal.domain.notifications.models import OutboxMessage
from tests.support.disputes import raise_test_dispute, staff_context
from tests.support.factories import make_contact, make_customer, make_invoice, sign_in

WORDS = {
    "fr": {
        "disputes": ["Contestations", "Motif", "Statut", "1 contestation"],
        "new_dispute": ["Contester une facture", "La totalité", "Envoyer la contestation", "Annuler"],
        "promise": ["Promettre de payer", "Date de paiement", "Solde dû", "pour 1 facture"],
        "plan": ["Proposer un échéancier", "Nombre d'échéances", "Voir le calendrier"],
        "methods": ["Moyens de paiement enregistrés", "Ajouter une carte", "Aucune carte n'est encore enregistrée."],
        "menu": ["Il y a un problème", "Nous l'avons déjà payée", "La facture comporte une erreur"],
    },
    "de": {
        "disputes": ["Reklamationen", "Grund", "Status", "1 Reklamation"],
        "new_dispute": ["Reklamation einreichen", "Alles:", "Abbrechen", "Beanstandete Menge"],
        "promise": ["Zahlung zusagen", "Zahlungsdatum", "Offener Betrag", "für 1 Rechnung zu"],
        "plan": ["Ratenplan vorschlagen", "Anzahl der Raten", "Zahlungsplan ansehen"],
        "methods": ["Gespeicherte Zahlungsmethoden", "Karte hinzufügen", "Noch keine Karte gespeichert."],
        "menu": ["Es gibt ein Problem", "Wir haben bereits bezahlt", "Mit der Rechnung stimmt etwas nicht"],
    },
}
ENGLISH = {
    "disputes": "Every dispute of", "new_dispute": "Raise the dispute", "promise": "Date you will pay",
    "plan": "Number of installments", "methods": "No card is saved yet.", "menu": "We already paid it",
}


def page_text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return unescape(response.get_data(as_text=True))


@pytest.fixture
def account(db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    invoice = make_invoice(db, clock, customer, number="INV-7001", total_minor=48_000)
    disputed = make_invoice(db, clock, customer, number="INV-7002", total_minor=12_000)
    contact = make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")
    raise_test_dispute(db, clock, contact, [disputed], amount_text="20.00")
    db.commit()
    return {"contact": contact, "invoice": invoice, "disputed": disputed}


def area_pages(client, invoice) -> dict[str, str]:
    pid = invoice.public_id
    return {
        "disputes": page_text(client.get("/disputes")),
        "new_dispute": page_text(client.get(f"/disputes/new?invoice={pid}")),
        "promise": page_text(client.get(f"/promises/new?invoice={pid}")),
        "plan": page_text(client.get(f"/plans/new?invoice={pid}")),
        "methods": page_text(client.get("/payment-methods")),
        "menu": page_text(client.get(f"/problems?invoice={pid}")),
    }


@pytest.mark.parametrize("language", ["fr", "de"])
def test_the_area_pages_are_in_the_contacts_language(client, db, clock, account, language):
    account["contact"].language = language
    db.commit()
    sign_in(client, account["contact"], clock)
    for name, text in area_pages(client, account["invoice"]).items():
        assert re.search(rf'<html lang="{language}">', text), name
        for word in WORDS[language][name]:
            assert word in text, (name, word)
        assert ENGLISH[name] not in text, name


def test_without_a_language_the_same_pages_stay_in_english(client, db, clock, account):
    sign_in(client, account["contact"], clock)
    for name, text in area_pages(client, account["invoice"]).items():
        assert '<html lang="en">' in text, name
        assert ENGLISH[name] in text, name


def test_a_french_contact_gets_the_dispute_update_in_french(db, clock, account, supplier, link_signer):
    account["contact"].language = "fr"
    db.commit()
    [dispute] = db.scalars(select(Dispute)).all()
    service.reply(staff_context(db, clock), DisputeMail(supplier, link_signer), dispute.public_id,
                  "Nous avons vérifié le prix & la quantité.")
    db.commit()
    email = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dispute_reply")).one()
    assert email.to_address == "compta@dupont.example"
    assert email.subject == "Nouveau message sur votre contestation (INV-7002)"
    assert email.body_text.startswith("Bonjour Claire Martin,")
    assert "vous a écrit au sujet de votre contestation de la facture INV-7002 pour Fromagerie Dupont." in email.body_text
    assert "Voir la contestation\u00a0: " in email.body_text and "Nous avons vérifié le prix & la quantité." in email.body_text
    assert '<html lang="fr">' in email.body_html and ">Voir la contestation</a>" in email.body_html
    assert "prix &amp; la quantité" in email.body_html
    for english in ("Hello", "wrote about your dispute", "See the dispute", "This link opens"):
        assert english not in email.body_text and english not in email.body_html


# A dispute of 20.00 on INV-7002, credited 15.00: what its history and the email say.
FIGURES = {
    "fr": {"raised": "Prix · INV-7002 : contestation de 20,00 $US", "credited": "INV-7002 : avoir de 15,00 $US",
           "english": ("$20.00", "$15.00", "disputed", "credited")},
    "de": {"raised": "Preis · INV-7002: 20,00 $ beanstandet", "credited": "INV-7002: 15,00 $ gutgeschrieben",
           "english": ("$20.00", "$15.00", "disputed", "credited")},
    "en": {"raised": "Pricing · INV-7002: $20.00 disputed", "credited": "INV-7002: $15.00 credited",
           "english": ()},
}


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_amounts_in_a_disputes_history_and_its_resolution_email_are_in_the_contacts_language(
        client, db, clock, account, supplier, link_signer, language):
    """The history's details were recorded in English with US money ("Pricing: INV-7002
    $20.00"): a French clerk read them so on their page, and in the resolution email."""
    account["contact"].language = None if language == "en" else language
    [dispute] = db.scalars(select(Dispute)).all()
    service.resolve_accept(staff_context(db, clock), DisputeMail(supplier, link_signer), dispute.public_id,
                           credits={account["disputed"].public_id: Money(1_500, "USD")})
    db.commit()
    expected = FIGURES[language]
    sign_in(client, account["contact"], clock)
    history = page_text(client.get(f"/disputes/{dispute.public_id}")).split(">History<" if language == "en" else "<h2>")[-1]
    flat = " ".join(re.sub(r"<[^>]+>", " ", history).split())
    assert expected["raised"] in flat and expected["credited"] in flat, flat
    email = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dispute_resolved")).one()
    body = " ".join(email.body_text.split())
    assert expected["credited"] in body, body
    assert expected["credited"] in " ".join(unescape(re.sub(r"<[^>]+>", " ", email.body_html)).split())
    for english in expected["english"]:
        assert english not in flat and english not in body, english
