"""`reconcile-stripe` repairs what missed webhooks left (SECURITY.md W6)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.app import create_app
from tests.support.fixtures.app import commits_arranged_data
from portal.domain.gateway.protocol import IntentSnapshot
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.models import Payment
from portal.domain.core.context import Context
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.payments.jobs import RECONCILER, reconcile_payments
from tests.support.factories import make_allocated_payment, sign_in
from tests.support.fixtures.stripe import CARD_3DS, CARD_OK
from tests.support.paying import (
    balance, counts, open_pay_page, pay, pay_form, payment_by_public_id, post_payment,
)

SUPPLIER = SupplierDetails(name="Northwind Supplies", email="billing@northwind.example", portal_url="http://localhost")


def reconcile(db, clock, gateway):
    """What `flask reconcile-stripe` does: the job, then the command runner's commit."""
    report = reconcile_payments(Context(db, clock, RECONCILER), gateway, SUPPLIER)
    db.commit()
    return report


def _public_id(response) -> str:
    return response.get_json()["payment_url"].rsplit("/", 1)[1]


def test_webhook_missed_payment_succeeded_reconcile_settles_it_once(app, signed_in, db, company, localstripe):
    first, second = company.invoices
    response = pay(signed_in, {first: "125.00", second: "80.00"}, localstripe.card_token(CARD_OK))
    public_id = _public_id(response)
    # No webhook reaches the app (none is registered): the payment stays "processing".
    assert payment_by_public_id(db, public_id).status == "processing"

    runner = app.test_cli_runner()
    result = runner.invoke(args=["reconcile-stripe"])
    assert result.exit_code == 0, result.output
    assert "checked 1 payment(s) in flight, changed 1" in result.output
    assert "processing -> succeeded" in result.output
    assert (balance(db, first), balance(db, second)) == (0, 0)
    assert payment_by_public_id(db, public_id).status == "succeeded"
    assert len(db.scalars(select(OutboxMessage)).all()) == 1

    before = counts(db)
    again = runner.invoke(args=["reconcile-stripe"])
    assert again.exit_code == 0
    assert "checked 0 payment(s) in flight, changed 0" in again.output
    assert counts(db) == before


def test_reconcile_finishes_3ds_payments_either_way(signed_in, db, clock, gateway, company, localstripe):
    first, second = company.invoices
    passed = pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_3DS)).get_json()
    failed = pay(signed_in, {second: "80.00"}, localstripe.card_token(CARD_3DS)).get_json()
    localstripe.authenticate(passed["client_secret"], success=True)
    localstripe.authenticate(failed["client_secret"], success=False)

    report = reconcile(db, clock, gateway)
    assert report.checked == 2 and report.problems == []
    assert sorted(line.split(": ", 1)[1] for line in report.changed) == [
        "requires_action -> failed", "requires_action -> succeeded"]
    assert (balance(db, first), balance(db, second)) == (0, 8_000)
    assert reconcile(db, clock, gateway).changed == []


def test_intent_deleted_at_stripe_is_reported_not_guessed(app, signed_in, db, company, localstripe):
    public_id = _public_id(pay(signed_in, {company.invoices[0]: "125.00"}, localstripe.card_token(CARD_OK)))
    localstripe.wipe()  # Stripe no longer knows the intent
    result = app.test_cli_runner().invoke(args=["reconcile-stripe"])
    assert result.exit_code == 1
    assert f"PROBLEM: {public_id}: Stripe could not be read" in result.output
    assert payment_by_public_id(db, public_id).status == "processing"


def test_amount_mismatch_at_stripe_is_a_problem_not_a_settlement(db, clock, company, fake_gateway):
    payment = make_allocated_payment(db, clock, company.customer, [(company.invoices[0], 12_500)])
    fake_gateway.intents["pi_short"] = IntentSnapshot(
        id="pi_short", status="succeeded", amount=12_499, currency="USD", livemode=False)
    payment.stripe_payment_intent_id = "pi_short"
    db.commit()
    report = reconcile(db, clock, fake_gateway)
    assert report.problems == [f"{payment.public_id}: intent pi_short amount 12499 where 12500 expected"]
    assert balance(db, company.invoices[0]) == 12_500


# --- attempts that never stored their intent id (a timeout), with the fake gateway --------


@pytest.fixture
def fake_app(settings, clock, engine, fake_gateway, db):
    return commits_arranged_data(create_app(settings, clock=clock, gateway=fake_gateway, engine=engine), db)


def test_timed_out_attempt_is_found_at_stripe_and_settled_once_stale(fake_app, db, clock, company, fake_gateway):
    client = fake_app.test_client()
    sign_in(client, company.clerk, clock)
    fake_gateway.unavailable_after_create = 1  # Stripe created and charged; we never heard back
    page = open_pay_page(client, company.invoices[:1])
    response = post_payment(client, pay_form(page, {company.invoices[0]: "125.00"}, "tok_visa"))
    assert response.status_code == 503
    public_id = _public_id(response)

    young = reconcile(db, clock, fake_gateway)
    assert young.checked == 0  # its request might still be running

    clock.advance(minutes=16)
    report = reconcile(db, clock, fake_gateway)
    [intent] = fake_gateway.intents.values()
    assert report.changed == [f"{public_id}: found intent {intent.id}; new -> succeeded"]
    payment = payment_by_public_id(db, public_id)
    assert (payment.status, payment.stripe_payment_intent_id) == ("succeeded", intent.id)
    assert balance(db, company.invoices[0]) == 0
    assert reconcile(db, clock, fake_gateway).changed == []


def test_attempt_that_never_reached_stripe_is_canceled_and_releases_the_amount(fake_app, db, clock, company, fake_gateway):
    client = fake_app.test_client()
    sign_in(client, company.clerk, clock)
    fake_gateway.unavailable_before_create = 1
    page = open_pay_page(client, company.invoices[:1])
    response = post_payment(client, pay_form(page, {company.invoices[0]: "125.00"}, "tok_visa"))
    assert response.status_code == 503

    clock.advance(minutes=16)
    report = reconcile(db, clock, fake_gateway)
    assert report.changed == [f"{_public_id(response)}: new -> canceled (no PaymentIntent at Stripe)"]
    assert fake_gateway.intents_created == 0
    sign_in(client, company.clerk, clock)  # the clock moved: a fresh session
    again = post_payment(client, pay_form(open_pay_page(client, company.invoices[:1]),
                                          {company.invoices[0]: "125.00"}, "tok_visa"))
    assert again.status_code == 200
    assert len(db.scalars(select(Payment)).all()) == 2


def test_abandoned_3ds_attempt_is_canceled_after_an_hour_and_releases_the_amount(
        signed_in, db, clock, gateway, company, localstripe):
    first = company.invoices[0]
    body = pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_3DS)).get_json()
    payment = payment_by_public_id(db, body["payment_url"].rsplit("/", 1)[1])

    assert reconcile(db, clock, gateway).changed == []  # the customer may still be at it
    clock.advance(minutes=61)
    report = reconcile(db, clock, gateway)
    assert report.changed == [f"{payment.public_id}: requires_action -> canceled"]
    assert localstripe.intent(payment.stripe_payment_intent_id)["status"] == "canceled"
    sign_in(signed_in, company.clerk, clock)
    assert pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_OK)).status_code == 200
