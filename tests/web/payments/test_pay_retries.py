"""One charge per request, whatever the browser or the network does (SECURITY.md P1, P2).

These use the in-process fake gateway: it times out on demand (after creating the intent, as
Stripe can) and answers slowly so that concurrent requests overlap; it counts create calls.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

import pytest
from sqlalchemy import select

from portal.domain.payments.models import Payment, PaymentAllocation
from tests.support.factories import make_contact, sign_in
from tests.support.paying import open_pay_page, pay_form, payment_by_public_id, post_payment


@pytest.fixture
def gateway(fake_gateway):
    return fake_gateway


def test_same_form_posted_twice_is_one_attempt_and_one_intent(signed_in, db, company, fake_gateway):
    page = open_pay_page(signed_in, company.invoices)
    form = pay_form(page, {company.invoices[0]: "125.00", company.invoices[1]: "80.00"}, "tok_threeDSecureRequired")
    first = post_payment(signed_in, form).get_json()
    second = post_payment(signed_in, form).get_json()
    assert first["status"] == second["status"] == "requires_action"
    assert first["client_secret"] == second["client_secret"]
    assert first["payment_url"] == second["payment_url"]
    assert fake_gateway.create_calls == 1
    assert len(db.scalars(select(Payment)).all()) == 1


def test_timeout_after_stripe_created_the_intent_is_retried_with_the_same_key(signed_in, db, company, fake_gateway):
    """P2: the key was committed before the call; the retry reuses it and gets the same intent."""
    fake_gateway.unavailable_after_create = 1
    page = open_pay_page(signed_in, company.invoices[:1])
    form = pay_form(page, {company.invoices[0]: "125.00"}, "tok_visa")

    response = post_payment(signed_in, form)
    assert response.status_code == 503 and response.get_json()["retry"] is True
    public_id = response.get_json()["payment_url"].rsplit("/", 1)[1]
    payment = payment_by_public_id(db, public_id)
    assert payment.status == "new" and payment.stripe_payment_intent_id is None
    key = payment.idempotency_key
    [intent] = fake_gateway.intents.values()  # Stripe did create it

    retry = post_payment(signed_in, form)
    assert retry.status_code == 200 and retry.get_json()["status"] == "processing"
    payment = payment_by_public_id(db, public_id)
    assert (payment.stripe_payment_intent_id, payment.idempotency_key) == (intent.id, key)
    assert fake_gateway.create_calls == 2 and fake_gateway.intents_created == 1

    # A changed amount is another request (new key), but the first still holds the money.
    other = post_payment(signed_in, pay_form(page, {company.invoices[0]: "100.00"}, "tok_visa",
                                             **{f"reason-{company.invoices[0].public_id}": "Partial payment"}))
    assert other.status_code == 400
    assert fake_gateway.intents_created == 1


def test_timeout_before_reaching_stripe_keeps_the_attempt_for_the_retry(signed_in, db, company, fake_gateway):
    fake_gateway.unavailable_before_create = 1
    page = open_pay_page(signed_in, company.invoices[:1])
    form = pay_form(page, {company.invoices[0]: "125.00"}, "tok_visa")
    assert post_payment(signed_in, form).status_code == 503
    assert fake_gateway.intents_created == 0
    assert post_payment(signed_in, form).status_code == 200
    assert fake_gateway.intents_created == 1
    assert len(db.scalars(select(Payment)).all()) == 1


def _clone_session(source, app):
    """A second client sharing `source`'s session cookie (a second tab of the same browser)."""
    client = app.test_client()
    cookie = source.get_cookie("portal_session")
    client.set_cookie("portal_session", cookie.value)
    return client


@pytest.mark.postgres_only
def test_ten_concurrent_posts_of_one_form_make_one_intent_with_one_client_secret(app, signed_in, db, company, fake_gateway):
    """P1: double clicks and retries racing each other (the same form, the same nonce)."""
    # Stripe answers the first call only once the nine other requests have been answered, so
    # every one of them arrives while the first waits, however slowly a loaded machine runs them
    # (a fixed delay let a late request find the recorded intent instead).
    fake_gateway.answer_when = threading.Event()
    page = open_pay_page(signed_in, company.invoices)
    form = pay_form(page, {company.invoices[0]: "125.00", company.invoices[1]: "80.00"}, "tok_threeDSecureRequired")
    clients = [_clone_session(signed_in, app) for _ in range(10)]

    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(post_payment, c, form) for c in clients]
        for answered, _future in enumerate(as_completed(futures), start=1):
            if answered == 9:
                fake_gateway.answer_when.set()
        responses = [future.result() for future in futures]

    # One request calls Stripe; the others, arriving while it waits (with no transaction open,
    # so nothing can queue behind a lock), are told to retry, which the page does by itself.
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [503] * 9
    assert all(r.get_json()["retry"] is True for r in responses if r.status_code == 503)
    retries = [post_payment(c, form) for c in clients]
    assert [r.status_code for r in retries] == [200] * 10
    secrets = {r.get_json()["client_secret"] for r in retries + [r for r in responses if r.status_code == 200]}
    assert len(secrets) == 1
    assert fake_gateway.create_calls == 1 and fake_gateway.intents_created == 1
    [payment] = db.scalars(select(Payment)).all()
    assert payment.client_secret in secrets
    assert len(db.scalars(select(PaymentAllocation)).all()) == 2


@pytest.mark.postgres_only
def test_ten_clerks_paying_the_same_invoice_at_once_make_one_charge(app, client, db, clock, company, fake_gateway):
    """P1: different forms (two tabs, two clerks) racing for the same open balance."""
    fake_gateway.create_delay = 0.1
    clerks = [company.clerk] + [make_contact(db, clock, company.customer) for _ in range(9)]
    forms, clients = [], []
    for clerk in clerks:
        c = app.test_client()
        sign_in(c, clerk, clock)
        forms.append(pay_form(open_pay_page(c, company.invoices[:1]), {company.invoices[0]: "125.00"}, "tok_visa"))
        clients.append(c)

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda pair: post_payment(*pair), zip(clients, forms, strict=True)))

    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [400] * 9
    assert all("in progress" in r.get_json()["error"] for r in responses if r.status_code == 400)
    assert fake_gateway.intents_created == 1
    assert len(db.scalars(select(Payment)).all()) == 1
