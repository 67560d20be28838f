"""The promise, plan, follow-up and re-issued invoice emails of a French or German contact are
in that language (subject and body), an English contact still gets them in English, and a form
error on a French contact's page is in French."""

from __future__ import annotations

import secrets
from html import unescape

import pytest
from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.followups.notifications import FollowupMail, queue_customer_update
from portal.domain.invoicing.notifications import PoMail
from portal.domain.invoicing.po_followups import apply_po, report_needs_po
from portal.domain.invoicing.policy import DueDateRule, PoRequest, PoSettings
from portal.domain.notifications.models import OutboxMessage
from portal.domain.plans.notifications import queue_reminder
from portal.domain.promises.notifications import PromiseMail, queue_broken_notice
from portal.web.documents import invoice_pdf
from tests.support.disputes import contact_access
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, sign_in
from tests.support.fixtures.links import csrf_for
from tests.support.followups import report_test_payment
from tests.support.plans import make_test_plan
from tests.support.promises import make_test_promise

KEEP = PoSettings(DueDateRule.KEEP, auto_reissue=False)

# What each email says, per language: (words of the subject, words of the body).
WORDS = {
    "fr": {
        "promise_broken": (["Votre promesse de paiement de INV-8101", "n'a pas été tenue"],
                           ["Bonjour Claire Martin,", "a promis de payer la facture INV-8101",
                            "Payer ou voir les factures\u00a0: ", "promesse de paiement"]),
        "plan_installment_reminder": (["Échéance 1 sur 3\u00a0:", "seront débités le"],
                                      ["Bonjour Claire Martin,", "Comme convenu dans votre échéancier",
                                       "Rien à faire si la carte est toujours valable."]),
        "followup_update": (["Nous avons besoin d'un élément de votre part\u00a0: INV-8101"],
                            ["Bonjour Claire Martin,", "Nous l'avons déjà payée",
                             "Notre équipe écrit\u00a0: ", "Voir votre signalement\u00a0: "]),
        "invoice_reissued": (["Facture INV-8101 avec le bon de commande", "PO-4471"],
                             ["Bonjour Claire Martin,", "nous avons ajouté le numéro de bon de commande",
                              "- La facture INV-8101 porte maintenant le bon de commande, échéance le",
                              "Le PDF de la facture est joint.", "Ce lien n'ouvre que cette facture."]),
    },
    "de": {
        "promise_broken": (["Ihre Zahlungszusage für INV-8101", "wurde nicht eingehalten"],
                           ["Guten Tag Claire Martin,", "hat zugesagt, Rechnung INV-8101",
                            "Rechnungen bezahlen oder ansehen: ", "Zahlungszusage"]),
        "plan_installment_reminder": (["Rate 1 von 3:", "werden am"],
                                      ["Guten Tag Claire Martin,", "Wie in Ihrem Ratenplan",
                                       "Nichts zu tun, wenn die Karte noch gültig ist."]),
        "followup_update": (["Wir brauchen etwas von Ihnen: INV-8101"],
                            ["Guten Tag Claire Martin,", "Wir haben bereits bezahlt",
                             "Unser Team schreibt: ", "Ihre Meldung ansehen: "]),
        "invoice_reissued": (["Rechnung INV-8101 mit Bestellnummer", "PO-4471"],
                             ["Guten Tag Claire Martin,", "haben wir die Bestellnummer",
                              "- Rechnung INV-8101 trägt jetzt die Bestellnummer, fällig am",
                              "Das Rechnungs-PDF ist angehängt.", "Dieser Link öffnet nur diese Rechnung."]),
    },
}
FRENCH_BAD_DATE = "Choisissez la date à laquelle vous paierez (jour, mois et année)."
ENGLISH_BAD_DATE = "Choose the date you will pay (day, month and year)."
ENGLISH = {
    "promise_broken": ("Your promise to pay INV-8101", "Pay or see the invoices: "),
    "plan_installment_reminder": ("Installment 1 of 3:", "As agreed in your installment plan with"),
    "followup_update": ("We need something from you: INV-8101", "Our team writes: "),
    "invoice_reissued": ("Invoice INV-8101 with PO", "now carries the PO, due"),
}


@pytest.fixture
def account(db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont", timezone="UTC")
    invoice = make_invoice(db, clock, customer, number="INV-8101", total_minor=48_000)
    contact = make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")
    return {"customer": customer, "invoice": invoice, "contact": contact}


@pytest.fixture
def po_mail(app, link_signer, supplier):
    def render_pdf(db, invoice):
        with app.app_context():
            return invoice_pdf(db, invoice)

    return PoMail(supplier=supplier, signer=link_signer, render_pdf=render_pdf)


def queue_the_emails(db, clock, supplier, link_signer, po_mail, account) -> dict[str, OutboxMessage]:
    contact, invoice = account["contact"], account["invoice"]
    promise = make_test_promise(db, clock, contact, [invoice])
    assert queue_broken_notice(db, clock, PromiseMail(supplier, link_signer), promise)
    plan = make_test_plan(db, clock, contact, [invoice], days=5)
    assert queue_reminder(db, clock, supplier, plan, plan.installments[0])
    reported = report_test_payment(db, clock, contact, [invoice])
    assert queue_customer_update(db, clock, FollowupMail(supplier), reported, "question",
                                 text="Please send the bank's remittance & the date.")
    contact_ctx = Context(db, clock, Actor("contact", contact.public_id))
    needs_po = report_needs_po(contact_ctx, contact_access(contact), po_mail, KEEP,
                               invoice_public_ids=[invoice.public_id], request=PoRequest(po_number="PO-4471"),
                               note="", request_key=secrets.token_urlsafe(24), today=clock.now().date())
    staff = make_staff(db, clock)
    apply_po(Context(db, clock, Actor("staff", staff.public_id)), po_mail, KEEP, needs_po.public_id,
             po_number="PO-4471", staff_id=staff.id, today=clock.now().date())
    db.commit()
    emails = {}
    for kind in ENGLISH:
        [email] = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
        assert email.to_address == "compta@dupont.example"
        emails[kind] = email
    return emails


@pytest.mark.parametrize("language", ["fr", "de"])
def test_the_customer_emails_are_in_the_contacts_language(db, clock, supplier, link_signer, po_mail, account,
                                                          language):
    account["contact"].language = language
    db.flush()
    emails = queue_the_emails(db, clock, supplier, link_signer, po_mail, account)
    for kind, (subject_words, body_words) in WORDS[language].items():
        email = emails[kind]
        for word in subject_words:
            assert word in email.subject, (kind, email.subject)
        for word in body_words:
            assert word in email.body_text, (kind, word, email.body_text)
        english_subject, english_body = ENGLISH[kind]
        assert english_subject not in email.subject and english_body not in email.body_text, kind
        assert "Hello" not in email.body_text, kind
    html = emails["promise_broken"].body_html
    assert f'<html lang="{language}">' in html and "Hello" not in html
    assert "Please send the bank&#39;s remittance" not in emails["followup_update"].body_text
    assert '"Please send the bank\'s remittance & the date."' in emails["followup_update"].body_text


def test_an_english_contact_still_gets_them_in_english(db, clock, supplier, link_signer, po_mail, account):
    emails = queue_the_emails(db, clock, supplier, link_signer, po_mail, account)
    for kind, (english_subject, english_body) in ENGLISH.items():
        assert english_subject in emails[kind].subject, (kind, emails[kind].subject)
        assert emails[kind].body_text.startswith("Hello Claire Martin,"), kind
        assert english_body in emails[kind].body_text, kind
    assert '<html lang="en">' in emails["promise_broken"].body_html
    assert "You told us about INV-8101: We already paid it." in emails["followup_update"].body_text


def test_a_bad_promise_date_is_refused_in_french_on_a_french_contacts_page(client, db, clock, account):
    account["contact"].language = "fr"
    db.commit()
    sign_in(client, account["contact"], clock)
    page = f"/promises/new?invoice={account['invoice'].public_id}"
    response = client.post("/promises", data={
        "csrf_token": csrf_for(client, page), "invoice": account["invoice"].public_id,
        "date": "pas une date", "method": "wire", "request_key": secrets.token_urlsafe(24),
    })
    text = unescape(response.get_data(as_text=True))
    assert response.status_code == 400, text[:500]
    assert '<html lang="fr">' in text
    assert FRENCH_BAD_DATE in text and ENGLISH_BAD_DATE not in text


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", "Indiquez le jour où vous avez payé."), ("de", "Geben Sie den Tag ein, an dem Sie bezahlt haben."),
    ("en", "Enter the day you paid."),
])
def test_a_missing_payment_day_asks_for_the_day_paid_in_the_contacts_language(client, db, clock, account,
                                                                               language, expected):
    account["contact"].language = language
    db.commit()
    sign_in(client, account["contact"], clock)
    page = f"/problems/new/already-paid?invoice={account['invoice'].public_id}"
    response = client.post("/problems/already-paid", data={
        "csrf_token": csrf_for(client, page), "invoice": account["invoice"].public_id, "paid_on": "",
        "amount": "480.00", "method": "wire", "reference": "WIRE-1", "request_key": secrets.token_urlsafe(24),
    })
    text = unescape(response.get_data(as_text=True))
    assert response.status_code == 400, text[:500]
    assert expected in text
    assert "Choose the date you will pay" not in text and "Choisissez la date" not in text
