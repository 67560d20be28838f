"""One payment, one reference: the status page, the history, the invoice page and its PDF, the
receipt email (text and HTML), the receipt PDF and the statement all name the same
"PAY-YYYY-NNNNNN", and none of them shows a Stripe id. Paid for real against localstripe."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.policy import REFERENCE_PATTERN
from tests.support.documents import STRIPE_ID, pdf_text
from tests.support.factories import sign_in
from tests.support.fixtures.stripe import CARD_OK, stripe_event
from tests.support.paying import make_company, pay, payment_by_public_id, post_event

pytestmark = pytest.mark.stripe


def _settled_payment(client, db, clock, localstripe):
    """Pay 125.00 (in full) and 30.00 (of 80.00) by card; deliver localstripe's own event."""
    clock.set(datetime.now(UTC))  # localstripe's events carry the wall clock
    company = make_company(db, clock, 12_500, 8_000)
    sign_in(client, company.clerk, clock)
    first, second = company.invoices
    response = pay(client, {first: "125.00", second: "30.00"}, localstripe.card_token(CARD_OK),
                   **{f"reason-{second.public_id}": "Partial payment", "po_number": "PO-7781"})
    assert response.status_code == 200, response.get_json()
    public_id = response.get_json()["payment_url"].rsplit("/", 1)[1]
    [event] = localstripe.events("payment_intent.succeeded")
    delivered = post_event(client, stripe_event("payment_intent.succeeded", event["data"]["object"],
                                                event_id=event["id"], created=event["created"]), event["created"])
    assert delivered.status_code == 200, delivered.get_json()
    payment = payment_by_public_id(db, public_id)
    assert payment.status == "succeeded"
    return company, payment


def test_every_page_email_and_pdf_of_a_payment_names_its_one_reference_and_no_stripe_id(
        client, db, clock, localstripe):
    company, payment = _settled_payment(client, db, clock, localstripe)
    reference = payment.reference
    assert REFERENCE_PATTERN.match(reference), reference
    stripe_ids = {payment.stripe_payment_intent_id, payment.client_secret}
    assert all(stripe_ids) and payment.stripe_payment_intent_id.startswith("pi_")
    first, second = company.invoices

    def page(url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200, url
        return response.get_data(as_text=True)

    def pdf(url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "application/pdf", url
        return pdf_text(response.data)

    [receipt] = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "payment_receipt")).all()
    documents = {
        "status page": page(f"/payments/{payment.public_id}"),
        "history": page("/payments"),
        "invoice page (paid in full)": page(f"/invoices/{first.public_id}"),
        "invoice page (partly paid)": page(f"/invoices/{second.public_id}"),
        "invoice PDF": pdf(f"/invoices/{first.public_id}/pdf"),
        "receipt email subject": receipt.subject,
        "receipt email text": receipt.body_text,
        "receipt email HTML": receipt.body_html,
        "receipt PDF": pdf(f"/payments/{payment.public_id}/receipt.pdf"),
        "statement PDF": pdf("/account/statement.pdf"),
    }
    for name, text in documents.items():
        if name != "receipt email subject":
            assert reference in text, f"{reference} missing from the {name}"
        assert not STRIPE_ID.search(text), f"a Stripe id on the {name}: {STRIPE_ID.search(text).group(0)}"
        for stripe_id in stripe_ids:
            assert stripe_id not in text, f"{stripe_id} on the {name}"
        # No other payment reference sneaks in (e.g. a ledger reference of another attempt).
        assert set(re.findall(r"PAY-\d{4}-\d{6,}", text)) <= {reference}, name

    # The history links the reference to the payment's page.
    assert re.search(rf'<a href="/payments/{payment.public_id}">\s*{reference}\s*</a>', documents["history"])


def test_the_receipt_says_what_an_ap_clerk_files(client, db, clock, localstripe, settings):
    company, payment = _settled_payment(client, db, clock, localstripe)
    [receipt] = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "payment_receipt")).all()
    assert receipt.subject == "Your receipt: $155.00 paid to Northwind Supplies"
    # The card as localstripe reported it through the expanded payment method.
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    paid_at = payment.settled_at.astimezone(ZoneInfo(company.customer.timezone))
    when = paid_at.strftime("%d %b %Y, %H:%M %Z")
    pdf = pdf_text(client.get(f"/payments/{payment.public_id}/receipt.pdf").data)
    for name, text in {"text": receipt.body_text, "HTML": receipt.body_html, "PDF": pdf}.items():
        assert when in text, name
        assert "Visa ending in 4242" in text, name
        for line in (*settings.supplier_address, settings.supplier_tax_id):
            assert line in text, f"{line!r} missing from the receipt {name}"
        assert "$155.00" in text and company.invoices[0].number in text, name
    assert "<title>Your receipt: $155.00 paid to Northwind Supplies" in receipt.body_html
    pdf_url = f"http://localhost/payments/{payment.public_id}/receipt.pdf"
    assert f"Download receipt (PDF): {pdf_url}" in receipt.body_text
    assert re.search(rf'<a href="{re.escape(pdf_url)}"[^>]*>Download receipt \(PDF\)</a>', receipt.body_html)


def test_the_receipt_link_sends_a_recipient_without_a_session_through_sign_in(
        app, client, db, clock, localstripe):
    company, payment = _settled_payment(client, db, clock, localstripe)
    path = f"/payments/{payment.public_id}/receipt.pdf"
    stranger = app.test_client()
    response = stranger.get(path)
    assert response.status_code == 302
    assert "/signed-out" in response.location and "next=" in response.location
    sign_in(stranger, company.ap_mailbox, clock)  # the AP mailbox on CC signs in ...
    response = stranger.get(path)  # ... and the same link now gives the PDF
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert payment.reference in pdf_text(response.data)
    assert f'filename="receipt-{payment.reference}.pdf"' in response.headers["Content-Disposition"]


def test_another_company_gets_404_for_the_receipt(app, client, db, clock, localstripe):
    _company, payment = _settled_payment(client, db, clock, localstripe)
    other = make_company(db, clock, 1_000)
    outsider = app.test_client()
    sign_in(outsider, other.clerk, clock)
    assert outsider.get(f"/payments/{payment.public_id}/receipt.pdf").status_code == 404
    assert outsider.get(f"/payments/{payment.public_id}").status_code == 404
