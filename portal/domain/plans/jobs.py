"""`collect_installments` (`flask --app wsgi collect-installments`, hourly or daily): the
scheduled work of installment plans, in three steps, each safe to run twice at once.

1. Follow up: each running plan's charges in flight are read back from their payments (which
   the webhook settles like any card payment): succeeded -> the installment is paid; declined ->
   the decline table decides (`policy.after_decline`, SECURITY.md P9): a soft decline is charged
   again after the policy's days, a hard one never; the bank asking for authentication (P8)
   marks the installment action-required and the customer is emailed a link to pay it
   on-session, never retried off-session. Every failed collection counts; at the policy's
   number the plan defaults (remaining balance due, customer and staff emailed). Money paid on
   the plan's invoices by other means (early, on-session, paying the plan off) pays the owed
   installments in order. A failed installment never moves or skips the next one. A debit of a
   saved US bank account stays `charging` while it is processing (up to 4 business days) and is
   paid only on Stripe's succeeded; one that fails, or is returned after it settled, is owed
   again with no retry date, the account is marked refused and the plan pauses (P11).
2. Charge: autopay installments due today *in the customer's time zone* (a date, so a DST
   change cannot make one due twice or never) are charged off-session, one at a time: the
   installment is locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the writing
   session holds the database's write lock), attempt N is inserted (unique per installment) with
   a payment (a card, or a bank debit under the account's stored mandate) carrying a fresh
   idempotency key, the installment moves to `charging`, and
   all of it is committed before Stripe is called (`commit_before_outside_call`); no
   transaction is open while Stripe answers. A call that timed out is sent again with the same
   key once its claim lapses.
3. Remind: a reminder email a few days before each autopay charge (once per installment and date).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select

from portal.domain.core import audit
from portal.domain.core.audit import Actor
from portal.domain.core.clock import today_in
from portal.domain.core.context import Context
from portal.domain.core.database import commit_before_outside_call
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.followups.service import raise_followup
from portal.domain.followups.states import FollowupKind
from portal.domain.gateway.amounts import stripe_minimum
from portal.domain.gateway.protocol import (
    AUTHENTICATION_REQUIRED, GatewayRejected, GatewayUnavailable, GatewayUnusable, IntentSnapshot,
    OffSessionChargeRequest, PaymentDeclined,
)
from portal.domain.invoicing.models import Invoice
from portal.domain.methods.models import SavedMethod, StripeCustomer
from portal.domain.methods.policy import BANK_METHOD, CARD_METHOD
from portal.domain.methods.service import mark_refused_by_bank
from portal.domain.methods.states import Verification
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.payments.models import BankDebit, Payment
from portal.domain.payments.policy import StoredMandate
from portal.domain.payments.service import (
    GATEWAY_CALL_LEASE, create_scheduled_payment, lock_customer, lock_payment, record_charge_answer,
)
from portal.domain.payments.states import PaymentStatus
from portal.domain.plans.models import Installment, InstallmentAttempt, Plan, PlanInvoice
from portal.domain.plans.notifications import queue_defaulted, queue_needs_customer, queue_reminder
from portal.domain.plans.policy import AUTHENTICATE, PlanPolicy, after_decline, defaults_after, next_retry
from portal.domain.plans.service import move_installment, move_plan
from portal.domain.plans.states import OWED, InstallmentStatus, PayBy, PlanStatus

log = logging.getLogger(__name__)

JOB_ACTOR = Actor.system("collect-installments")
DEFAULT_COLLECT_BATCH = 200
# The widest time-zone lead over UTC (UTC+14): no customer's today is later than UTC's + 1.
MAX_ZONE_LEAD = timedelta(days=1)
IS = InstallmentStatus


@dataclass
class CollectReport:
    charged: int = 0
    paid: int = 0
    failed: int = 0
    action_required: int = 0
    defaulted: int = 0
    completed: int = 0
    reminders: int = 0
    skipped: int = 0

    def summary(self) -> str:
        return (f"installments: {self.charged} charged, {self.paid} paid, {self.failed} failed, "
                f"{self.action_required} need the customer, {self.skipped} skipped; plans: {self.defaulted} "
                f"defaulted, {self.completed} completed; {self.reminders} reminders")


def collect_installments(ctx: Context, gateway, supplier: SupplierDetails, policy: PlanPolicy, *,
                         batch_size: int = DEFAULT_COLLECT_BATCH) -> CollectReport:
    """Follow up, charge and remind (see the module's docstring). Commits before each Stripe
    call; the caller commits the rest, once."""
    report = CollectReport()
    follow_up(ctx, supplier, policy, report)
    _charge_due(ctx, gateway, supplier, policy, report, batch_size)
    follow_up(ctx, supplier, policy, report)
    _remind(ctx, supplier, policy, report)
    ctx.db.flush()
    return report


# --- 1. follow up --------------------------------------------------------------------------------


def follow_up(ctx: Context, supplier: SupplierDetails, policy: PlanPolicy, report: CollectReport) -> None:
    db = ctx.db
    plan_ids = db.scalars(select(Plan.id).where(Plan.status.in_([PlanStatus.ACTIVE, PlanStatus.PAUSED]))
                          .order_by(Plan.id)).all()
    for plan_id in plan_ids:
        plan = db.scalar(select(Plan).where(Plan.id == plan_id, Plan.status.in_([PlanStatus.ACTIVE, PlanStatus.PAUSED]))
                         .with_for_update(skip_locked=True).execution_options(populate_existing=True))
        if plan is not None:
            follow_up_plan(ctx, supplier, policy, plan, report)


def follow_up_plan(ctx: Context, supplier: SupplierDetails, policy: PlanPolicy, plan: Plan,
                   report: CollectReport) -> None:
    db, now = ctx.db, ctx.clock.now()
    today = today_in(ctx.clock, db.scalar(select(Customer.timezone).where(Customer.id == plan.customer_id)) or "UTC")
    paid_by_debit = [i.payment_id for i in plan.installments if i.status == IS.PAID and i.payment_id is not None]
    returned = dict(db.execute(select(BankDebit.payment_id, BankDebit.return_code).where(
        BankDebit.payment_id.in_(paid_by_debit), BankDebit.returned_at.is_not(None))).all()) if paid_by_debit else {}
    for installment in plan.installments:
        if installment.status == IS.PAID and installment.payment_id in returned:
            # The bank returned a debit after it had settled: the installment is owed again.
            _refused_by_bank(ctx, supplier, policy, plan, installment, returned[installment.payment_id] or "returned",
                             report, returned=True)
            if plan.status == PlanStatus.DEFAULTED:
                return
            continue
        if installment.status != IS.CHARGING or installment.payment_id is None:
            continue
        payment = db.get(Payment, installment.payment_id)
        if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED) and payment.method == BANK_METHOD:
            _refused_by_bank(ctx, supplier, policy, plan, installment, payment.failure_code or "debit_failed",
                             report, returned=False)
        elif payment.status == PaymentStatus.SUCCEEDED:
            move_installment(installment, IS.PAID, now)
            installment.paid_at = payment.settled_at or now
            report.paid += 1
        elif payment.status == PaymentStatus.REQUIRES_ACTION:
            _failed(ctx, supplier, policy, plan, installment, AUTHENTICATION_REQUIRED, today, report)
        elif payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
            _failed(ctx, supplier, policy, plan, installment, payment.failure_code or "card_declined", today, report)
        if plan.status == PlanStatus.DEFAULTED:
            return
    _pay_by_balance(ctx, plan, report)
    if all(i.status in (IS.PAID, IS.CANCELLED) for i in plan.installments) and plan.status in (
            PlanStatus.ACTIVE, PlanStatus.PAUSED):
        move_plan(plan, PlanStatus.COMPLETED, now)
        plan.ended_at = now
        report.completed += 1


def _failed(ctx: Context, supplier: SupplierDetails, policy: PlanPolicy, plan: Plan, installment: Installment,
            code: str, today: date, report: CollectReport) -> None:
    now = ctx.clock.now()
    plan.failures += 1
    installment.failure_code = code[:80]
    attempt = _record_outcome(ctx, installment, code)
    if after_decline(code) == AUTHENTICATE:
        move_installment(installment, IS.ACTION_REQUIRED, now)
        installment.retry_on = None
        report.action_required += 1
    else:
        move_installment(installment, IS.FAILED, now)
        installment.retry_on = next_retry(policy, code, plan.failures, today)
        report.failed += 1
    if defaults_after(policy, plan.failures):
        _default(ctx, supplier, plan, report)
        return
    queue_needs_customer(ctx.db, ctx.clock, supplier, plan, installment, attempt=attempt,
                         authenticate=installment.status == IS.ACTION_REQUIRED,
                         reason=code.replace("_", " "), retry_on=installment.retry_on)


def _refused_by_bank(ctx: Context, supplier: SupplierDetails, policy: PlanPolicy, plan: Plan,
                     installment: Installment, code: str, report: CollectReport, *, returned: bool) -> None:
    """A bank debit of this installment failed, or came back after it had settled (SECURITY.md
    P11). The payments area has already reversed any settlement, reopened the balance, told the
    customer what the bank said and raised the staff follow-up; here the installment is owed
    again with no retry date (its mandate is unusable: no blind retry), the bank account is
    marked refused (not the default, never charged again) and the plan pauses (every running
    plan on that account) until the customer chooses another way to pay with staff. The failure
    counts toward the policy's default like any other."""
    now = ctx.clock.now()
    plan.failures += 1
    installment.failure_code = code[:80]
    _record_outcome(ctx, installment, code)
    move_installment(installment, IS.FAILED, now)
    installment.retry_on = None
    if returned:
        installment.paid_at = None
        installment.payment_id = None  # the attempt row keeps it; paying again is a new payment
    report.failed += 1
    if plan.saved_method_id is not None:
        mark_refused_by_bank(ctx, plan.saved_method_id, code)
    if defaults_after(policy, plan.failures):
        _default(ctx, supplier, plan, report)
        return
    _pause_on_refused_account(ctx, plan, code)
    if plan.saved_method_id is not None:
        others = ctx.db.scalars(select(Plan).where(
            Plan.saved_method_id == plan.saved_method_id, Plan.id != plan.id, Plan.status == PlanStatus.ACTIVE,
            Plan.pay_by == PayBy.AUTOPAY).with_for_update(skip_locked=True)).all()
        for other in others:  # one another collector holds is never charged: its account is refused
            _pause_on_refused_account(ctx, other, code)


def _pause_on_refused_account(ctx: Context, plan: Plan, code: str) -> None:
    if plan.status != PlanStatus.ACTIVE:
        return
    move_plan(plan, PlanStatus.PAUSED, ctx.clock.now())
    audit.record(ctx.db, ctx.clock, ctx.actor, "plan.paused", "plan", plan.public_id,
                 before={"status": "active"}, after={"status": "paused", "reason": f"bank refused a debit ({code[:80]})"})
    log.info("plan %s paused: its bank account was refused (%s)", plan.public_id, code)


def _record_outcome(ctx: Context, installment: Installment, code: str) -> int:
    """Write the outcome on the installment's latest attempt; returns that attempt's number."""
    attempt = ctx.db.scalar(select(func.max(InstallmentAttempt.attempt))
                            .where(InstallmentAttempt.installment_id == installment.id)) or 0
    ctx.db.execute(InstallmentAttempt.__table__.update()
                   .where(InstallmentAttempt.installment_id == installment.id, InstallmentAttempt.attempt == attempt)
                   .values(outcome=code[:80]))
    return attempt


def _default(ctx: Context, supplier: SupplierDetails, plan: Plan, report: CollectReport) -> None:
    now = ctx.clock.now()
    move_plan(plan, PlanStatus.DEFAULTED, now)
    plan.ended_at = now
    for installment in plan.installments:
        if installment.status in OWED:
            move_installment(installment, IS.CANCELLED, now)
    remaining = Money(sum(max(balance, 0) for balance in ctx.db.scalars(
        select(Invoice.balance_minor).join(PlanInvoice, PlanInvoice.invoice_id == Invoice.id)
        .where(PlanInvoice.plan_id == plan.id))), plan.currency)
    queue_defaulted(ctx.db, ctx.clock, supplier, plan, remaining)
    # Collections chase what is left (the plan's invoices, reminders chasing them again).
    raise_followup(
        ctx, kind=FollowupKind.PLAN_DEFAULTED, customer_id=plan.customer_id,
        invoice_ids=list(ctx.db.scalars(select(PlanInvoice.invoice_id).where(PlanInvoice.plan_id == plan.id)
                                        .order_by(PlanInvoice.invoice_id))),
        details={"plan": plan.public_id, "remaining_minor": remaining.minor, "currency": plan.currency,
                 "failures": plan.failures},
        dedupe_key=f"plan_defaulted:{plan.public_id}",
    )
    report.defaulted += 1
    log.info("plan %s defaulted after %s failed collections", plan.public_id, plan.failures)


def _pay_by_balance(ctx: Context, plan: Plan, report: CollectReport) -> None:
    """Owed installments, in order, covered by money paid on the plan's invoices other than
    by the installments' own charges (paying early, on-session, or paying the plan off)."""
    covered = ctx.db.execute(
        select(PlanInvoice.amount_minor, Invoice.balance_minor)
        .join(Invoice, Invoice.id == PlanInvoice.invoice_id).where(PlanInvoice.plan_id == plan.id)
    ).all()
    paid_on_invoices = sum(amount - min(max(balance, 0), amount) for amount, balance in covered)
    by_installments = sum(i.amount_minor for i in plan.installments if i.status == IS.PAID)
    extra = paid_on_invoices - by_installments
    now = ctx.clock.now()
    for installment in plan.installments:
        if installment.status not in OWED:
            continue
        if installment.amount_minor > extra:
            break
        move_installment(installment, IS.PAID, now)
        installment.paid_at = now
        installment.retry_on = None
        extra -= installment.amount_minor
        report.paid += 1


# --- 2. charge ------------------------------------------------------------------------------------


def _due_clause(latest: date):
    return or_(
        (Installment.status == IS.SCHEDULED) & (Installment.due_on <= latest),
        (Installment.status == IS.FAILED) & (Installment.retry_on.is_not(None)) & (Installment.retry_on <= latest),
        Installment.status == IS.CHARGING,
    )


def _charge_due(ctx: Context, gateway, supplier: SupplierDetails, policy: PlanPolicy, report: CollectReport,
                batch_size: int) -> None:
    db, clock = ctx.db, ctx.clock
    latest = clock.now().date() + MAX_ZONE_LEAD
    candidates = db.execute(
        select(Installment.id, Customer.timezone)
        .join(Plan, Plan.id == Installment.plan_id).join(Customer, Customer.id == Plan.customer_id)
        .where(Plan.status == PlanStatus.ACTIVE, Plan.pay_by == PayBy.AUTOPAY, _due_clause(latest))
        .order_by(Installment.due_on, Installment.id).limit(batch_size)
    ).all()
    for installment_id, timezone in candidates:
        today = today_in(clock, timezone or "UTC")
        _charge_one(ctx, gateway, supplier, policy, report, installment_id, today)


def _charge_one(ctx: Context, gateway, supplier: SupplierDetails, policy: PlanPolicy, report: CollectReport,
                installment_id: int, today: date) -> None:
    db, clock = ctx.db, ctx.clock
    installment = db.scalar(
        select(Installment).join(Plan, Plan.id == Installment.plan_id)
        .where(Installment.id == installment_id, Plan.status == PlanStatus.ACTIVE, _due_clause(today))
        .with_for_update(skip_locked=True, of=Installment).execution_options(populate_existing=True)
    )
    if installment is None:
        return  # another collector has it, or it is not due yet in the customer's time zone
    plan = db.get(Plan, installment.plan_id)
    now = clock.now()
    if installment.status == IS.CHARGING:
        payment = db.get(Payment, installment.payment_id)
        if payment.status != PaymentStatus.NEW or payment.stripe_payment_intent_id is not None:
            return  # in flight at Stripe: the follow-up step reads its outcome
        if payment.gateway_call_until is not None and payment.gateway_call_until > now:
            return  # a collector is calling Stripe for it right now
    else:
        payment = _new_attempt(ctx, plan, installment, today, report)
        if payment is None:
            return
    method = db.get(SavedMethod, plan.saved_method_id)
    stripe_customer = db.scalar(select(StripeCustomer.stripe_customer_id)
                                .where(StripeCustomer.customer_id == plan.customer_id))
    payment.gateway_call_until = now + GATEWAY_CALL_LEASE
    payment_id = payment.id
    request = OffSessionChargeRequest(
        amount=Money(payment.amount_minor, payment.currency), stripe_customer_id=stripe_customer or "",
        payment_method_id=method.stripe_payment_method_id, idempotency_key=payment.idempotency_key,
        reference=payment.public_id,
        metadata={"payment_reference": payment.reference, "plan": plan.public_id,
                  "installment": str(installment.number)},
        mandate_id=(method.stripe_mandate_id or "") if method.method_type == BANK_METHOD else "",
    )
    commit_before_outside_call(db)

    try:
        answer: IntentSnapshot | Exception = gateway.create_off_session_intent(request)
    except (PaymentDeclined, GatewayUnavailable, GatewayRejected, GatewayUnusable) as error:
        answer = error

    payment = lock_payment(db, clock, payment_id)
    payment.gateway_call_until = None
    if payment.stripe_payment_intent_id is None and payment.status == PaymentStatus.NEW:
        record_charge_answer(ctx, gateway, payment, answer)
    report.charged += 1


def _new_attempt(ctx: Context, plan: Plan, installment: Installment, today: date,
                 report: CollectReport) -> Payment | None:
    """Attempt N+1 and its payment (unique per installment), or None when nothing can be charged."""
    db, now = ctx.db, ctx.clock.now()
    method = db.get(SavedMethod, plan.saved_method_id) if plan.saved_method_id else None
    lock_customer(db, plan.customer_id)
    pieces = _pieces(ctx, plan, installment.amount_minor)
    amount = sum(minor for _, minor in pieces)
    chargeable = (method is not None and method.removed_at is None and method.method_type in (CARD_METHOD, BANK_METHOD)
                  and method.verification_status == Verification.VERIFIED)
    if not chargeable or amount < stripe_minimum(plan.currency).minor:
        # Nothing to charge to (method removed; never a bank account waiting for verification,
        # SECURITY.md P12, nor one its bank refused, P11) or nothing payable (a dispute holds
        # it): wait for staff or the customer; this is not a decline and does not count.
        log.warning("plan %s installment %s: not charged (no verified saved method, or nothing payable)",
                    plan.public_id, installment.number)
        report.skipped += 1
        return None
    attempt = (db.scalar(select(func.max(InstallmentAttempt.attempt))
                         .where(InstallmentAttempt.installment_id == installment.id)) or 0) + 1
    payment = create_scheduled_payment(
        ctx, customer_id=plan.customer_id, contact_id=plan.proposed_by_contact_id, currency=plan.currency,
        pieces=pieces, request_key=f"plan-installment:{installment.id}:{attempt}",
        memo=f"Installment {installment.number} of {plan.installment_count}",
        # A bank account is debited under the mandate accepted when it was saved (ACH path).
        mandate=StoredMandate(method.consent_text, method.mandate_accepted_at or method.saved_at, method.ip,
                              method.user_agent) if method.method_type == BANK_METHOD else None,
    )
    db.add(InstallmentAttempt(installment_id=installment.id, attempt=attempt, payment_id=payment.id,
                              outcome="", created_at=now))
    installment.payment_id = payment.id
    installment.retry_on = None
    move_installment(installment, IS.CHARGING, now)
    db.flush()
    return payment


def _pieces(ctx: Context, plan: Plan, amount: int) -> list[tuple[int, int]]:
    """The installment's amount over the plan's invoices, in order, within what each has payable."""
    rows = ctx.db.execute(
        select(Invoice.id, Invoice.balance_minor, Invoice.in_flight_minor, Invoice.held_minor)
        .join(PlanInvoice, PlanInvoice.invoice_id == Invoice.id)
        .where(PlanInvoice.plan_id == plan.id).order_by(PlanInvoice.id)
    ).all()
    pieces, left = [], amount
    for invoice_id, balance, in_flight, held in rows:
        payable = max(balance - in_flight - max(min(held, balance), 0), 0)
        take = min(payable, left)
        if take > 0:
            pieces.append((invoice_id, take))
            left -= take
    return pieces


# --- 3. remind ------------------------------------------------------------------------------------


def _remind(ctx: Context, supplier: SupplierDetails, policy: PlanPolicy, report: CollectReport) -> None:
    db, clock = ctx.db, ctx.clock
    ahead = clock.now().date() + MAX_ZONE_LEAD + timedelta(days=policy.reminder_days_before)
    rows = db.execute(
        select(Installment, Plan, Customer.timezone)
        .join(Plan, Plan.id == Installment.plan_id).join(Customer, Customer.id == Plan.customer_id)
        .where(Plan.status == PlanStatus.ACTIVE, Plan.pay_by == PayBy.AUTOPAY,
               Installment.status == IS.SCHEDULED, Installment.due_on <= ahead)
    ).all()
    for installment, plan, timezone in rows:
        today = today_in(clock, timezone or "UTC")
        if today < installment.due_on <= today + timedelta(days=policy.reminder_days_before):
            if queue_reminder(db, clock, supplier, plan, installment):
                report.reminders += 1
