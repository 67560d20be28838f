"""The card journey end to end against a real localstripe, through the real SDK over HTTP."""

from __future__ import annotations

import time
from datetime import datetime, UTC

import pytest
from sqlalchemy import select

from portal.domain.ledger.models import InvoiceEntry
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.models import StripeEvent
from tests.support.factories import make_invoice, make_invoice_link, sign_in
from tests.support.fixtures.stripe import CARD_3DS, CARD_DECLINED, CARD_OK, stripe_event
from tests.support.paying import make_company
from tests.support.paying import (
    balance, counts, open_pay_page, pay, pay_form, payment_by_public_id, post_event, post_payment,
)

pytestmark = pytest.mark.stripe


def _wait_for(condition, seconds: float = 8.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_pay_page_shows_the_chosen_invoices_and_loads_stripe_js(signed_in, company, settings):
    response = signed_in.get("/pay", query_string=[("invoice", i.public_id) for i in company.invoices])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for invoice in company.invoices:
        assert invoice.number in html
        assert f'name="amount-{invoice.public_id}"' in html
    assert 'value="125.00"' in html and 'value="80.00"' in html
    assert "$205.00" in html  # the total the page starts with
    assert f'<script src="{settings.stripe_js_url}"></script>' in html
    assert "/static/js/pay.js" in html
    assert "<script>" not in html  # CSP: no inline scripts


def test_two_invoices_paid_by_card_settle_only_when_the_webhook_arrives(client, db, clock, localstripe):
    # localstripe signs its deliveries with the wall clock: the app's clock must agree.
    clock.set(datetime.now(UTC))
    company = make_company(db, clock, 12_500, 8_000)
    sign_in(client, company.clerk, clock)
    first, second = company.invoices

    response = pay(client, {first: "125.00", second: "30.00"}, localstripe.card_token(CARD_OK),
                   **{f"reason-{second.public_id}": "Partial payment", "po_number": "PO-7781", "memo": "May run"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "processing"  # Stripe took the money; the webhook has not said so yet
    payment = payment_by_public_id(db, body["payment_url"].rsplit("/", 1)[1])
    assert (balance(db, first), balance(db, second)) == (12_500, 8_000)
    [intent] = localstripe.intents()
    assert (intent["id"], intent["amount"], intent["currency"], intent["status"]) == (
        payment.stripe_payment_intent_id, 15_500, "usd", "succeeded")
    assert "Processing" in client.get(body["payment_url"]).get_data(as_text=True)

    # No webhook is registered in this test: post the very event localstripe generated.
    [event] = localstripe.events("payment_intent.succeeded")
    response = post_event(client, stripe_event("payment_intent.succeeded", event["data"]["object"],
                                               event_id=event["id"], created=event["created"]), event["created"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["outcome"] == "processing -> succeeded"
    assert (balance(db, first), balance(db, second)) == (0, 5_000)
    payment = payment_by_public_id(db, payment.public_id)
    assert payment.status == "succeeded" and payment.settled_at is not None
    [receipt] = db.scalars(select(OutboxMessage)).all()
    assert receipt.to_address == company.clerk.email
    assert receipt.cc_addresses == company.ap_mailbox.email
    assert first.number in receipt.body_text and "PO-7781" in receipt.body_text
    assert "$50.00 still open" in receipt.body_text

    page = client.get(body["payment_url"]).get_data(as_text=True)
    assert "Paid." in page
    history = client.get("/payments").get_data(as_text=True)
    assert payment.public_id in history and "$155.00" in history and "PO-7781" in history


def test_webhook_delivered_by_localstripe_itself_settles_the_payment(
        app, client, db, clock, localstripe, live_server):
    clock.set(datetime.now(UTC))
    company = make_company(db, clock, 12_500, 8_000)
    sign_in(client, company.clerk, clock)
    localstripe.register_webhook(f"{live_server.url}/stripe/webhook")

    first, second = company.invoices
    response = pay(client, {first: "125.00", second: "80.00"}, localstripe.card_token(CARD_OK))
    assert response.status_code == 200, response.get_json()
    public_id = response.get_json()["payment_url"].rsplit("/", 1)[1]

    # localstripe POSTs payment_intent.succeeded ~1 s later, signed, to the running app.
    _wait_for(lambda: payment_by_public_id(db, public_id).status == "succeeded")
    assert [balance(db, invoice) for invoice in company.invoices] == [0, 0]
    # (An earlier test's delivery may land here too, ~1 s late: it is ignored as unknown.)
    payment = payment_by_public_id(db, public_id)
    events = db.scalars(select(StripeEvent).where(StripeEvent.payment_id == payment.id)).all()
    assert [(e.type, e.outcome) for e in events] == [("payment_intent.succeeded", "processing -> succeeded")]
    assert len(db.scalars(select(OutboxMessage)).all()) == 1


def test_declined_card_shows_stripes_message_and_changes_nothing(signed_in, db, company, localstripe):
    first = company.invoices[0]
    before = counts(db)
    response = pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_DECLINED))
    body = response.get_json()
    assert response.status_code == 402
    assert body["error"] == "Your card was declined."
    assert balance(db, first) == 12_500
    after = counts(db)
    assert after["entries"] == before["entries"] and after["outbox"] == before["outbox"]
    payment = payment_by_public_id(db, body["payment_url"].rsplit("/", 1)[1])
    assert payment.status == "failed" and payment.failure_message == "Your card was declined."
    # Nothing is reserved: the same invoice can be paid again right away, with another card.
    response = pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_OK))
    assert response.status_code == 200, response.get_json()


def test_3ds_card_requires_action_then_settles_after_authentication(signed_in, db, clock, company, localstripe):
    first = company.invoices[0]
    response = pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_3DS))
    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "requires_action"
    public_id = body["payment_url"].rsplit("/", 1)[1]
    payment = payment_by_public_id(db, public_id)
    assert body["client_secret"] == payment.client_secret
    assert localstripe.intent(payment.stripe_payment_intent_id)["status"] == "requires_action"

    # The browser completes 3-D Secure (confirmCardPayment); Stripe then tells us by webhook.
    intent = localstripe.authenticate(body["client_secret"], success=True)
    assert intent["status"] == "succeeded"
    assert payment_by_public_id(db, public_id).status == "requires_action"  # the browser settles nothing
    timestamp = int(clock.now().timestamp())
    response = post_event(signed_in, stripe_event("payment_intent.succeeded", intent, created=timestamp), timestamp)
    assert response.status_code == 200
    assert payment_by_public_id(db, public_id).status == "succeeded"
    assert balance(db, first) == 0


def test_failed_authentication_cancels_the_attempt_and_frees_the_amount(signed_in, db, company, localstripe):
    first = company.invoices[0]
    second_tab = open_pay_page(signed_in, [first])
    body = pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_3DS)).get_json()
    localstripe.authenticate(body["client_secret"], success=False)

    # While the attempt is open, its amount is reserved: another tab cannot pay it.
    refused = post_payment(signed_in, pay_form(second_tab, {first: "125.00"}, localstripe.card_token(CARD_OK)))
    assert refused.status_code == 400 and "in progress" in refused.get_json()["error"]
    assert "already have a payment in progress" in signed_in.get(
        "/pay", query_string={"invoice": first.public_id}).get_data(as_text=True)

    response = signed_in.post(body["cancel_url"], headers={"X-CSRFToken": second_tab["csrf_token"],
                                                           "Accept": "application/json"})
    assert response.status_code == 200 and response.get_json()["status"] == "canceled"
    payment = payment_by_public_id(db, body["payment_url"].rsplit("/", 1)[1])
    assert localstripe.intent(payment.stripe_payment_intent_id)["status"] == "canceled"
    assert pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_OK)).status_code == 200


def test_cancel_is_refused_once_the_payment_went_through(signed_in, db, company, localstripe):
    body = pay(signed_in, {company.invoices[0]: "125.00"}, localstripe.card_token(CARD_OK)).get_json()
    page = open_pay_page(signed_in, company.invoices[1:])
    cancel_url = body["payment_url"] + "/cancel"
    response = signed_in.post(cancel_url, headers={"X-CSRFToken": page["csrf_token"]})
    assert response.status_code == 409
    assert payment_by_public_id(db, body["payment_url"].rsplit("/", 1)[1]).status == "processing"


def test_another_companys_payment_is_not_found(client, db, clock, company, localstripe):
    other = make_company(db, clock, 9_900)
    sign_in(client, other.clerk, clock)
    body = pay(client, {other.invoices[0]: "99.00"}, localstripe.card_token(CARD_OK)).get_json()
    other_payment_url = body["payment_url"]

    sign_in(client, company.clerk, clock)
    csrf = open_pay_page(client, company.invoices)["csrf_token"]
    assert client.get(other_payment_url).status_code == 404
    assert client.get(other_payment_url + "/status").status_code == 404
    assert client.post(other_payment_url + "/cancel", headers={"X-CSRFToken": csrf}).status_code == 404
    assert other_payment_url.rsplit("/", 1)[1] not in client.get("/payments").get_data(as_text=True)
    assert client.get("/pay", query_string={"invoice": other.invoices[0].public_id}).status_code == 404


def test_forwarded_invoice_link_pays_only_its_own_invoices(client, db, clock, company, localstripe):
    first, second = company.invoices
    link = make_invoice_link(db, clock, company.clerk, [first])
    sign_in(client, company.clerk, clock, link=link)

    assert client.get("/pay", query_string={"invoice": second.public_id}).status_code == 404
    page = open_pay_page(client, [first])
    response = post_payment(client, pay_form(page, {second: "80.00"}, localstripe.card_token(CARD_OK)))
    assert response.status_code == 400
    assert "not part of your account" in response.get_json()["error"]

    response = post_payment(client, pay_form(page, {first: "125.00"}, localstripe.card_token(CARD_OK)))
    assert response.status_code == 200
    assert client.get(response.get_json()["payment_url"]).status_code == 200
    assert client.get("/payments").status_code == 403  # the history is for the whole account


def test_requires_sign_in(client, company):
    response = client.get("/pay", query_string={"invoice": company.invoices[0].public_id})
    assert response.status_code == 302 and "/signed-out" in response.headers["Location"]
    assert client.post("/pay", data={}).status_code in (302, 400)


def test_paid_invoices_offer_nothing_to_pay(signed_in, db, clock, company):
    invoice = make_invoice(db, clock, company.customer, total_minor=5_000)
    db.add(InvoiceEntry(invoice_id=invoice.id, kind="credit_note", amount_minor=-5_000, created_at=clock.now()))
    db.commit()
    html = signed_in.get("/pay", query_string={"invoice": invoice.public_id}).get_data(as_text=True)
    assert "paid or already have a payment in progress" in html
    assert 'id="pay-form"' not in html
