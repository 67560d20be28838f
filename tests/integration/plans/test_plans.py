"""Installment plans through the service and `collect_installments`, against the in-process
fake gateway: proposing (inside the policy: active at once; outside: staff decide), the
agreement kept, refusals changing nothing; the collector charging each due installment once,
in the customer's time zone and across a DST change (P7), authentication required never
retried (P8), declines by the table (P9), the next installment never skipped, the default
after the policy's failures, money paid by other means paying the installments in order; and,
on PostgreSQL, two collectors at once charging each installment once."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta, UTC

import pytest
from sqlalchemy import func, select

from portal.domain.followups.models import Followup
from portal.domain.followups.states import FollowupKind
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.database import writing_session
from portal.domain.core.errors import NotFound
from portal.domain.core.models import AuditEntry
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.models import Payment
from portal.domain.payments.service import apply_gateway_status, lock_payment
from portal.domain.plans.jobs import JOB_ACTOR, collect_installments
from portal.domain.plans.models import Installment, InstallmentAttempt, Plan, PlanAgreement, PlanInvoice
from portal.domain.plans.policy import PlanPolicy, PlanRefused, terms_digest
from portal.domain.plans.queries import expected_cash_by_week, invoices_in_active_plans
from portal.domain.plans.service import (
    answer_counter, approve_plan, cancel_plan, counter_plan, counter_terms, decline_plan, preview_plan, propose_plan,
)
from portal.domain.plans.states import InstallmentStatus, PlanStatus
from tests.support.concurrency import run_at_once
from tests.support.disputes import contact_access, contact_context, raise_test_dispute
from tests.support.factories import add_invoice_entry, make_contact, make_customer, make_invoice
from tests.support.methods import TEST_USER_AGENT, save_card
from tests.support.plans import POLICY, SUPPLIER_NAME, customer_today, make_test_plan, plan_request

I = InstallmentStatus  # noqa: E741


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example", name="Pat Clerk")
    make_contact(db, clock, customer, email="ap@acme.example", is_ap_mailbox=True)
    first = make_invoice(db, clock, customer, number="INV-100", total_minor=60_000)
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=30_001)
    db.commit()
    return customer, clerk, first, second


@pytest.fixture
def card(db, clock, fake_gateway, acme):
    return save_card(db, clock, fake_gateway, acme[1])


@pytest.fixture
def collect(db, clock, fake_gateway, supplier):
    def collect(policy: PlanPolicy = POLICY):
        report = collect_installments(Context(db, clock, JOB_ACTOR), fake_gateway, supplier, policy)
        db.flush()
        return report
    return collect


def _settle(db, clock, supplier, fake_gateway, installment) -> None:
    """What the payment_intent.succeeded webhook does for the installment's payment."""
    payment = lock_payment(db, clock, installment.payment_id)
    snapshot = fake_gateway.intents[payment.stripe_payment_intent_id]
    apply_gateway_status(Context(db, clock, Actor("stripe")), supplier, payment, "succeeded", snapshot)
    db.flush()


def _counts(db) -> tuple[int, ...]:
    db.flush()
    return tuple(db.scalar(select(func.count()).select_from(model))
                 for model in (Plan, PlanInvoice, Installment, PlanAgreement))


def _emails(db, kind: str) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


# --- proposing ------------------------------------------------------------------------------------


def test_a_plan_inside_the_policy_is_active_at_once_with_its_schedule_and_agreement(db, clock, acme, card):
    customer, clerk, first, second = acme
    plan = make_test_plan(db, clock, clerk, [first, second], count=3, days=16, card=card)  # 1 July

    assert plan.status == PlanStatus.ACTIVE and plan.policy_reasons == ""
    assert (plan.total_minor, plan.currency, plan.pay_by) == (90_001, "USD", "autopay")
    assert [(i.number, i.due_on, i.amount_minor, i.status) for i in plan.installments] == [
        (1, date(2026, 7, 1), 30_001, "scheduled"), (2, date(2026, 8, 1), 30_000, "scheduled"),
        (3, date(2026, 9, 1), 30_000, "scheduled")]
    agreement = db.scalar(select(PlanAgreement).where(PlanAgreement.plan_id == plan.id))
    assert agreement.contact_id == clerk.id and agreement.ip == "127.0.0.1"
    assert agreement.user_agent == TEST_USER_AGENT
    assert "INV-100, INV-200 in 3 installments" in agreement.terms_text
    assert "2026-07-01: $300.01" in agreement.terms_text and "visa ending 4242" in agreement.terms_text
    assert invoices_in_active_plans(db, customer.id) == {first.id, second.id}
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.object_id == plan.public_id)) == "plan.proposed"


def test_a_plan_outside_the_policy_waits_for_staff_who_approve_or_decline(db, clock, acme):
    customer, clerk, first, second = acme
    strict = PlanPolicy(max_count=2)
    plan = make_test_plan(db, clock, clerk, [first], count=4, policy=strict)
    assert plan.status == PlanStatus.PENDING_APPROVAL and "more than 2 installments" in plan.policy_reasons
    assert invoices_in_active_plans(db, customer.id) == set()
    staff = Context(db, clock, Actor("staff", "stf_1"))
    approve_plan(staff, plan)
    assert plan.status == PlanStatus.ACTIVE and plan.decided_by == "stf_1"

    other = make_test_plan(db, clock, clerk, [second], count=4, policy=strict)
    with pytest.raises(PlanRefused, match="reason"):
        decline_plan(staff, other, "   ")
    decline_plan(staff, other, "We can offer three months at most.")
    assert other.status == PlanStatus.DECLINED and other.decision_reason == "We can offer three months at most."
    with pytest.raises(PlanRefused, match="cannot be approved"):
        approve_plan(staff, other)


def test_staff_counter_propose_and_the_customer_accepts_with_a_new_agreement_or_declines(db, clock, acme):
    _, clerk, first, second = acme
    strict = PlanPolicy(max_count=3)
    plan = make_test_plan(db, clock, clerk, [first], count=6, policy=strict)
    staff = Context(db, clock, Actor("staff", "stf_1"))
    with pytest.raises(PlanRefused, match="between 2 and 12"):
        counter_plan(staff, plan, count=1, cadence="monthly", first_due_on=date(2026, 7, 1), reason="Shorter")
    assert plan.status == PlanStatus.PENDING_APPROVAL and len(plan.installments) == 6
    counter_plan(staff, plan, count=3, cadence="monthly", first_due_on=date(2026, 7, 1),
                 reason="Three months is the longest we offer.")
    assert plan.status == PlanStatus.COUNTERED and plan.installment_count == 3
    assert [(i.number, i.due_on, i.amount_minor) for i in plan.installments] == [
        (1, date(2026, 7, 1), 20_000), (2, date(2026, 8, 1), 20_000), (3, date(2026, 9, 1), 20_000)]
    ctx, access = contact_context(db, clock, clerk), contact_access(clerk)
    with pytest.raises(PlanRefused, match="changed since"):
        answer_counter(ctx, access, SUPPLIER_NAME, plan.public_id, accept=True, terms_shown="0" * 64, user_agent="x")
    assert plan.status == PlanStatus.COUNTERED
    with pytest.raises(PlanRefused, match="Sign in"):
        answer_counter(ctx, contact_access(clerk, [first], link_id=1), SUPPLIER_NAME, plan.public_id, accept=False,
                       terms_shown="", user_agent="x")
    terms = counter_terms(db, SUPPLIER_NAME, plan)
    answer_counter(ctx, access, SUPPLIER_NAME, plan.public_id, accept=True, terms_shown=terms_digest(terms),
                   user_agent="Browser/2")
    assert plan.status == PlanStatus.ACTIVE
    agreements = db.scalars(select(PlanAgreement).where(PlanAgreement.plan_id == plan.id)
                            .order_by(PlanAgreement.id)).all()
    assert len(agreements) == 2 and agreements[-1].terms_text == terms and agreements[-1].user_agent == "Browser/2"
    assert "in 3 installments" in terms

    other = make_test_plan(db, clock, clerk, [second], count=6, policy=strict)
    counter_plan(staff, other, count=2, cadence="weekly", first_due_on=date(2026, 6, 20), reason="Two weeks.")
    answer_counter(ctx, access, SUPPLIER_NAME, other.public_id, accept=False, terms_shown="", user_agent="x")
    assert other.status == PlanStatus.DECLINED and {i.status for i in other.installments} == {I.CANCELLED}
    with pytest.raises(PlanRefused, match="not waiting"):
        answer_counter(ctx, access, SUPPLIER_NAME, other.public_id, accept=True, terms_shown="", user_agent="x")


def test_the_same_form_twice_makes_one_plan(db, clock, acme):
    _, clerk, first, _ = acme
    today = customer_today(db, clock, clerk)
    request = plan_request([first], first=today)
    ctx, access = contact_context(db, clock, clerk), contact_access(clerk)
    shown = terms_digest(preview_plan(ctx, access, POLICY, SUPPLIER_NAME, request, today).terms)
    key = secrets.token_urlsafe(24)
    one = propose_plan(ctx, access, POLICY, SUPPLIER_NAME, request, terms_shown=shown, request_key=key,
                       user_agent="x", today=today)
    two = propose_plan(ctx, access, POLICY, SUPPLIER_NAME, request, terms_shown=shown, request_key=key,
                       user_agent="x", today=today)
    assert one.id == two.id and _counts(db) == (1, 1, 3, 1)


@pytest.mark.parametrize("change", ["link", "terms", "count", "key", "past", "in_plan", "no_card", "disputed",
                                    "currencies"])
def test_every_refusal_changes_nothing(db, clock, acme, change):
    customer, clerk, first, second = acme
    today = customer_today(db, clock, clerk)
    invoices, count, first_on, key, pay_by = [first], 3, today, secrets.token_urlsafe(24), "myself"
    access = contact_access(clerk)
    if change == "link":
        access = contact_access(clerk, [first], link_id=1)
    if change == "in_plan":
        make_test_plan(db, clock, clerk, [first])
    if change == "disputed":
        raise_test_dispute(db, clock, clerk, [second])
        invoices = [second]
    if change == "currencies":
        invoices = [first, make_invoice(db, clock, customer, number="INV-EUR", total_minor=50_000, currency="EUR")]
    count = 1 if change == "count" else count
    first_on = today - timedelta(days=1) if change == "past" else first_on
    key = "short" if change == "key" else key
    pay_by = "autopay" if change == "no_card" else pay_by
    request = plan_request(invoices, count=count, first=first_on)
    request = type(request)(request.invoice_public_ids, request.count, request.cadence, request.first_due_on, pay_by)
    shown = "These are not the terms." if change == "terms" else ""
    if not shown and change not in ("link", "count", "past", "in_plan", "no_card", "disputed", "currencies"):
        shown = terms_digest(preview_plan(contact_context(db, clock, clerk), access, POLICY, SUPPLIER_NAME, request,
                                          today).terms)
    before = _counts(db)
    with pytest.raises(PlanRefused):
        propose_plan(contact_context(db, clock, clerk), access, POLICY, SUPPLIER_NAME, request,
                     terms_shown=shown, request_key=key, user_agent="x", today=today)
    assert _counts(db) == before


def test_another_companys_invoice_is_not_found(db, clock, acme):
    _, clerk, first, _ = acme
    other = make_customer(db, clock, name="Other Co")
    theirs = make_invoice(db, clock, other, number="INV-900", total_minor=50_000)
    with pytest.raises(NotFound):
        make_test_plan(db, clock, clerk, [first, theirs])
    assert _counts(db) == (0, 0, 0, 0)


# --- collecting -----------------------------------------------------------------------------------


def test_a_due_installment_is_charged_once_and_paid_when_its_payment_settles(
        db, clock, supplier, fake_gateway, acme, card, collect):
    customer, clerk, first, second = acme
    plan = make_test_plan(db, clock, clerk, [first, second], count=3, card=card)  # first due today
    report = collect()
    assert report.charged == 1 and fake_gateway.off_session.calls == 1
    one = plan.installments[0]
    assert one.status == I.CHARGING
    request = fake_gateway.off_session.requests[0]
    assert request.payment_method_id == card.stripe_payment_method_id and request.amount.minor == 30_001
    payment = db.get(Payment, one.payment_id)
    assert payment.idempotency_key == request.idempotency_key and payment.status == "processing"

    assert collect().charged == 0 and fake_gateway.off_session.calls == 1  # nothing charged twice
    _settle(db, clock, supplier, fake_gateway, one)
    collect()
    assert one.status == I.PAID and plan.installments[1].status == I.SCHEDULED
    db.refresh(first)
    assert first.balance_minor == 60_000 - 30_001  # settled like any payment, through the ledger
    assert fake_gateway.off_session.calls == 1


def test_installments_fall_due_on_the_customers_own_date(db, clock, fake_gateway, acme, card, collect):
    customer, clerk, first, _ = acme
    customer.timezone = "Pacific/Auckland"  # 15 June 14:30 UTC is 16 June 02:30 there
    db.flush()
    plan = make_test_plan(db, clock, clerk, [first], count=2, days=0, card=card)
    assert plan.installments[0].due_on == date(2026, 6, 16)
    customer.timezone = "America/Los_Angeles"  # still 15 June 07:30 there
    db.flush()
    assert collect().charged == 0
    clock.advance(hours=17)  # 16 June 00:30 in Los Angeles
    assert collect().charged == 1


def test_a_dst_change_neither_doubles_nor_skips_a_charge(db, clock, fake_gateway, acme, card, collect):
    _, clerk, first, _ = acme  # New York: clocks go back at 02:00 on Sunday 1 November 2026
    clock.set(datetime(2026, 10, 20, 16, 0, tzinfo=UTC))
    plan = make_test_plan(db, clock, clerk, [first], count=2, days=12, card=card)
    assert plan.installments[0].due_on == date(2026, 11, 1)
    for moment, charged in ((datetime(2026, 11, 1, 3, 59, tzinfo=UTC), 0),  # 23:59 EDT, 31 October
                            (datetime(2026, 11, 1, 4, 1, tzinfo=UTC), 1),  # 00:01 EDT, 1 November
                            (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), 1),  # 01:30 EDT
                            (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), 1),  # 01:30 EST, the hour again
                            (datetime(2026, 11, 2, 4, 30, tzinfo=UTC), 1)):  # 23:30 EST, 1 November
        clock.set(moment)
        collect()
        assert fake_gateway.off_session.calls == charged, moment


def test_authentication_required_waits_for_the_customer_and_is_never_retried(
        db, clock, fake_gateway, acme, card, collect):
    _, clerk, first, _ = acme
    fake_gateway.off_session.outcomes[card.stripe_payment_method_id] = "authentication_required"
    plan = make_test_plan(db, clock, clerk, [first], count=3, card=card)
    report = collect()
    one = plan.installments[0]
    assert (one.status, one.retry_on, report.action_required) == (I.ACTION_REQUIRED, None, 1)
    [email] = _emails(db, "plan_action_required")
    assert email.to_address == "clerk@acme.example" and "/pay?invoice=" in email.body_text
    assert "will not try again without you" in email.body_text
    for _ in range(3):
        clock.advance(days=5)
        collect()
    assert fake_gateway.off_session.calls == 1 and one.status == I.ACTION_REQUIRED
    assert len(_emails(db, "plan_action_required")) == 1


def test_a_soft_decline_is_retried_later_and_the_next_installment_is_not_skipped(
        db, clock, supplier, fake_gateway, acme, card, collect):
    _, clerk, first, _ = acme
    fake_gateway.off_session.outcomes[card.stripe_payment_method_id] = "insufficient_funds"
    plan = make_test_plan(db, clock, clerk, [first], count=3, cadence="weekly", card=card)
    policy = PlanPolicy(retry_after_days=3, max_failures=5)
    collect(policy)
    one, two = plan.installments[0], plan.installments[1]
    assert (one.status, one.retry_on, one.failure_code) == (I.FAILED, date(2026, 6, 18), "insufficient_funds")
    clock.advance(days=2)
    collect(policy)
    assert fake_gateway.off_session.calls == 1  # not before the retry date
    fake_gateway.off_session.outcomes.clear()
    clock.advance(days=1)
    collect(policy)
    assert fake_gateway.off_session.calls == 2 and one.status == I.CHARGING
    attempts = db.scalars(select(InstallmentAttempt).where(InstallmentAttempt.installment_id == one.id)
                          .order_by(InstallmentAttempt.attempt)).all()
    assert [(a.attempt, a.outcome) for a in attempts] == [(1, "insufficient_funds"), (2, "")]
    keys = [r.idempotency_key for r in fake_gateway.off_session.requests]
    assert len(set(keys)) == 2  # a key per attempt
    clock.advance(days=4)  # 22 June: the second installment's date, as scheduled
    collect(policy)
    assert two.due_on == date(2026, 6, 22) and two.status == I.CHARGING and fake_gateway.off_session.calls == 3


def test_a_hard_decline_is_not_retried(db, clock, fake_gateway, acme, card, collect):
    _, clerk, first, _ = acme
    fake_gateway.off_session.outcomes[card.stripe_payment_method_id] = "stolen_card"
    plan = make_test_plan(db, clock, clerk, [first], count=3, card=card)
    collect()
    assert (plan.installments[0].status, plan.installments[0].retry_on) == (I.FAILED, None)
    clock.advance(days=10)
    collect()
    assert fake_gateway.off_session.calls == 1
    assert "will not try this card again" in _emails(db, "plan_action_required")[0].body_text


def test_the_plan_defaults_after_the_policys_number_of_failures(db, clock, supplier, fake_gateway, acme, card,
                                                                 collect):
    _, clerk, first, _ = acme
    fake_gateway.off_session.outcomes[card.stripe_payment_method_id] = "insufficient_funds"
    plan = make_test_plan(db, clock, clerk, [first], count=4, cadence="weekly", card=card)
    policy = PlanPolicy(retry_after_days=3, max_failures=3)
    for _ in range(8):
        collect(policy)
        clock.advance(days=3)
    assert plan.status == PlanStatus.DEFAULTED and plan.failures == 3
    assert fake_gateway.off_session.calls == 3
    assert {i.status for i in plan.installments} == {I.CANCELLED}
    [customer_email] = _emails(db, "plan_defaulted")
    assert "$600.00" in customer_email.body_text and customer_email.to_address == "clerk@acme.example"
    [staff_email] = _emails(db, "plan_defaulted_staff")
    assert staff_email.to_address == supplier.email and "3 failed collections" in staff_email.body_text
    assert invoices_in_active_plans(db, clerk.customer_id) == set()


def test_money_paid_by_other_means_pays_the_installments_in_order(db, clock, fake_gateway, acme, card, collect):
    _, clerk, first, _ = acme
    plan = make_test_plan(db, clock, clerk, [first], count=3, days=5, card=card)  # 20_000 each
    add_invoice_entry(db, clock, first, "payment", -25_000)  # paid early on the pay page
    collect()
    assert [i.status for i in plan.installments] == [I.PAID, I.SCHEDULED, I.SCHEDULED]
    add_invoice_entry(db, clock, first, "payment", -35_000)  # the rest: the plan is paid off
    collect()
    assert plan.status == PlanStatus.COMPLETED and fake_gateway.off_session.calls == 0


def test_a_cancelled_plan_is_not_charged_and_cash_expected_counts_running_plans(
        db, clock, fake_gateway, acme, card, collect):
    _, clerk, first, second = acme
    running = make_test_plan(db, clock, clerk, [first], count=2, cadence="weekly", days=1, card=card)
    stopped = make_test_plan(db, clock, clerk, [second], count=2, days=1, card=card)
    cancel_plan(Context(db, clock, Actor("staff", "stf_1")), stopped, "Agreed by phone to pay in full.")
    weeks = expected_cash_by_week(db, date(2026, 6, 15))
    assert [(w.week_of, w.amount.minor, w.installments) for w in weeks] == [
        (date(2026, 6, 15), 30_000, 1), (date(2026, 6, 22), 30_000, 1)]
    clock.advance(days=1)
    collect()
    assert fake_gateway.off_session.calls == 1 and running.installments[0].status == I.CHARGING


def test_a_reminder_goes_out_once_a_few_days_before_each_autopay_charge(db, clock, fake_gateway, acme, card,
                                                                         collect):
    _, clerk, first, _ = acme
    make_test_plan(db, clock, clerk, [first], count=2, cadence="weekly", days=5, card=card)  # 20 and 27 June
    assert collect().reminders == 0  # 5 days ahead: too early
    clock.advance(days=2)
    assert collect().reminders == 1 and collect().reminders == 0
    [reminder] = _emails(db, "plan_installment_reminder")
    assert "20 Jun 2026" in reminder.subject and "$300.00" in reminder.subject
    assert reminder.to_address == "clerk@acme.example" and reminder.cc_addresses == "ap@acme.example"
    clock.advance(days=7)  # 24 June: the first charged (due 20 June), the second (27 June) reminded
    collect()
    assert len(_emails(db, "plan_installment_reminder")) == 2 and fake_gateway.off_session.calls == 1


@pytest.mark.postgres_only
def test_two_collectors_at_once_charge_each_due_installment_once(db, clock, supplier, fake_gateway, acme,
                                                                  session_factory):
    customer, clerk, first, second = acme
    card = save_card(db, clock, fake_gateway, clerk)
    plans = [make_test_plan(db, clock, clerk, [invoice], count=2, card=card) for invoice in (first, second)]
    db.commit()
    fake_gateway.off_session.delay = 0.2

    def run() -> None:
        with writing_session(session_factory) as session:
            collect_installments(Context(session, clock, JOB_ACTOR), fake_gateway, supplier, POLICY)
            session.commit()

    run_at_once(run)
    db.rollback()
    assert len(fake_gateway.off_session.charged) == 2
    requests = fake_gateway.off_session.requests
    assert len({r.idempotency_key for r in requests}) == len(requests) == 2
    attempts = db.execute(select(InstallmentAttempt.installment_id, func.count())
                          .group_by(InstallmentAttempt.installment_id)).all()
    assert sorted(count for _, count in attempts) == [1, 1]
    assert {p.id for p in plans} == set(db.scalars(select(Installment.plan_id).where(
        Installment.status == "charging")).all())


def test_a_defaulted_plan_raises_one_collections_follow_up(db, clock, fake_gateway, acme, card, collect):
    _, clerk, first, _ = acme
    fake_gateway.off_session.outcomes[card.stripe_payment_method_id] = "insufficient_funds"
    plan = make_test_plan(db, clock, clerk, [first], count=4, cadence="weekly", card=card)
    policy = PlanPolicy(retry_after_days=3, max_failures=3)
    for _ in range(8):
        collect(policy)
        clock.advance(days=3)
    assert plan.status == PlanStatus.DEFAULTED
    [followup] = db.scalars(select(Followup)).all()
    assert (followup.kind, followup.queue, followup.dedupe_key) == (
        FollowupKind.PLAN_DEFAULTED, "collections", f"plan_defaulted:{plan.public_id}")
    assert [link.invoice_id for link in followup.invoices] == [first.id]
    assert followup.details["remaining_minor"] == 60_000
