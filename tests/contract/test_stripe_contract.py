"""Every request the real dialect sends, in every scenario, checked against the parameter types
the installed `stripe` package generates for its pinned API version, and Stripe's documented
limits (tests/contract/sdk_params.py). An SDK bump to another API version fails here first."""

from __future__ import annotations

import pytest

from portal.domain.core.context import Context
from portal.domain.gateway.stripe_adapter import STRIPE_API_VERSION
from portal.domain.payments.jobs import RECONCILER, reconcile_payments
from sqlalchemy import select

from portal.domain.methods.models import SavedMethod
from tests.contract.sdk_params import check_request
from tests.support.fixtures.stripe import stripe_event
from tests.support.paying import make_company
from tests.support.factories import sign_in
from tests.support.paying import open_pay_page, pay, pay_form, payment_by_public_id, post_event, post_payment

pytestmark = pytest.mark.stripe_contract


@pytest.fixture
def company(db, clock):
    return make_company(db, clock, 12_500, 8_000)


@pytest.fixture
def clerk(client, company, clock):
    sign_in(client, company.clerk, clock)
    return client


@pytest.fixture(autouse=True)
def every_request_fits_the_pinned_api(stripe_recorder):
    yield
    recorded = stripe_recorder.recorder.requests
    assert recorded, "the scenario sent nothing to Stripe"
    problems = [p for r in recorded for p in check_request(r.method, r.path, r.params, r.headers, STRIPE_API_VERSION)]
    assert problems == []


def _creates(stripe_recorder):
    return [r for r in stripe_recorder.recorder.requests if (r.method, r.path) == ("POST", "/v1/payment_intents")]


def test_pay_one_invoice(clerk, company, stripe_recorder, settings):
    response = pay(clerk, {company.invoices[0]: "125.00"}, "ctoken_ok_1")
    assert response.status_code == 200, response.get_json()
    [create] = _creates(stripe_recorder)
    assert create.params["confirmation_token"] == "ctoken_ok_1"
    assert create.params["amount"] == "12500" and create.params["currency"] == "usd"
    public_id = response.get_json()["payment_url"].rsplit("/", 1)[1]
    assert create.params["return_url"] == f"{settings.public_url}/payments/{public_id}"
    assert create.headers["Stripe-Version"] == STRIPE_API_VERSION


def test_pay_several_invoices(clerk, company, stripe_recorder):
    response = pay(clerk, {company.invoices[0]: "125.00", company.invoices[1]: "30.00"}, "ctoken_ok_2",
                   **{f"reason-{company.invoices[1].public_id}": "Partial payment"})
    assert response.status_code == 200, response.get_json()
    [create] = _creates(stripe_recorder)
    assert create.params["amount"] == "15500"


def test_pay_by_us_bank_account_sends_the_mandate_and_the_verification_options(clerk, company, stripe_recorder):
    response = pay(clerk, {company.invoices[0]: "125.00"}, "ctoken_bank_1", method="us_bank_account",
                   mandate_accepted="1")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "processing"
    [create] = _creates(stripe_recorder)
    assert create.params["automatic_payment_methods"] == {"enabled": "true"}
    assert "payment_method_types" not in create.params
    options = create.params["payment_method_options"]["us_bank_account"]
    assert options["verification_method"] == "automatic"
    assert options["financial_connections"]["permissions"] == {"0": "payment_method"}  # form-encoded list
    acceptance = create.params["mandate_data"]["customer_acceptance"]
    assert acceptance["type"] == "online" and acceptance["online"]["ip_address"] and acceptance["online"]["user_agent"]


def test_bank_account_waiting_for_microdeposits_is_not_canceled_by_reconciliation(
        clerk, company, stripe_recorder, db, clock, gateway, supplier):
    response = pay(clerk, {company.invoices[0]: "125.00"}, "ctoken_microdeposits_1", method="us_bank_account",
                   mandate_accepted="1")
    body = response.get_json()
    assert body["status"] == "requires_action" and "client_secret" not in body  # no 3-D Secure to run
    clock.advance(days=2)
    reconcile_payments(Context(db, clock, RECONCILER), gateway, supplier)
    db.commit()
    assert not [r for r in stripe_recorder.recorder.requests if r.path.endswith("/cancel")]
    # Retrieved, not canceled: every request, including the read, fits the pinned API.
    assert [r for r in stripe_recorder.recorder.requests if r.method == "GET"]


def test_3ds_then_the_customer_cancels(clerk, company, stripe_recorder):
    page = open_pay_page(clerk, company.invoices[:1])
    body = post_payment(clerk, pay_form(page, {company.invoices[0]: "125.00"}, "ctoken_3ds_1")).get_json()
    assert body["client_secret"]
    canceled = clerk.post(body["cancel_url"], headers={"X-CSRFToken": page["csrf_token"], "Accept": "application/json"})
    assert canceled.get_json()["status"] == "canceled"
    [cancel] = [r for r in stripe_recorder.recorder.requests if r.path.endswith("/cancel")]
    assert cancel.params == {"cancellation_reason": "requested_by_customer"}


def test_decline(clerk, company, stripe_recorder):
    response = pay(clerk, {company.invoices[0]: "125.00"}, "ctoken_declined_1")
    assert response.status_code == 402 and response.get_json()["error"] == "Your card was declined."


def test_retry_after_a_timeout_resends_the_same_token_and_reconciliation_finds_the_intent(
        clerk, company, stripe_recorder, db, clock, gateway, supplier):
    stripe_recorder.recorder.drop_creates = 3  # the first try and the SDK's two retries
    page = open_pay_page(clerk, company.invoices[:1])
    first = post_payment(clerk, pay_form(page, {company.invoices[0]: "125.00"}, "ctoken_ok_first"))
    assert first.status_code == 503 and first.get_json()["retry"] is True
    # The page posts again; a new token from Stripe.js must not change what is sent.
    second = post_payment(clerk, pay_form(page, {company.invoices[0]: "125.00"}, "ctoken_ok_second"))
    assert second.status_code == 200, second.get_json()
    creates = _creates(stripe_recorder)
    assert len(creates) == 4
    assert {c.headers["Idempotency-Key"] for c in creates} == {creates[0].headers["Idempotency-Key"]}
    assert {c.params["confirmation_token"] for c in creates} == {"ctoken_ok_first"}
    assert len(stripe_recorder.recorder.intents) == 1

    # The reconciliation listing (for an attempt whose intent id was never stored).
    stripe_recorder.recorder.drop_creates = 3
    lost = post_payment(clerk, pay_form(open_pay_page(clerk, company.invoices[1:]), {company.invoices[1]: "80.00"},
                                        "ctoken_ok_lost"))
    assert lost.status_code == 503
    clock.advance(minutes=16)
    report = reconcile_payments(Context(db, clock, RECONCILER), gateway, supplier)
    db.commit()  # what the command runner does
    assert any("found intent" in line for line in report.changed), report.summary()
    [listing] = [r for r in stripe_recorder.recorder.requests if (r.method, r.path) == ("GET", "/v1/payment_intents")]
    assert set(listing.params) == {"limit", "created"}


def test_reconciliation_cancels_an_abandoned_authentication(clerk, company, stripe_recorder, db, clock, gateway, supplier):
    body = pay(clerk, {company.invoices[0]: "125.00"}, "ctoken_3ds_abandoned").get_json()
    clock.advance(minutes=61)
    report = reconcile_payments(Context(db, clock, RECONCILER), gateway, supplier)
    db.commit()  # what the command runner does
    assert report.problems == []
    [cancel] = [r for r in stripe_recorder.recorder.requests if r.path.endswith("/cancel")]
    assert cancel.params == {"cancellation_reason": "abandoned"}
    assert payment_by_public_id(db, body["payment_url"].rsplit("/", 1)[1]).status == "canceled"


# --- saved payment methods ------------------------------------------------------------------


def test_save_a_card_set_another_default_and_remove_one(clerk, company, stripe_recorder, db):
    recorder = stripe_recorder.recorder
    saved = []
    for last4 in ("4242", "5556"):
        token = clerk.get("/payment-methods/new").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
        headers = {"Accept": "application/json", "X-CSRFToken": token}
        started = clerk.post("/payment-methods/new", headers=headers)
        assert started.status_code == 200, started.get_json()
        body = started.get_json()
        recorder.confirm_setup(body["client_secret"].split("_secret_")[0], last4)
        done = clerk.post(body["complete_url"], headers=headers)
        assert done.status_code == 200, done.get_json()
        saved.append(done.get_json()["method"])
    assert len(recorder.customers) == 1  # created on the first save only
    [customer] = [r for r in recorder.requests if (r.method, r.path) == ("POST", "/v1/customers")]
    assert customer.params["metadata"]["portal_customer"] == company.customer.public_id
    creates = [r for r in recorder.requests if (r.method, r.path) == ("POST", "/v1/setup_intents")]
    assert len(creates) == 2
    assert creates[0].params["usage"] == "off_session"
    assert creates[0].params["automatic_payment_methods"] == {"enabled": "true", "allow_redirects": "never"}
    assert "payment_method_types" not in creates[0].params
    assert creates[0].headers["Idempotency-Key"] != creates[1].headers["Idempotency-Key"]

    token = clerk.get("/payment-methods").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    assert clerk.post(f"/payment-methods/{saved[1]}/default", data={"csrf_token": token}).status_code == 302
    assert clerk.post(f"/payment-methods/{saved[0]}/remove", data={"csrf_token": token}).status_code == 302
    [detach] = [r for r in recorder.requests if r.path.endswith("/detach")]
    assert recorder.methods[detach.path.split("/")[3]]["customer"] is None
    updates = [r for r in recorder.requests if r.method == "POST" and r.path.startswith("/v1/customers/")]
    assert [u.params["invoice_settings"]["default_payment_method"] for u in updates] == [
        next(iter(recorder.methods)), list(recorder.methods)[1]]


def test_save_a_bank_account_verified_later_by_a_webhook(clerk, company, stripe_recorder, db, clock):
    """A USD customer: the SetupIntent allows a US bank account with its verification options;
    the bank account waits for microdeposits, and setup_intent.succeeded is read back."""
    recorder = stripe_recorder.recorder
    token = clerk.get("/payment-methods/new").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    headers = {"Accept": "application/json", "X-CSRFToken": token}
    body = clerk.post("/payment-methods/new", headers=headers).get_json()
    setup_id = body["client_secret"].split("_secret_")[0]
    recorder.confirm_bank_setup(setup_id, microdeposits=True)
    done = clerk.post(body["complete_url"], headers=headers)
    assert done.status_code == 200 and done.get_json()["verification"] == "pending_verification"
    [create] = [r for r in recorder.requests if (r.method, r.path) == ("POST", "/v1/setup_intents")]
    assert list(create.params["allowed_payment_method_types"].values()) == ["card", "us_bank_account"]
    assert create.params["payment_method_options"]["us_bank_account"]["verification_method"] == "automatic"
    assert create.params["automatic_payment_methods"] == {"enabled": "true", "allow_redirects": "never"}
    assert "payment_method_types" not in create.params

    recorder.finish_setup(setup_id)
    now = int(clock.now().timestamp())
    event = stripe_event("setup_intent.succeeded", {**recorder.setups[setup_id], "payment_method": "pm_x"}, created=now)
    answer = post_event(clerk, event, now)
    assert answer.status_code == 200 and answer.get_json()["outcome"].endswith("-> verified")
    reads = [r for r in recorder.requests if (r.method, r.path) == ("GET", f"/v1/setup_intents/{setup_id}")]
    assert len(reads) == 2  # the browser's report, then the webhook's: each read back from Stripe
    assert db.scalar(select(SavedMethod.verification_status)) == "verified"


def test_a_staff_refund(clerk, company, stripe_recorder, db, clock, gateway):
    """The refund request: a part of a settled payment's intent, with its own key and our reference."""
    from portal.domain.core.audit import Actor
    from portal.domain.refunds.policy import RefundForm
    from portal.domain.refunds.service import new_refund_token, refund_payment
    from portal.domain.staff.states import StaffRole
    from tests.support.factories import make_staff

    body = pay(clerk, {company.invoices[0]: "125.00"}, "ctoken_ok_refund").get_json()
    payment = payment_by_public_id(db, body["payment_url"].rsplit("/", 1)[1])
    payment.status = "succeeded"  # what the webhook would do; the contract is about the refund call
    member = make_staff(db, clock, role=StaffRole.SUPERVISOR)
    db.commit()
    ctx = Context(db, clock, Actor("staff", member.public_id))
    outcome = refund_payment(ctx, gateway, member, payment.public_id,
                             RefundForm(new_refund_token(), "40.00", "Goods returned"))
    db.commit()
    assert outcome.refund.status == "succeeded" and outcome.message == ""
    [refund] = [r for r in stripe_recorder.recorder.requests if (r.method, r.path) == ("POST", "/v1/refunds")]
    assert refund.params["payment_intent"] == payment.stripe_payment_intent_id
    assert refund.params["amount"] == "4000" and refund.params["reason"] == "requested_by_customer"
    assert refund.params["metadata"]["portal_refund"] == outcome.refund.public_id
    assert refund.headers["Idempotency-Key"] == outcome.refund.idempotency_key


def test_an_installment_charged_off_session(clerk, company, stripe_recorder, db, clock, gateway, supplier):
    """The collector's charge: the saved card on its Customer, off-session, confirmed at once,
    no redirecting methods, the attempt's own key."""
    from portal.domain.methods.models import SavedMethod
    from portal.domain.payments.models import Payment
    from portal.domain.plans.jobs import JOB_ACTOR, collect_installments
    from tests.support.plans import POLICY, make_test_plan

    recorder = stripe_recorder.recorder
    token = clerk.get("/payment-methods/new").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    headers = {"Accept": "application/json", "X-CSRFToken": token}
    body = clerk.post("/payment-methods/new", headers=headers).get_json()
    recorder.confirm_setup(body["client_secret"].split("_secret_")[0])
    assert clerk.post(body["complete_url"], headers=headers).status_code == 200
    db.expire_all()
    card = db.query(SavedMethod).one()
    plan = make_test_plan(db, clock, company.clerk, company.invoices[:1], count=2, card=card)
    db.commit()
    report = collect_installments(Context(db, clock, JOB_ACTOR), gateway, supplier, POLICY)
    db.commit()
    assert report.charged == 1
    [create] = _creates(stripe_recorder)
    payment = db.get(Payment, plan.installments[0].payment_id)
    assert create.params["off_session"] == "true" and create.params["confirm"] == "true"
    assert create.params["payment_method"] == card.stripe_payment_method_id
    assert create.params["customer"] == next(iter(recorder.customers))
    assert create.params["automatic_payment_methods"] == {"enabled": "true", "allow_redirects": "never"}
    assert create.params["amount"] == str(payment.amount_minor) and "confirmation_token" not in create.params
    assert create.headers["Idempotency-Key"] == payment.idempotency_key
    assert payment.status == "processing"  # succeeded only from the webhook


def test_an_installment_debited_off_session_from_a_saved_bank_account(clerk, company, stripe_recorder, db, clock,
                                                                      gateway, supplier):
    """The collector's debit of a verified saved bank account: off-session on its Customer,
    confirmed at once under the mandate Stripe made when it was saved, no redirecting methods;
    the debit is processing (succeeded only from the webhook)."""
    from portal.domain.payments.models import BankDebit, Payment
    from portal.domain.plans.jobs import JOB_ACTOR, collect_installments
    from tests.support.plans import POLICY, make_test_plan

    recorder = stripe_recorder.recorder
    token = clerk.get("/payment-methods/new").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    headers = {"Accept": "application/json", "X-CSRFToken": token}
    body = clerk.post("/payment-methods/new", headers=headers).get_json()
    setup_id = body["client_secret"].split("_secret_")[0]
    recorder.confirm_bank_setup(setup_id)
    assert clerk.post(body["complete_url"], headers=headers).get_json()["verification"] == "verified"
    db.expire_all()
    bank = db.query(SavedMethod).one()
    assert bank.method_type == "us_bank_account" and bank.stripe_mandate_id == recorder.setups[setup_id]["mandate"]
    plan = make_test_plan(db, clock, company.clerk, company.invoices[:1], count=2, card=bank)
    db.commit()
    report = collect_installments(Context(db, clock, JOB_ACTOR), gateway, supplier, POLICY)
    db.commit()
    assert report.charged == 1
    [create] = _creates(stripe_recorder)
    payment = db.get(Payment, plan.installments[0].payment_id)
    assert create.params["off_session"] == "true" and create.params["confirm"] == "true"
    assert create.params["payment_method"] == bank.stripe_payment_method_id
    assert create.params["mandate"] == bank.stripe_mandate_id
    assert create.params["customer"] == next(iter(recorder.customers))
    assert create.params["automatic_payment_methods"] == {"enabled": "true", "allow_redirects": "never"}
    assert "mandate_data" not in create.params and "confirmation_token" not in create.params
    assert create.headers["Idempotency-Key"] == payment.idempotency_key
    assert (payment.status, payment.method) == ("processing", "us_bank_account")
    assert db.get(BankDebit, payment.id).mandate_text == bank.consent_text
