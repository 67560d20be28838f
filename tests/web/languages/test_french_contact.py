"""A French contact reads French: the reminder from the real SMTP sink on 127.0.0.1 (subject,
text and HTML), the pages its link opens, and the invoice PDF; an English one still English."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

from portal.domain.notifications.jobs import DeliveryPolicy, deliver_due
from portal.domain.notifications.transport import SmtpTransport
from portal.domain.reminders.jobs import send_reminders
from portal.domain.reminders.notifications import ReminderMail
from tests.support.documents import pdf_text
from tests.support.factories import make_contact, make_customer, make_invoice, sign_in
from tests.support.fixtures.links import csrf_from, path_of

TODAY = date(2026, 6, 15)
NBSP, NNBSP = "\u00a0", "\u202f"


def _reminder(app, db, clock, supplier, link_signer, smtp_sink, language):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    contact = make_contact(db, clock, customer, email="compta@dupont.example")
    contact.language = language
    due = TODAY - timedelta(days=8)
    invoice = make_invoice(db, clock, customer, number="FA-2026-7", total_minor=123_456, due_date=due,
                           issue_date=due - timedelta(days=30))
    send_reminders(db, clock, ReminderMail(supplier, link_signer))
    db.commit()
    deliver_due(db, clock, SmtpTransport(smtp_sink.host, smtp_sink.port), mail_from="billing@northwind.example",
                policy=DeliveryPolicy(batch_size=10, lease=timedelta(minutes=5), max_attempts=3))
    db.commit()
    [mail] = smtp_sink.wait_for(1)
    return contact, invoice, mail


def test_a_french_contacts_reminder_and_the_pages_it_opens_are_in_french(app, db, clock, supplier, link_signer,
                                                                          smtp_sink):
    contact, invoice, mail = _reminder(app, db, clock, supplier, link_signer, smtp_sink, "fr")
    amount = f"1{NNBSP}234,56{NBSP}$US"
    # A subject is one line, and keeps its no-break spaces: no line starts with the colon.
    assert mail.subject == f"Factures en retard{NBSP}: merci de régler {amount}"
    assert "Bonjour Fromagerie Dupont," in mail.text
    assert f"- FA-2026-7, échéance le {7} juin 2026\u00a0: {amount}" in mail.text
    assert "- Nous l'avons déjà payée\u00a0: " in mail.text and "Ces liens n'ouvrent que ces factures." in mail.text
    assert '<html lang="fr">' in mail.html and "Payer 1" in mail.html
    assert "Please pay" not in mail.text and "overdue" not in mail.text

    [url] = {u for u in re.findall(r"https?://\S+", mail.text) if "reminders%2Fact" in u}
    client = app.test_client()
    confirm = client.get(path_of(url))
    body = unescape(confirm.get_data(as_text=True))
    assert '<html lang="fr">' in body and "Continuer" in body
    [next_path] = re.findall(r'name="next" value="([^"]+)"', body)
    landed = client.post(path_of(url), data={"csrf_token": csrf_from(confirm), "next": unescape(next_path)})
    page = unescape(client.get(landed.headers["Location"]).get_data(as_text=True))
    assert '<html lang="fr">' in page and "Factures à régler" in page
    assert f">Payer {amount}</a>" in page and ">Contester</a>" in page


def test_a_french_contacts_invoice_pdf_is_in_french(client, db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    contact = make_contact(db, clock, customer)
    contact.language = "fr"
    invoice = make_invoice(db, clock, customer, number="FA-2026-8", total_minor=250_000, currency="EUR")
    sign_in(client, contact, clock)
    response = client.get(f"/invoices/{invoice.public_id}/pdf")
    assert response.status_code == 200
    text = " ".join(pdf_text(response.data).split()).lower()
    for words in ("facture", "facturé à", "solde dû", "date d'échéance", "page 1 sur 1", "2 500,00 €"):
        assert words in text
    assert "balance due" not in text and "bill to" not in text


def test_an_english_contact_still_reads_english(app, db, clock, supplier, link_signer, smtp_sink):
    _contact, _invoice, mail = _reminder(app, db, clock, supplier, link_signer, smtp_sink, None)
    assert mail.subject == "Overdue invoices: please pay $1,234.56"
    assert "Hello Fromagerie Dupont," in mail.text and "Bonjour" not in mail.text


def test_a_german_contacts_pay_page(client, db, clock):
    customer = make_customer(db, clock, name="Müller GmbH")
    contact = make_contact(db, clock, customer)
    contact.language = "de"
    invoice = make_invoice(db, clock, customer, number="RE-1", total_minor=123_456, currency="EUR")
    sign_in(client, contact, clock)
    page = unescape(client.get(f"/pay?invoice={invoice.public_id}").get_data(as_text=True))
    assert '<html lang="de">' in page
    assert f"1.234,56{NBSP}€ bezahlen" in page and "Offener Betrag" in page
    # The amount field keeps the format it is read back in.
    assert f'id="amount-{invoice.public_id}" name="amount-{invoice.public_id}"' in page
    assert re.search(rf'id="amount-{invoice.public_id}"[^>]*value="1,234.56"', page.replace("\n", " "))
