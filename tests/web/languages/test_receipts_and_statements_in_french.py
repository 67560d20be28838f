"""The payment receipt (email and PDF), the statement of account PDF and the sign-in link email
are in the language of the contact they are for (French, German), with that language's money
and dates; an English contact still gets them in English. A sign-in link for a contact with no
language of their own goes out in the language the visitor asked for it in; the invoice PDF
names its payments' methods in the contact's language. The short dates of the invoice pages
("Promised for 22 Jun") and the history's "expected by" follow the page's language too."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from portal.domain.access.jobs import resolve_sign_in_link_requests
from portal.domain.access.models import SignInLinkRequest
from portal.domain.access.service import record_sign_in_link_request, send_sign_in_link
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.locales import format_day, format_day_month, format_money
from portal.domain.core.money import Money
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.notifications import queue_receipt
from portal.domain.payments.policy import ach_expected_by
from tests.support.documents import pdf_text
from tests.support.fixtures.links import csrf_for
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice, sign_in,
)
from tests.support.promises import make_test_promise


def flat(text: str) -> str:
    """Whitespace runs (the locales' no-break spaces included) as one space, as pypdf reads them."""
    return " ".join(text.split())


def printed(text: str) -> str:
    """The PDFs print their labels and column heads in capitals (text-transform): words are
    compared without case."""
    return text.upper()


@pytest.fixture
def paid(db, clock):
    """A card payment of $125.00 that settled now, paying INV-9101 in full and INV-9102 in part."""
    customer = make_customer(db, clock, name="Fromagerie Dupont", timezone="UTC")
    payer = make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")
    full = make_invoice(db, clock, customer, number="INV-9101", total_minor=10_000)
    part = make_invoice(db, clock, customer, number="INV-9102", total_minor=8_000)
    payment = make_allocated_payment(db, clock, customer, [(full, 10_000), (part, 2_500)], status="succeeded")
    payment.contact_id, payment.settled_at = payer.id, clock.now()
    payment.card_brand, payment.card_last4 = "visa", "4242"
    add_invoice_entry(db, clock, full, "payment", -10_000, payment_id=payment.id)
    add_invoice_entry(db, clock, part, "payment", -2_500, payment_id=payment.id)
    db.flush()
    return payer, payment


def receipt_email(db, clock, supplier, payment) -> OutboxMessage:
    queue_receipt(Context(db, clock, Actor("system", "test")), supplier, payment)
    db.flush()
    [email] = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "payment_receipt")).all()
    return email


RECEIPT_EMAIL_WORDS = {
    "fr": ["Bonjour Claire Martin,", "a bien reçu votre paiement par carte de", "Référence : ",
           "Payé le : 15 juin 2026, 14:30 UTC", "Carte : Visa se terminant par 4242",
           "- Facture INV-9101 : 100,00 $US payés, désormais entièrement payée",
           "- Facture INV-9102 : 25,00 $US payés, 55,00 $US restant dus",
           "Télécharger le reçu (PDF) : ", "Cet e-mail vaut reçu."],
    "de": ["Guten Tag Claire Martin,", "hat Ihre Kartenzahlung über", "Referenz: ",
           "Bezahlt am: 15.06.2026, 14:30 UTC", "Karte: Visa mit den Endziffern 4242",
           "- Rechnung INV-9101: 100,00 $ bezahlt, jetzt vollständig bezahlt",
           "- Rechnung INV-9102: 25,00 $ bezahlt, 55,00 $ noch offen",
           "Quittung herunterladen (PDF): ", "Diese E-Mail ist Ihre Quittung."],
}
# A subject is one line, but keeps the no-break spaces of its punctuation and of its money.
RECEIPT_SUBJECT = {"fr": "Votre reçu\u00a0: {amount} payés à {supplier}",
                   "de": "Ihre Quittung: {amount} an {supplier} bezahlt"}


@pytest.mark.parametrize("language", ["fr", "de"])
def test_the_receipt_email_is_in_the_payers_language(db, clock, supplier, paid, language):
    payer, payment = paid
    payer.language = language
    email = receipt_email(db, clock, supplier, payment)
    amount = format_money(Money(12_500, "USD"), language)
    assert email.subject == RECEIPT_SUBJECT[language].format(amount=amount, supplier=supplier.name)
    text = flat(email.body_text)
    for words in RECEIPT_EMAIL_WORDS[language]:
        assert flat(words) in text, (words, email.body_text)
    assert amount in email.body_text
    assert "Hello" not in text and "Thank you" not in text and "ending in" not in text
    html = unescape(email.body_html)
    assert f'<html lang="{language}">' in html
    assert {"fr": "Télécharger le reçu (PDF)", "de": "Quittung herunterladen (PDF)"}[language] in html
    assert {"fr": "entièrement payée", "de": "vollständig bezahlt"}[language] in html
    assert "Download receipt" not in html and "paid in full" not in html


def test_an_english_payer_still_gets_the_receipt_in_english(db, clock, supplier, paid):
    _, payment = paid
    email = receipt_email(db, clock, supplier, payment)
    assert email.body_text.startswith("Hello Claire Martin,")
    for words in ("received your card payment of $125.00", "Paid: 15 Jun 2026, 14:30 UTC",
                  "Card: Visa ending in 4242", "- Invoice INV-9101: $100.00 paid, now paid in full",
                  "- Invoice INV-9102: $25.00 paid, $55.00 still open", "Download receipt (PDF): "):
        assert words in email.body_text, words
    assert '<html lang="en">' in email.body_html and "Download receipt (PDF)" in email.body_html


RECEIPT_PDF_WORDS = {
    "fr": ["Reçu", "PAYÉ", "Reçu de", "Compte", "Moyen de paiement", "Visa se terminant par 4242",
           "Affecté à", "Motif indiqué", "Solde actuel", "entièrement payée", "Total payé",
           "Merci pour votre paiement.", "15 juin 2026, 14:30 UTC"],
    "de": ["Quittung", "BEZAHLT", "Erhalten von", "Konto", "Zahlungsart", "Visa mit den Endziffern 4242",
           "Verrechnet mit", "Angegebener Grund", "Saldo jetzt", "vollständig bezahlt", "Insgesamt bezahlt",
           "Vielen Dank für Ihre Zahlung.", "15.06.2026, 14:30 UTC"],
    "en": ["Receipt", "PAID", "Received from", "Method", "Visa ending in 4242", "Applied to", "Balance now",
           "paid in full", "Total paid", "Thank you for your payment.", "15 Jun 2026, 14:30 UTC"],
}


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_receipt_pdf_is_in_the_contacts_language(client, db, clock, paid, language):
    payer, payment = paid
    payer.language = None if language == "en" else language
    sign_in(client, payer, clock)
    response = client.get(f"/payments/{payment.public_id}/receipt.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data)
    for words in RECEIPT_PDF_WORDS[language]:
        assert printed(words) in printed(text), (words, text)
    for amount in (Money(12_500, "USD"), Money(5_500, "USD")):
        assert flat(format_money(amount, language)) in text, text
    if language != "en":
        assert [w for w in ("RECEIVED FROM", "TOTAL PAID", "ENDING IN") if w in printed(text)] == []


@pytest.fixture
def statement_account(db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont", timezone="UTC")
    contact = make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")
    today = clock.now().date()
    make_invoice(db, clock, customer, number="S-OLD", total_minor=123_456,
                 issue_date=today - timedelta(days=130), due_date=today - timedelta(days=100))
    on_its_way = make_invoice(db, clock, customer, number="S-BANK", total_minor=5_000)
    bank = make_allocated_payment(db, clock, customer, [(on_its_way, 5_000)], status="processing",
                                  method="us_bank_account")
    return contact, bank


STATEMENT_WORDS = {
    "fr": ["Relevé de compte", "Client", "Synthèse : solde ouvert par jours de retard", "Non échu",
           "Plus de 90 jours", "Total ouvert", "Factures ouvertes en USD", "Jours de retard",
           "Total ouvert (2 factures)", "dont paiements en cours", "Paiements récents",
           "(prélèvement bancaire (ACH))", "En cours, prévu d'ici le"],
    "de": ["Kontoauszug", "Kunde", "Übersicht: offener Saldo nach Tagen Verzug", "Nicht fällig",
           "Über 90 Tage", "Offen gesamt", "Offene Rechnungen in USD", "Tage Verzug",
           "Offen gesamt (2 Rechnungen)", "davon Zahlungen in Bearbeitung", "Letzte Zahlungen",
           "(Banklastschrift (ACH))", "In Bearbeitung, erwartet bis"],
    "en": ["Statement of account", "Customer", "Summary: open balance by days past due", "Current", "90+ days",
           "Open invoices in USD", "Total open (2 invoices)", "of which payments processing", "Recent payments",
           "(bank transfer (ACH))", "Processing, expected by"],
}


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_statement_pdf_is_in_the_contacts_language(client, db, clock, statement_account, language):
    contact, bank = statement_account
    contact.language = None if language == "en" else language
    sign_in(client, contact, clock)
    response = client.get("/account/statement.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data)
    for words in STATEMENT_WORDS[language]:
        assert printed(words) in printed(text), (words, text)
    today = clock.now().date()
    assert format_day(today, language) in text
    assert format_day(today - timedelta(days=100), language) in text
    assert format_day(ach_expected_by(bank.created_at.date()), language) in text
    assert flat(format_money(Money(128_456, "USD"), language)) in text
    if language != "en":
        assert [w for w in ("OPEN INVOICES", "RECENT PAYMENTS", "DAYS") if w in printed(text)] == []


@pytest.fixture
def part_paid_invoice(db, clock):
    """INV-9301 ($200.00): $50.00 paid by check (recorded by staff), $80.00 on its way by bank debit."""
    customer = make_customer(db, clock, name="Fromagerie Dupont", timezone="UTC")
    contact = make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")
    invoice = make_invoice(db, clock, customer, number="INV-9301", total_minor=20_000)
    check = make_allocated_payment(db, clock, customer, [(invoice, 5_000)], status="succeeded",
                                   method="offline_check")
    check.settled_at = clock.now()
    add_invoice_entry(db, clock, invoice, "payment", -5_000, payment_id=check.id)
    bank = make_allocated_payment(db, clock, customer, [(invoice, 8_000)], status="processing",
                                  method="us_bank_account")
    db.flush()
    return contact, invoice, bank


INVOICE_PAYMENT_WORDS = {
    "fr": ("par chèque", "Paiements en cours, pas encore imputés :",
           "{amount} par prélèvement bancaire (ACH) ({day}, {reference})."),
    "de": ("per Scheck", "Zahlungen in Bearbeitung, noch nicht verrechnet:",
           "{amount} per Banklastschrift (ACH) ({day}, {reference})."),
    "en": ("by check", "Payments in progress, not yet applied:",
           "{amount} by bank transfer (ACH) ({day}, {reference})."),
}


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_invoice_pdf_names_its_payments_in_the_contacts_language(client, db, clock, part_paid_invoice,
                                                                     language):
    contact, invoice, bank = part_paid_invoice
    contact.language = None if language == "en" else language
    sign_in(client, contact, clock)
    response = client.get(f"/invoices/{invoice.public_id}/pdf")
    assert response.status_code == 200
    text = flat(pdf_text(response.data))
    applied, in_progress, pending = INVOICE_PAYMENT_WORDS[language]
    assert applied in text, text
    assert in_progress in text, text
    pending = pending.format(amount=flat(format_money(Money(8_000, "USD"), language)),
                             day=format_day(clock.now().date(), language), reference=bank.reference)
    assert pending in text, text
    if language != "en":
        assert [w for w in ("by check", "by bank", "in progress", "not yet applied") if w in text] == []


def test_a_paid_up_account_is_told_so_in_french(client, db, clock):
    customer = make_customer(db, clock, timezone="UTC")
    contact = make_contact(db, clock, customer)
    contact.language = "fr"
    sign_in(client, contact, clock)
    text = pdf_text(client.get("/account/statement.pdf").data)
    assert "Aucune facture ouverte." in text and "Rien n'est dû sur ce compte au 15 juin 2026." in text


SIGN_IN_WORDS = {
    "fr": ("Votre lien de connexion pour Fromagerie Dupont",
           ["Bonjour Claire Martin,", "Voici votre lien de connexion au compte Fromagerie Dupont",
            "expire dans 15 minutes", "« Continuer »", "Merci de ne pas le transférer"]),
    "de": ("Ihr Anmeldelink für Fromagerie Dupont",
           ["Guten Tag Claire Martin,", "Hier ist Ihr Link zur Anmeldung beim Konto Fromagerie Dupont",
            "läuft in 15 Minuten ab", "„Weiter“", "Bitte leiten Sie ihn nicht weiter"]),
    "en": ("Your sign-in link for Fromagerie Dupont",
           ["Hello Claire Martin,", "Here is your link to sign in to the Fromagerie Dupont account",
            "expires in 15 minutes", "Continue button", "Please do not forward it"]),
}


@pytest.fixture
def sign_in_contact(db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont", timezone="UTC")
    return make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")


def sign_in_emails(db) -> list[OutboxMessage]:
    return db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "sign_in_link")
                      .order_by(OutboxMessage.id)).all()


def assert_sign_in_email_in(email: OutboxMessage, language: str) -> None:
    subject, words = SIGN_IN_WORDS[language]
    assert email.subject == subject
    text = flat(email.body_text)
    for word in words:
        assert flat(word) in text, (word, email.body_text)
    assert f'<html lang="{language}">' in email.body_html
    if language != "en":
        assert "Hello" not in text and "expires in" not in text and "Sign in to" not in email.body_html


@pytest.mark.parametrize(("own", "visitor", "expected"), [
    ("fr", None, "fr"), ("de", "fr", "de"), (None, "de", "de"), (None, "fr", "fr"), (None, None, "en"),
])
def test_the_sign_in_email_is_in_the_contacts_language_else_the_visitors(db, clock, supplier, link_signer,
                                                                         sign_in_contact, own, visitor, expected):
    sign_in_contact.language = own
    send_sign_in_link(db, clock, link_signer, supplier, contact=sign_in_contact, language=visitor)
    [email] = sign_in_emails(db)
    assert_sign_in_email_in(email, expected)


def test_a_requested_sign_in_link_goes_out_in_the_contacts_language(db, clock, supplier, link_signer,
                                                                    sign_in_contact):
    sign_in_contact.language = "de"
    record_sign_in_link_request(db, clock, email=sign_in_contact.email)
    assert resolve_sign_in_link_requests(db, clock, link_signer, supplier) == 1
    [email] = sign_in_emails(db)
    assert_sign_in_email_in(email, "de")


def ask_for_a_sign_in_link(client, db, email: str, headers: dict[str, str] | None = None) -> None:
    """The "email me a sign-in link" form, as a visitor with this browser sends it."""
    response = client.post("/sign-in", data={"csrf_token": csrf_for(client), "email": email},
                           headers=headers or {})
    assert response.status_code == 200
    db.rollback()  # see the request's row


@pytest.mark.parametrize("choice", ["cookie", "accept-language"])
def test_a_requested_sign_in_link_goes_out_in_the_visitors_language(client, db, clock, supplier, link_signer,
                                                                    sign_in_contact, choice):
    assert sign_in_contact.language is None
    db.commit()
    headers = {"Accept-Language": "en"}
    if choice == "cookie":
        client.set_cookie("lang", "fr")
    else:
        headers = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
    ask_for_a_sign_in_link(client, db, sign_in_contact.email, headers)
    assert db.scalar(select(SignInLinkRequest.language)) == "fr"

    assert resolve_sign_in_link_requests(db, clock, link_signer, supplier) == 1
    [email] = sign_in_emails(db)
    assert_sign_in_email_in(email, "fr")


def test_the_contacts_own_language_wins_over_the_one_the_link_was_asked_in(client, db, clock, supplier,
                                                                          link_signer, sign_in_contact):
    sign_in_contact.language = "de"
    db.commit()
    client.set_cookie("lang", "fr")
    ask_for_a_sign_in_link(client, db, sign_in_contact.email)
    assert db.scalar(select(SignInLinkRequest.language)) == "fr"

    assert resolve_sign_in_link_requests(db, clock, link_signer, supplier) == 1
    [email] = sign_in_emails(db)
    assert_sign_in_email_in(email, "de")


def test_a_sign_in_link_asked_for_in_no_language_goes_out_in_english(client, db, clock, supplier, link_signer,
                                                                    sign_in_contact):
    db.commit()
    ask_for_a_sign_in_link(client, db, sign_in_contact.email, {"Accept-Language": "ja, zh;q=0.8"})
    assert db.scalar(select(SignInLinkRequest.language)) == "en"

    assert resolve_sign_in_link_requests(db, clock, link_signer, supplier) == 1
    [email] = sign_in_emails(db)
    assert_sign_in_email_in(email, "en")


def test_a_request_recorded_without_a_language_goes_out_in_english(db, clock, supplier, link_signer,
                                                                   sign_in_contact):
    record_sign_in_link_request(db, clock, email=sign_in_contact.email, language=None)
    assert db.scalar(select(SignInLinkRequest.language)) is None
    assert resolve_sign_in_link_requests(db, clock, link_signer, supplier) == 1
    [email] = sign_in_emails(db)
    assert_sign_in_email_in(email, "en")


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_promised_day_on_the_invoice_pages_is_in_the_pages_language(client, db, clock, sign_in_contact,
                                                                        language):
    invoice = make_invoice(db, clock, sign_in_contact.customer, number="INV-9201", total_minor=10_000)
    promise = make_test_promise(db, clock, sign_in_contact, [invoice])
    sign_in_contact.language = None if language == "en" else language
    sign_in(client, sign_in_contact, clock)
    promised = {"fr": "Promis pour le {}", "de": "Zugesagt für {}", "en": "Promised for {}"}[language].format(
        format_day_month(promise.promised_date, language))
    for page in ("/invoices", f"/invoices/{invoice.public_id}"):
        html = unescape(client.get(page).get_data(as_text=True))
        assert promised in html, page
    assert {"fr": "22 juin", "de": "22. Juni", "en": "22 Jun"}[language] in promised


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_history_says_when_a_bank_payment_is_expected_in_the_pages_language(client, db, clock,
                                                                                statement_account, language):
    contact, bank = statement_account
    contact.language = None if language == "en" else language
    sign_in(client, contact, clock)
    html = unescape(client.get("/payments").get_data(as_text=True))
    expected = {"fr": "En cours, prévu d'ici le {}", "de": "In Bearbeitung, erwartet bis {}",
                "en": "Processing, expected by {}"}[language]
    assert expected.format(format_day(ach_expected_by(bank.created_at.date()), language)) in html
    # The time of each payment, in the page's language too.
    assert {"fr": "15 juin 2026, 14:30 UTC", "de": "15.06.2026, 14:30 UTC",
            "en": "15 Jun 2026, 14:30 UTC"}[language] in flat(html)
