"""No transaction stays open while Stripe answers (ARCHITECTURE.md, "Payments").

The gateway here answers only when the test releases it. While a pay request waits inside
its Stripe call, a webhook and a sign-in, both of which write, must complete: on SQLite the pay
request would otherwise hold the database's only write lock, and on PostgreSQL the customer's
row lock. The test decides the order with events, not timings.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from portal.domain.access.service import issue_sign_in_link
from portal.domain.payments.models import Payment, StripeEvent
from tests.support.fixtures.links import csrf_for, path_of
from tests.support.fixtures.stripe import intent_object, signed_headers, stripe_event
from tests.support.paying import open_pay_page, pay_form, post_payment


@pytest.fixture
def gateway(fake_gateway):
    return fake_gateway


def test_a_webhook_and_a_sign_in_complete_while_stripe_is_slow(app, signed_in, db, clock, company, fake_gateway,
                                                               link_signer):
    fake_gateway.answer_when = threading.Event()
    page = open_pay_page(signed_in, company.invoices[:1])
    form = pay_form(page, {company.invoices[0]: "125.00"}, "tok_visa")
    issued = issue_sign_in_link(db, clock, link_signer, contact=company.clerk)
    db.commit()
    visitor = app.test_client()
    confirm = path_of(issued.url)
    visitor_csrf = csrf_for(visitor, confirm)

    with ThreadPoolExecutor(max_workers=1) as pool:
        paying = pool.submit(post_payment, signed_in, form)
        assert fake_gateway.create_waiting.wait(timeout=10), "the pay request never reached Stripe"

        # Meanwhile: a signed webhook (it records its event id: a write) ...
        payload = stripe_event("payment_intent.succeeded", intent_object("pi_elsewhere", "succeeded", 500, "USD"))
        webhook = app.test_client().post("/stripe/webhook", data=payload,
                                         headers=signed_headers(payload, int(clock.now().timestamp())))
        # ... and a clerk signing in (the link is consumed: a write).
        signing_in = visitor.post(confirm, data={"csrf_token": visitor_csrf})
        still_waiting = not paying.done()
        fake_gateway.answer_when.set()
        paid = paying.result(timeout=30)

    assert still_waiting, "the pay request finished before the others ran: the test proved nothing"
    assert webhook.status_code == 200 and webhook.get_json()["outcome"] == "ignored: unknown payment intent"
    assert signing_in.status_code == 302
    assert paid.status_code == 200 and paid.get_json()["status"] == "processing"
    db.commit()
    assert db.scalar(select(StripeEvent.outcome)) == "ignored: unknown payment intent"
    [payment] = db.scalars(select(Payment)).all()
    assert payment.stripe_payment_intent_id is not None and payment.gateway_call_until is None
