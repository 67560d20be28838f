"""The invoice list, account overview, invoice page and payments history of a French contact are
in French, and a German contact's invoice list is in German."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

from tests.support.factories import make_contact, make_customer, make_invoice, sign_in


def page_text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return unescape(response.get_data(as_text=True))


def test_a_french_contact_reads_the_account_pages_in_french_and_a_german_one_in_german(client, db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    today = clock.now().date()
    overdue = make_invoice(db, clock, customer, number="INV-8001", total_minor=48_000, po_number="PO-55",
                           issue_date=today - timedelta(days=40), due_date=today - timedelta(days=3))
    contact = make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")
    contact.language = "fr"
    db.commit()
    sign_in(client, contact, clock)

    listing = page_text(client.get("/invoices"))
    assert '<html lang="fr">' in listing
    for word in ("Factures", "Solde dû", "N° de bon de commande", "En retard", "3 jours de retard",
                 "Payer la sélection", "Rechercher"):
        assert word in listing, word
    assert "Balance due" not in listing and "days overdue" not in listing

    overview = page_text(client.get("/account"))
    for word in ("Vue d'ensemble du compte", "Solde dû", "En retard", "Les plus en retard", "1 facture"):
        assert word in overview, word
    assert "Most overdue" not in overview

    invoice = page_text(client.get(f"/invoices/{overdue.public_id}"))
    for word in ("Facture INV-8001", "Date d'échéance", "Total de la facture", "Paiements et avoirs",
                 "Un problème avec cette facture\u00a0?"):
        assert word in invoice, word
    assert "Invoice total" not in invoice

    history = page_text(client.get("/payments"))
    for word in ("Paiements", "Aucun paiement pour l'instant", "Voir les factures ouvertes"):
        assert word in history, word
    assert "No payments yet" not in history

    contact.language = "de"
    db.commit()
    german = page_text(client.get("/invoices"))
    assert '<html lang="de">' in german
    for word in ("Rechnungen", "Offener Betrag", "Überfällig", "3 Tage überfällig", "Auswahl bezahlen"):
        assert word in german, word
    assert "Solde dû" not in german and "Balance due" not in german
