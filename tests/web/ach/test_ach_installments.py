"""Autopay by a verified saved US bank account (issue 8; SECURITY.md P10, P11, P12).

The collector debits the account off-session under the mandate stored when it was saved, through
the ACH path: a BankDebit row, the payment processing and the installment "processing, expected
by <date>" until Stripe says succeeded. localstripe has no us_bank_account: the in-process fake
gateway answers the debit as Stripe does (processing), and Stripe's later word arrives as events
built and signed like Stripe's, sent to the real webhook endpoint. Each sequence ends with the
ledger agreeing with the balances.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain.core.context import Context
from portal.domain.followups.models import Followup
from portal.domain.followups.states import FollowupKind
from portal.domain.ledger.jobs import check_ledger
from portal.domain.methods.models import SavedMethod
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.payments.models import BankDebit, Payment
from portal.domain.payments.policy import ach_expected_by, ach_return_reason
from portal.domain.plans.jobs import JOB_ACTOR, collect_installments
from portal.domain.plans.models import Installment, Plan
from portal.domain.staff.states import StaffRole
from tests.support.factories import make_staff, sign_in
from tests.support.fixtures.stripe import dispute_object, intent_object, stripe_event
from tests.support.methods import save_bank_account
from tests.support.paying import balance, make_company, post_event
from tests.support.plans import POLICY, make_test_plan

SUPPLIER = SupplierDetails(name="Northwind Supplies", email="billing@northwind.example", portal_url="http://localhost")


@pytest.fixture
def company(db, clock):
    """A customer with a clerk, an AP mailbox and one open USD invoice of 125.00."""
    return make_company(db, clock, 12_500)


@pytest.fixture
def supervisor(db, clock):
    member = make_staff(db, clock, role=StaffRole.SUPERVISOR, name="Sam Supervisor")
    db.commit()
    return member


@pytest.fixture
def signed_in(client, company, clock):
    sign_in(client, company.clerk, clock)
    return client


@pytest.fixture
def plan(db, clock, company, fake_gateway):
    """A 2-part autopay plan on the company's verified bank account (its default), the first
    installment due today."""
    bank = save_bank_account(db, clock, fake_gateway, company.clerk)
    plan = make_test_plan(db, clock, company.clerk, company.invoices, count=2, card=bank)
    db.commit()
    assert plan.status == "active" and bank.is_default
    return plan


def _collect(db, clock, fake_gateway):
    """One run of the command, as its own fresh unit of work (what the webhook wrote is read)."""
    db.commit()
    db.expire_all()
    report = collect_installments(Context(db, clock, JOB_ACTOR), fake_gateway, SUPPLIER, POLICY)
    db.commit()
    db.expire_all()
    return report


def _send(client, clock, type_, obj):
    now = int(clock.now().timestamp())
    response = post_event(client, stripe_event(type_, obj, created=now), now)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["outcome"]


def _intent_event(client, clock, payment, type_, status, **fields):
    obj = intent_object(payment.stripe_payment_intent_id, status, payment.amount_minor, payment.currency,
                        method_type="us_bank_account", **fields)
    return _send(client, clock, type_, obj)


def _installments(db, plan):
    return db.scalars(select(Installment).where(Installment.plan_id == plan.id).order_by(Installment.number)).all()


def _mail(db, kind):
    return db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()


def _plan_page(client, clerk, clock, plan):
    response = client.get(f"/plans/{plan.public_id}")
    if response.status_code == 302:  # days went by: the clerk signs in again
        sign_in(client, clerk, clock)
        response = client.get(f"/plans/{plan.public_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _ledger_agrees(db):
    db.commit()
    report = check_ledger(db)
    assert report.is_consistent, [str(d) for d in report.differences]


def _charged_first(db, clock, fake_gateway, plan):
    """The collector debits the first installment: processing, not paid."""
    report = _collect(db, clock, fake_gateway)
    assert report.charged == 1 and report.paid == 0
    first, second = _installments(db, plan)
    payment = db.get(Payment, first.payment_id)
    assert (first.status, second.status) == ("charging", "scheduled")
    assert (payment.status, payment.method) == ("processing", "us_bank_account")
    return first, second, payment


def _refused_and_paused(db, plan, bank_id, first, second, due_before):
    """P11 on the plan's side: owed again with no blind retry, the account refused, the plan
    paused, the next installment neither skipped nor moved."""
    first, second = _installments(db, plan)
    assert first.status == "failed" and first.retry_on is None
    assert (second.status, second.due_on) == ("scheduled", due_before)
    assert db.get(Plan, plan.id).status == "paused"
    bank = db.get(SavedMethod, bank_id)
    assert bank.verification_status == "failed" and not bank.is_default
    return first


# --- processing -> succeeded ---------------------------------------------------------------


def test_an_installment_debit_is_processing_until_stripe_says_succeeded(signed_in, db, clock, company, plan,
                                                                       fake_gateway):
    first, second, payment = _charged_first(db, clock, fake_gateway, plan)
    # Debited under the mandate stored with the saved account, its words kept on the debit.
    [request] = fake_gateway.off_session.requests
    bank = db.get(SavedMethod, plan.saved_method_id)
    assert request.payment_method_id == bank.stripe_payment_method_id
    assert request.mandate_id == bank.stripe_mandate_id and request.mandate_id
    debit = db.get(BankDebit, payment.id)
    assert debit.mandate_text == bank.consent_text and debit.unusable_at is None
    assert balance(db, company.invoices[0]) == 12_500  # P10: processing is not paid

    expected = ach_expected_by(payment.created_at.date()).strftime("%d %b %Y")
    assert f"Processing, expected by {expected}" in _plan_page(signed_in, company.clerk, clock, plan)

    # Collectors running meanwhile never debit it again, nor move the next one.
    clock.advance(days=1)
    assert _collect(db, clock, fake_gateway).charged == 0
    assert fake_gateway.off_session.calls == 1
    assert [i.status for i in _installments(db, plan)] == ["charging", "scheduled"]

    clock.advance(days=2)
    assert _intent_event(signed_in, clock, payment, "payment_intent.succeeded", "succeeded") \
        == "processing -> succeeded"
    assert _collect(db, clock, fake_gateway).paid == 1
    first, second = _installments(db, plan)
    assert (first.status, second.status) == ("paid", "scheduled")
    assert balance(db, company.invoices[0]) == 12_500 - first.amount_minor
    assert db.get(Plan, plan.id).status == "active"
    assert db.get(SavedMethod, plan.saved_method_id).verification_status == "verified"
    _ledger_agrees(db)


# --- processing -> failed ------------------------------------------------------------------


def test_a_failed_installment_debit_pauses_the_plan_and_refuses_the_account(signed_in, db, clock, company, plan,
                                                                           supervisor, fake_gateway):
    first, second, payment = _charged_first(db, clock, fake_gateway, plan)
    due_before = second.due_on
    clock.advance(days=2)
    assert _intent_event(signed_in, clock, payment, "payment_intent.payment_failed", "requires_payment_method",
                         failure_code="insufficient_funds", failure_message="The bank returned the debit.") \
        == "processing -> failed"
    report = _collect(db, clock, fake_gateway)
    assert report.failed == 1
    first = _refused_and_paused(db, plan, plan.saved_method_id, first, second, due_before)
    assert first.failure_code == "insufficient_funds"
    assert balance(db, company.invoices[0]) == 12_500  # nothing had settled

    # The customer told once, in plain words (the bank-debit notice, not a card decline's),
    # and the staff task raised once for the installment's debit.
    [told] = _mail(db, "bank_debit_failed")
    assert told.to_address == company.clerk.email and ach_return_reason("insufficient_funds") in told.body_text
    assert len(_mail(db, "bank_debit_staff")) == 1
    assert _mail(db, "plan_action_required") == []  # no card-decline email on top
    [task] = db.scalars(select(Followup)).all()
    assert task.kind == FollowupKind.BANK_DEBIT_FAILED and task.details["payment"] == payment.public_id

    # No blind retry against the unusable mandate: days later, nothing is debited.
    clock.advance(days=10)
    assert _collect(db, clock, fake_gateway).charged == 0
    assert fake_gateway.off_session.calls == 1
    page = _plan_page(signed_in, company.clerk, clock, plan)
    assert "paused" in page
    methods = signed_in.get("/payment-methods").get_data(as_text=True)
    assert "Refused by the bank: cannot be used" in methods
    _ledger_agrees(db)


# --- succeeded -> returned -------------------------------------------------------------------


def test_a_returned_installment_debit_reopens_it_and_pauses_the_plan(signed_in, db, clock, company, plan,
                                                                     supervisor, fake_gateway):
    first, second, payment = _charged_first(db, clock, fake_gateway, plan)
    due_before = second.due_on
    clock.advance(days=3)
    _intent_event(signed_in, clock, payment, "payment_intent.succeeded", "succeeded")
    assert _collect(db, clock, fake_gateway).paid == 1
    assert balance(db, company.invoices[0]) == 12_500 - payment.amount_minor

    clock.advance(days=5)
    dispute = dispute_object("dp_achinstall01", "needs_response", payment.amount_minor, "USD",
                             payment_intent=payment.stripe_payment_intent_id, reason="debit_not_authorized")
    assert _send(signed_in, clock, "charge.dispute.created", dispute) == "bank debit returned: settlement reversed"
    assert balance(db, company.invoices[0]) == 12_500  # the settlement reversed, the balance reopened

    report = _collect(db, clock, fake_gateway)
    assert report.failed == 1 and report.paid == 0
    first = _refused_and_paused(db, plan, plan.saved_method_id, first, second, due_before)
    assert first.payment_id is None and first.paid_at is None
    assert len(_mail(db, "bank_debit_failed")) == 1 and len(_mail(db, "bank_debit_staff")) == 1
    [task] = db.scalars(select(Followup)).all()
    assert task.kind == FollowupKind.BANK_DEBIT_FAILED and task.details["returned"] is True

    # Followed up again, the return is not counted twice, and nothing is debited.
    again = _collect(db, clock, fake_gateway)
    assert (again.failed, again.charged) == (0, 0)
    assert db.get(Plan, plan.id).failures == 1
    _ledger_agrees(db)


def test_every_running_plan_on_a_refused_account_pauses(signed_in, db, clock, company, fake_gateway):
    """Two plans on the same account: one debit fails, both pause, neither is debited again."""
    from tests.support.factories import make_invoice

    bank = save_bank_account(db, clock, fake_gateway, company.clerk)
    other_invoice = make_invoice(db, clock, company.customer, total_minor=9_000, currency="USD")
    plan = make_test_plan(db, clock, company.clerk, company.invoices, count=2, card=bank)
    other = make_test_plan(db, clock, company.clerk, [other_invoice], count=2, card=bank, days=7)
    db.commit()
    _, _, payment = _charged_first(db, clock, fake_gateway, plan)
    _intent_event(signed_in, clock, payment, "payment_intent.payment_failed", "requires_payment_method",
                  failure_code="account_closed", failure_message="Account closed.")
    _collect(db, clock, fake_gateway)
    assert (db.get(Plan, plan.id).status, db.get(Plan, other.id).status) == ("paused", "paused")
    clock.advance(days=8)
    assert _collect(db, clock, fake_gateway).charged == 0 and fake_gateway.off_session.calls == 1
