"""One function per thing a customer or staff member does with an installment plan.

Customer side (whole-account sessions only: a forwarded invoice link's holder cannot commit the
company to a schedule): `preview_plan` shows the schedule and the exact terms; `propose_plan`
records the plan and the customer's agreement to those terms (who, when, IP, user agent, the
words), active at once when inside the policy, otherwise waiting for staff. Staff side:
`approve_plan`, `counter_plan`, `decline_plan`, `pause_plan`, `resume_plan`, `cancel_plan`
(MANAGE_PLANS, checked by the route); the customer answers a counter-proposal with
`answer_counter`. Staff may also propose a new schedule for what remains unpaid of a running
plan (`amend_plan`); the old schedule stays in force until the customer accepts it (a new
agreement) or declines it (`answer_amendment`), the same answer a counter-proposal gets.
Admins edit the plan policy (`save_plan_policy`). The collector (`jobs.collect_installments`) charges and settles.

A plan covers what is payable on each invoice when it is proposed (`Standing.payable`: open
balance minus money in flight minus what disputes hold). An invoice is in at most one live plan
(pending, active or paused); proposing takes the customer's lock
(`payments.service.lock_customer`), the one payments and promises take, so two tabs cannot put
one invoice in two plans. Every refusal raises `PlanRefused` before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from portal.domain.access.policy import Access
from portal.domain.core import audit
from portal.domain.core.clock import today_in
from portal.domain.core.context import Context
from portal.domain.core.locales import N_, Text
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.queries import named_invoice_figures
from portal.domain.methods.models import SavedMethod
from portal.domain.methods.states import Verification
from portal.domain.payments.service import lock_customer
from portal.domain.plans.models import Installment, Plan, PlanAgreement, PlanAmendment, PlanInvoice, StoredPlanPolicy
from portal.domain.plans.policy import (
    MAX_INSTALLMENTS, MAX_REASON_LENGTH, PlanPolicy, PlanRefused, ScheduledPart, amended_schedule, amendment_terms_text,
    REASON_SEPARATOR, autopay_label, check_first_date,
    checked_policy, outside_policy, policy_values, schedule, terms_digest, terms_text,
)
from portal.domain.plans.queries import (
    defaulted_since, invoices_in_live_plans, plan_by_public_id, plan_policy, proposed_amendment,
)
from portal.domain.plans.states import (
    AMENDABLE_PLAN, AMENDMENT_TRANSITIONS, INSTALLMENT_TRANSITIONS, OWED, PLAN_TRANSITIONS, AmendmentStatus, Cadence,
    InstallmentStatus, PayBy, PlanStatus,
)

REQUEST_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_INVOICES_PER_PLAN = 50


@dataclass(frozen=True)
class PlanRequest:
    """What the customer's form proposes (already parsed and bounded by the form)."""

    invoice_public_ids: tuple[str, ...]
    count: int
    cadence: str
    first_due_on: date
    pay_by: str
    saved_method_public_id: str = ""


@dataclass(frozen=True)
class PlanPreview:
    currency: str
    total: Money
    parts: list[ScheduledPart]
    invoices: list[tuple[int, str, Money]]  # (invoice id, number, amount covered)
    saved_method: SavedMethod | None
    terms: str
    needs_approval: list[Text]  # why staff must approve it (policy.outside_policy)


def move_plan(plan: Plan, target: PlanStatus, now) -> None:
    plan.status = PLAN_TRANSITIONS.check(plan.status, target, plan.public_id)
    plan.updated_at = now


def move_installment(installment: Installment, target: InstallmentStatus, now) -> None:
    installment.status = INSTALLMENT_TRANSITIONS.check(installment.status, target, installment.public_id)
    installment.updated_at = now


def preview_plan(ctx: Context, access: Access, policy: PlanPolicy, supplier_name: str, request: PlanRequest,
                 today: date, language: str | None = None) -> PlanPreview:
    """The schedule and terms of this request, the terms in `language` (the contact's), or
    PlanRefused. Reads only."""
    if not access.whole_account:
        raise PlanRefused(N_("Sign in to your account to propose an installment plan."))
    public_ids = list(dict.fromkeys(request.invoice_public_ids))
    if not public_ids:
        raise PlanRefused(N_("Choose at least one invoice."))
    if len(public_ids) > MAX_INVOICES_PER_PLAN:
        raise PlanRefused(N_("A plan can cover at most %(limit)s invoices."), limit=MAX_INVOICES_PER_PLAN)
    try:
        cadence = Cadence(request.cadence)
        pay_by = PayBy(request.pay_by)
    except ValueError:
        raise PlanRefused(N_("Choose how often and how you will pay.")) from None
    check_first_date(request.first_due_on, today)
    db = ctx.db
    rows = named_invoice_figures(db, access, public_ids)
    currencies = {row.currency for row in rows}
    if len(currencies) != 1:
        raise PlanRefused(N_("Invoices in different currencies need separate plans."))
    currency = currencies.pop()
    in_plans = invoices_in_live_plans(db, access.customer_id)
    covered = []
    for row in rows:
        if row.id in in_plans:
            raise PlanRefused(N_("Invoice %(number)s is already in an installment plan."), number=row.number)
        payable = row.balance_minor - row.in_flight_minor - max(min(row.held_minor, row.balance_minor), 0)
        if payable <= 0:
            raise PlanRefused(N_("Invoice %(number)s has nothing payable now (paid, processing or disputed)."),
                              number=row.number)
        covered.append((row.id, row.number, Money(payable, currency)))
    total = Money(sum(amount.minor for _, _, amount in covered), currency)
    parts = schedule(total, request.count, cadence, request.first_due_on)
    method = None
    if pay_by == PayBy.AUTOPAY:
        method = db.scalar(select(SavedMethod).where(
            SavedMethod.public_id == request.saved_method_public_id, SavedMethod.customer_id == access.customer_id,
            SavedMethod.removed_at.is_(None)))
        if method is None:
            raise PlanRefused(N_("Choose one of your saved cards or bank accounts for autopay, "
                                 "or pay each installment yourself."))
        if method.verification_status != Verification.VERIFIED:
            # Never a bank account still waiting for its microdeposits, nor one the bank
            # refused (SECURITY.md P11, P12).
            raise PlanRefused(N_("This bank account cannot be charged: it is not verified, or its bank refused a "
                                 "debit. Choose another saved method, or pay each installment yourself."))
    customer = db.get(Customer, access.customer_id)
    card = _autopay_label(method)
    terms = terms_text(supplier_name, customer.name, parts, [number for _, number, _ in covered], card, language)
    lookback = ctx.clock.now().date().replace(day=1)
    since = _months_before(lookback, policy.default_lookback_months)
    reasons = outside_policy(policy, parts, defaulted_recently=defaulted_since(db, access.customer_id, since),
                             on_hold=customer.on_hold)
    return PlanPreview(currency, total, parts, covered, method, terms, reasons)


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def propose_plan(ctx: Context, access: Access, policy: PlanPolicy, supplier_name: str, request: PlanRequest, *,
                 terms_shown: str, request_key: str, user_agent: str, today: date,
                 language: str | None = None) -> Plan:
    """Record the plan and the agreement to the terms shown (`terms_shown`: their digest,
    `policy.terms_digest`), which must be the terms of this request now, in `language` (else
    the schedule, or the language it was read in, changed since it was shown: PlanRefused); the
    agreement keeps those exact words. The same `request_key` twice returns the plan the first
    made."""
    if not REQUEST_KEY_PATTERN.match(request_key or ""):
        raise PlanRefused(N_("This form has expired. Reload the page and try again."))
    db, now = ctx.db, ctx.clock.now()
    lock_customer(db, access.customer_id)
    existing = db.scalar(select(Plan).where(Plan.customer_id == access.customer_id, Plan.request_key == request_key))
    if existing is not None:
        return existing
    preview = preview_plan(ctx, access, policy, supplier_name, request, today, language)
    if terms_shown != terms_digest(preview.terms):
        raise PlanRefused(N_("The schedule changed since it was shown: look at it again before accepting."))
    status = PlanStatus.PENDING_APPROVAL if preview.needs_approval else PlanStatus.ACTIVE
    plan = Plan(
        customer_id=access.customer_id, proposed_by_contact_id=access.contact_id, request_key=request_key,
        status=status, currency=preview.currency, total_minor=preview.total.minor,
        installment_count=len(preview.parts), cadence=Cadence(request.cadence), first_due_on=request.first_due_on,
        pay_by=PayBy(request.pay_by), saved_method_id=preview.saved_method.id if preview.saved_method else None,
        policy_reasons=REASON_SEPARATOR.join(map(str, preview.needs_approval)), failures=0, decision_reason="", decided_by="",
        created_at=now, updated_at=now, decided_at=now if status == PlanStatus.ACTIVE else None,
    )
    plan.invoices = [PlanInvoice(invoice_id=invoice_id, amount_minor=amount.minor)
                     for invoice_id, _, amount in preview.invoices]
    plan.installments = [Installment(number=part.number, due_on=part.due_on, amount_minor=part.amount.minor,
                                     status=InstallmentStatus.SCHEDULED, failure_code="", updated_at=now)
                         for part in preview.parts]
    db.add(plan)
    db.flush()
    db.add(PlanAgreement(plan_id=plan.id, contact_id=access.contact_id, terms_text=preview.terms,
                         ip=(ctx.actor.ip or "")[:64], user_agent=(user_agent or "")[:500], accepted_at=now))
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "plan.proposed", "plan", plan.public_id, after={
        "status": status, "total_minor": plan.total_minor, "currency": plan.currency,
        "installments": plan.installment_count, "cadence": plan.cadence, "pay_by": plan.pay_by,
        "needs_approval": plan.policy_reasons,
    })
    return plan


# --- staff -------------------------------------------------------------------------------------


def _staff_move(ctx: Context, plan: Plan, target: PlanStatus, action: str, reason: str = "") -> Plan:
    before = plan.status
    if not PLAN_TRANSITIONS.can_move(before, target):
        raise PlanRefused(f"This plan is {before.replace('_', ' ')}: it cannot be {action}.")
    now = ctx.clock.now()
    move_plan(plan, target, now)
    if reason:
        plan.decision_reason = reason
    if before == PlanStatus.PENDING_APPROVAL:
        plan.decided_at, plan.decided_by = now, ctx.actor.id[:64]
    if target in PLAN_TRANSITIONS.final:
        plan.ended_at = now
        for installment in plan.installments:
            if installment.status in OWED:
                move_installment(installment, InstallmentStatus.CANCELLED, now)
    audit.record(ctx.db, ctx.clock, ctx.actor, f"plan.{action}", "plan", plan.public_id,
                 before={"status": before}, after={"status": target, "reason": reason})
    return plan


def _clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise PlanRefused("Give a reason: the customer reads it.")
    if len(reason) > MAX_REASON_LENGTH:
        raise PlanRefused(f"Keep the reason under {MAX_REASON_LENGTH} characters.")
    return reason


def approve_plan(ctx: Context, plan: Plan) -> Plan:
    return _staff_move(ctx, plan, PlanStatus.ACTIVE, "approved")


def decline_plan(ctx: Context, plan: Plan, reason: str) -> Plan:
    return _staff_move(ctx, plan, PlanStatus.DECLINED, "declined", _clean_reason(reason))


def pause_plan(ctx: Context, plan: Plan) -> Plan:
    return _staff_move(ctx, plan, PlanStatus.PAUSED, "paused")


def resume_plan(ctx: Context, plan: Plan) -> Plan:
    if plan.status != PlanStatus.PAUSED:
        raise PlanRefused("Only a paused plan can be resumed.")
    return _staff_move(ctx, plan, PlanStatus.ACTIVE, "resumed")


def cancel_plan(ctx: Context, plan: Plan, reason: str) -> Plan:
    return _staff_move(ctx, plan, PlanStatus.CANCELLED, "cancelled", _clean_reason(reason))



# --- counter-proposals ---------------------------------------------------------------------------


def counter_terms(db, supplier_name: str, plan: Plan, language: str | None = None) -> str:
    """The words of a countered plan's current schedule, as the customer is shown them (in
    `language`, the contact's)."""
    invoice_numbers = list(db.scalars(
        select(Invoice.number).join(PlanInvoice, PlanInvoice.invoice_id == Invoice.id)
        .where(PlanInvoice.plan_id == plan.id).order_by(PlanInvoice.id)))
    method = db.get(SavedMethod, plan.saved_method_id) if plan.saved_method_id else None
    parts = [ScheduledPart(i.number, i.due_on, Money(i.amount_minor, plan.currency)) for i in plan.installments]
    customer = db.get(Customer, plan.customer_id)
    card = _autopay_label(method)
    return terms_text(supplier_name, customer.name, parts, invoice_numbers, card, language)


def counter_plan(ctx: Context, plan: Plan, *, count: int, cadence: str, first_due_on: date, reason: str) -> Plan:
    """Staff propose other terms for a waiting plan: same invoices and total, another schedule.
    The customer accepts (a new agreement; the plan is active) or declines them."""
    if plan.status != PlanStatus.PENDING_APPROVAL:
        raise PlanRefused("Only a plan waiting for approval can be answered with other terms.")
    try:
        cadence = Cadence(cadence)
    except ValueError:
        raise PlanRefused("Choose how often.") from None
    check_first_date(first_due_on, today_in(ctx.clock, ctx.db.get(Customer, plan.customer_id).timezone))
    reason = _clean_reason(reason)
    parts = schedule(Money(plan.total_minor, plan.currency), count, cadence, first_due_on)
    now = ctx.clock.now()
    plan.installments.clear()
    ctx.db.flush()
    plan.installments.extend(Installment(number=part.number, due_on=part.due_on, amount_minor=part.amount.minor,
                                         status=InstallmentStatus.SCHEDULED, failure_code="", updated_at=now)
                             for part in parts)
    plan.installment_count, plan.cadence, plan.first_due_on = count, cadence, first_due_on
    return _staff_move(ctx, plan, PlanStatus.COUNTERED, "countered", reason)


def answer_counter(ctx: Context, access: Access, supplier_name: str, public_id: str, *, accept: bool,
                   terms_shown: str, user_agent: str, language: str | None = None) -> Plan:
    """The customer accepts the terms staff proposed (their digest, `terms_shown`, must be the
    plan's terms now, in `language`) or declines them."""
    if not access.whole_account:
        raise PlanRefused(N_("Sign in to your account to answer this plan."))
    db, now = ctx.db, ctx.clock.now()
    lock_customer(db, access.customer_id)
    plan = plan_by_public_id(db, public_id, access.customer_id)
    if plan.status != PlanStatus.COUNTERED:
        raise PlanRefused(N_("This plan is not waiting for your answer."))
    before = plan.status
    if not accept:
        move_plan(plan, PlanStatus.DECLINED, now)
        plan.ended_at = now
        for installment in plan.installments:
            move_installment(installment, InstallmentStatus.CANCELLED, now)
    else:
        terms = counter_terms(db, supplier_name, plan, language)
        if terms_shown != terms_digest(terms):
            raise PlanRefused(N_("The schedule changed since it was shown: look at it again before accepting."))
        move_plan(plan, PlanStatus.ACTIVE, now)
        db.add(PlanAgreement(plan_id=plan.id, contact_id=access.contact_id, terms_text=terms,
                             ip=(ctx.actor.ip or "")[:64], user_agent=(user_agent or "")[:500], accepted_at=now))
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "plan.counter_accepted" if accept else "plan.counter_declined", "plan",
                 plan.public_id, before={"status": before}, after={"status": plan.status})
    return plan


# --- amending a running plan ---------------------------------------------------------------------


def _invoice_numbers(db, plan: Plan) -> list[str]:
    return list(db.scalars(
        select(Invoice.number).join(PlanInvoice, PlanInvoice.invoice_id == Invoice.id)
        .where(PlanInvoice.plan_id == plan.id).order_by(PlanInvoice.id)))


def _remaining(plan: Plan) -> int:
    if any(i.status == InstallmentStatus.CHARGING for i in plan.installments):
        raise PlanRefused(N_("An installment is being charged: change the schedule once that payment is settled."))
    return sum(i.amount_minor for i in plan.installments if i.status in OWED)


def amendment_parts(plan: Plan, amendment: PlanAmendment) -> list[ScheduledPart]:
    """The new installments, numbered after the plan's existing ones."""
    return amended_schedule(Money(amendment.remaining_minor, plan.currency),
                            max((i.number for i in plan.installments), default=0), amendment.installment_count,
                            amendment.cadence, amendment.first_due_on)


def amendment_terms(db, supplier_name: str, plan: Plan, amendment: PlanAmendment, language: str | None = None) -> str:
    """The words of a proposed new schedule, as the customer is shown them (in `language`)."""
    method = db.get(SavedMethod, plan.saved_method_id) if plan.saved_method_id else None
    customer = db.get(Customer, plan.customer_id)
    card = _autopay_label(method)
    return amendment_terms_text(supplier_name, customer.name, amendment_parts(plan, amendment),
                                _invoice_numbers(db, plan), card, language)


def amend_plan(ctx: Context, plan: Plan, *, count: int, cadence: str, first_due_on: date,
               reason: str) -> PlanAmendment:
    """Staff propose a new schedule (count, cadence, first date) for what remains unpaid of an
    active or paused plan. Nothing about the plan changes until the customer accepts; a
    proposal still waiting is superseded by this one."""
    if plan.status not in AMENDABLE_PLAN:
        raise PlanRefused("Only an active or paused plan can get a new schedule.")
    lock_customer(ctx.db, plan.customer_id)  # two proposals at once: the second supersedes the first
    try:
        cadence = Cadence(cadence)
    except ValueError:
        raise PlanRefused("Choose how often.") from None
    check_first_date(first_due_on, today_in(ctx.clock, ctx.db.get(Customer, plan.customer_id).timezone))
    reason = _clean_reason(reason)
    remaining = _remaining(plan)
    if remaining <= 0:
        raise PlanRefused("Nothing remains unpaid on this plan.")
    paid = sum(1 for i in plan.installments if i.status == InstallmentStatus.PAID)
    if paid + count > MAX_INSTALLMENTS:
        raise PlanRefused(f"A plan has at most {MAX_INSTALLMENTS} installments in all and {paid} are paid: "
                          f"propose at most {MAX_INSTALLMENTS - paid}.")
    schedule(Money(remaining, plan.currency), count, cadence, first_due_on)  # refuses what cannot be split
    now = ctx.clock.now()
    waiting = proposed_amendment(ctx.db, plan.id)
    if waiting is not None:
        waiting.status = AMENDMENT_TRANSITIONS.check(waiting.status, AmendmentStatus.SUPERSEDED, waiting.public_id)
        waiting.answered_at = now
        ctx.db.flush()
    amendment = PlanAmendment(plan_id=plan.id, status=AmendmentStatus.PROPOSED, installment_count=count,
                              cadence=cadence, first_due_on=first_due_on, remaining_minor=remaining, reason=reason,
                              proposed_by=ctx.actor.id[:64], created_at=now)
    ctx.db.add(amendment)
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "plan.amendment_proposed", "plan", plan.public_id, after={
        "amendment": amendment.public_id, "installments": count, "cadence": cadence,
        "first_due_on": first_due_on.isoformat(), "remaining_minor": remaining, "reason": reason,
    })
    return amendment


def answer_amendment(ctx: Context, access: Access, supplier_name: str, public_id: str, *, accept: bool,
                     terms_shown: str, user_agent: str, language: str | None = None) -> Plan:
    """The customer accepts the new schedule staff proposed (its terms' digest, `terms_shown`,
    must be the terms now, in `language`) or declines it. Accepting cancels the installments not yet paid and
    schedules the new ones, their sum exactly what they replace; declining keeps the schedule."""
    if not access.whole_account:
        raise PlanRefused(N_("Sign in to your account to answer this plan."))
    db, now = ctx.db, ctx.clock.now()
    plan = plan_by_public_id(db, public_id, access.customer_id)
    # The collector locks an installment and then the customer: take the locks in that order,
    # so an installment it is charging right now is seen as charging here (and refused).
    db.scalars(select(Installment).where(Installment.plan_id == plan.id).order_by(Installment.id)
               .with_for_update().execution_options(populate_existing=True)).all()
    lock_customer(db, access.customer_id)
    plan = db.get(Plan, plan.id, populate_existing=True)
    amendment = proposed_amendment(db, plan.id)
    if amendment is None:
        raise PlanRefused(N_("This plan is not waiting for your answer."))
    if accept:
        if plan.status not in AMENDABLE_PLAN or _remaining(plan) != amendment.remaining_minor:
            raise PlanRefused(N_("The plan changed since this schedule was proposed: it cannot be accepted now."))
        terms = amendment_terms(db, supplier_name, plan, amendment, language)
        if terms_shown != terms_digest(terms):
            raise PlanRefused(N_("The schedule changed since it was shown: look at it again before accepting."))
        parts = amendment_parts(plan, amendment)
        for installment in plan.installments:
            if installment.status in OWED:
                move_installment(installment, InstallmentStatus.CANCELLED, now)
        plan.installments.extend(Installment(number=part.number, due_on=part.due_on, amount_minor=part.amount.minor,
                                             status=InstallmentStatus.SCHEDULED, failure_code="", updated_at=now)
                                 for part in parts)
        plan.cadence = Cadence(amendment.cadence)
        plan.installment_count = sum(1 for i in plan.installments if i.status != InstallmentStatus.CANCELLED)
        plan.updated_at = now
        db.add(PlanAgreement(plan_id=plan.id, contact_id=access.contact_id, terms_text=terms,
                             ip=(ctx.actor.ip or "")[:64], user_agent=(user_agent or "")[:500], accepted_at=now))
    target = AmendmentStatus.ACCEPTED if accept else AmendmentStatus.DECLINED
    amendment.status = AMENDMENT_TRANSITIONS.check(amendment.status, target, amendment.public_id)
    amendment.answered_at, amendment.answered_by_contact_id = now, access.contact_id
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "plan.amendment_accepted" if accept else "plan.amendment_declined",
                 "plan", plan.public_id, after={"amendment": amendment.public_id, "status": plan.status})
    return plan


def answer_plan(ctx: Context, access: Access, supplier_name: str, public_id: str, *, accept: bool,
                terms_shown: str, user_agent: str, language: str | None = None) -> Plan:
    """The customer's answer on the plan page: to staff's counter-proposal when the plan waits
    for it, otherwise to a proposed new schedule."""
    if not access.whole_account:
        raise PlanRefused(N_("Sign in to your account to answer this plan."))
    plan = plan_by_public_id(ctx.db, public_id, access.customer_id)
    answer = answer_counter if plan.status == PlanStatus.COUNTERED else answer_amendment
    return answer(ctx, access, supplier_name, public_id, accept=accept, terms_shown=terms_shown,
                  user_agent=user_agent, language=language)


# --- the policy ----------------------------------------------------------------------------------


def save_plan_policy(ctx: Context, defaults: PlanPolicy, values: dict[str, int]) -> PlanPolicy:
    """Store the plan policy admins set (every value checked first: a refusal changes nothing);
    proposing and collecting use it instead of the settings' `defaults` from then on."""
    policy = checked_policy(values)
    before = policy_values(plan_policy(ctx.db, defaults))
    stored = ctx.db.get(StoredPlanPolicy, 1) or StoredPlanPolicy(id=1)
    for field, value in policy_values(policy).items():
        setattr(stored, field, value)
    stored.updated_by, stored.updated_at = ctx.actor.id[:64], ctx.clock.now()
    ctx.db.add(stored)
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "plan_policy.updated", "plan_policy", "policy",
                 before=before, after=policy_values(policy))
    return policy


def _autopay_label(method: SavedMethod | None) -> Text | None:
    """The saved method the terms name, or None for a plan the customer pays themselves."""
    if method is None:
        return None
    return autopay_label(method.method_type, method.brand, method.last4, method.bank_name, method.account_type)
