"""Read models of installment plans, for the customer's pages, staff and other areas.

`invoices_in_active_plans` is what other areas ask (reminders pause for these invoices while
their plan runs); `invoices_in_live_plans` is what proposing checks (an invoice is in at most
one plan that is pending, active or paused).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, UTC

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.core.errors import NotFound
from portal.domain.core.locales import N_, Text
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.methods.models import SavedMethod
from portal.domain.methods.policy import BANK_METHOD, describe_method
from portal.domain.methods.queries import saved_methods
from portal.domain.payments.models import IN_FLIGHT_STATUSES, Payment
from portal.domain.payments.policy import ach_expected_by
from portal.domain.plans.models import Installment, Plan, PlanAgreement, PlanAmendment, PlanInvoice, StoredPlanPolicy
from portal.domain.plans.policy import MAX_FIRST_DATE_DAYS, POLICY_BOUNDS, PlanPolicy, policy_reason_texts
from portal.domain.plans.states import (
    CADENCE_WORDS, INSTALLMENT_STATUS_LABELS, LIVE_PLAN, OWED, PLAN_STATUS_LABELS, AmendmentStatus, Cadence, InstallmentStatus,
    PlanStatus,
)

ACTIVE_PLAN = (PlanStatus.ACTIVE, PlanStatus.PAUSED)
AT_RISK = (InstallmentStatus.FAILED, InstallmentStatus.ACTION_REQUIRED)


def _invoices_in(db: Session, customer_id: int, statuses) -> set[int]:
    return set(db.scalars(
        select(PlanInvoice.invoice_id).join(Plan, Plan.id == PlanInvoice.plan_id)
        .where(Plan.customer_id == customer_id, Plan.status.in_([str(s) for s in statuses]))
    ).all())


def invoices_in_active_plans(db: Session, customer_id: int) -> set[int]:
    """Ids of this customer's invoices in a plan that is running (active or paused by staff):
    they are being paid by installments, so reminders for them wait."""
    return _invoices_in(db, customer_id, ACTIVE_PLAN)


def invoices_in_live_plans(db: Session, customer_id: int) -> set[int]:
    """Ids of this customer's invoices in a plan still pending approval, active or paused."""
    return _invoices_in(db, customer_id, LIVE_PLAN)


def defaulted_since(db: Session, customer_id: int, since: date) -> bool:
    start = datetime.combine(since, time.min, tzinfo=UTC)
    return db.scalar(select(func.count(Plan.id)).where(
        Plan.customer_id == customer_id, Plan.status == PlanStatus.DEFAULTED, Plan.ended_at >= start)) > 0


def plan_by_public_id(db: Session, public_id: str, customer_id: int | None = None) -> Plan:
    """The plan (of this customer, when given); NotFound otherwise, also for another company's."""
    query = select(Plan).where(Plan.public_id == public_id[:40])
    if customer_id is not None:
        query = query.where(Plan.customer_id == customer_id)
    plan = db.scalar(query)
    if plan is None:
        raise NotFound("Plan not found")
    return plan


def plan_policy(db: Session, defaults: PlanPolicy) -> PlanPolicy:
    """The policy admins stored, or `defaults` (the PLAN_* settings) when they have not."""
    stored = db.get(StoredPlanPolicy, 1)
    if stored is None:
        return defaults
    return PlanPolicy(**{field: getattr(stored, field) for field in POLICY_BOUNDS})


@dataclass(frozen=True)
class PolicyPage:
    policy: PlanPolicy
    defaults: PlanPolicy
    stored: bool
    updated_by: str
    updated_at: datetime | None


def policy_page(db: Session, defaults: PlanPolicy) -> PolicyPage:
    stored = db.get(StoredPlanPolicy, 1)
    return PolicyPage(plan_policy(db, defaults), defaults, stored is not None,
                      stored.updated_by if stored else "", stored.updated_at if stored else None)


def proposed_amendment(db: Session, plan_id: int) -> PlanAmendment | None:
    """The new schedule waiting for the customer's answer, if any (at most one)."""
    return db.scalar(select(PlanAmendment).where(PlanAmendment.plan_id == plan_id,
                                                 PlanAmendment.status == AmendmentStatus.PROPOSED))


@dataclass(frozen=True)
class WeekOfCash:
    week_of: date  # the Monday
    amount: Money
    installments: int


def expected_cash_by_week(db: Session, today: date, weeks: int = 12) -> list[WeekOfCash]:
    """What running plans' owed installments bring in, per week (Monday) and currency, from
    this week on; overdue installments count in this week."""
    monday = today - timedelta(days=today.weekday())
    end = monday + timedelta(weeks=weeks)
    rows = db.execute(
        select(Installment.due_on, Installment.amount_minor, Plan.currency)
        .join(Plan, Plan.id == Installment.plan_id)
        .where(Plan.status == PlanStatus.ACTIVE, Installment.status.in_([str(s) for s in OWED]),
               Installment.due_on < end)
    ).all()
    sums: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for due_on, amount, currency in rows:
        week = max(due_on - timedelta(days=due_on.weekday()), monday)
        sums[(week, currency)][0] += amount
        sums[(week, currency)][1] += 1
    return [WeekOfCash(week, Money(total, currency), count)
            for (week, currency), (total, count) in sorted(sums.items())]


def at_risk_plan_ids(db: Session) -> set[int]:
    """Running plans with an installment failed or waiting for the customer to authenticate."""
    return set(db.scalars(
        select(Installment.plan_id).join(Plan, Plan.id == Installment.plan_id)
        .where(Plan.status.in_([str(s) for s in ACTIVE_PLAN]),
               Installment.status.in_([str(s) for s in AT_RISK]))
    ).all())


# --- the customer's pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChoosableInvoice:
    public_id: str
    number: str
    due_date: date
    payable: Money
    chosen: bool


@dataclass(frozen=True)
class PlanFormPage:
    invoices: list[ChoosableInvoice]
    cards: list  # methods.queries.MethodLine: saved cards and verified bank accounts
    earliest: date
    latest: date


def plan_form(db: Session, access, chosen_ids: list[str], today: date) -> PlanFormPage:
    """The invoices a plan may cover (payable now, in no other live plan), the chosen ones
    ticked, and the company's saved methods autopay can charge: cards, and bank accounts
    verified (never one waiting for its microdeposits or refused by its bank, SECURITY.md P12)."""
    in_plans = invoices_in_live_plans(db, access.customer_id)
    rows = db.execute(
        select(Invoice.id, Invoice.public_id, Invoice.number, Invoice.due_date, Invoice.currency,
               Invoice.balance_minor, Invoice.in_flight_minor, Invoice.held_minor)
        .where(Invoice.customer_id == access.customer_id, Invoice.balance_minor > 0)
        .order_by(Invoice.due_date, Invoice.number).limit(100)
    ).all()
    invoices = []
    for row in rows:
        payable = row.balance_minor - row.in_flight_minor - max(min(row.held_minor, row.balance_minor), 0)
        if payable > 0 and row.id not in in_plans:
            invoices.append(ChoosableInvoice(row.public_id, row.number, row.due_date, Money(payable, row.currency),
                                             row.public_id in chosen_ids))
    cards = [line for line in saved_methods(db, access) if line.verified]
    return PlanFormPage(invoices, cards, today, today + timedelta(days=MAX_FIRST_DATE_DAYS))


@dataclass(frozen=True)
class PlanLine:
    public_id: str
    status: str
    total: Money
    installment_count: int
    cadence: str
    created_at: datetime
    next_due: date | None
    new_schedule_waiting: bool = False  # staff proposed a new schedule: the customer's answer is awaited

    @property
    def status_label(self) -> str:
        return PLAN_STATUS_LABELS[PlanStatus(self.status)]

    @property
    def cadence_word(self) -> str:
        return CADENCE_WORDS[Cadence(self.cadence)]


def customer_plans(db: Session, customer_id: int) -> list[PlanLine]:
    plans = db.scalars(select(Plan).where(Plan.customer_id == customer_id).order_by(Plan.id.desc()).limit(100)).all()
    waiting = set(db.scalars(
        select(PlanAmendment.plan_id).join(Plan, Plan.id == PlanAmendment.plan_id)
        .where(Plan.customer_id == customer_id, PlanAmendment.status == AmendmentStatus.PROPOSED)))
    return [_line(plan, plan.id in waiting) for plan in plans]


def _line(plan: Plan, new_schedule_waiting: bool = False) -> PlanLine:
    owed = [i.due_on for i in plan.installments if i.status in OWED]
    return PlanLine(plan.public_id, plan.status, Money(plan.total_minor, plan.currency), plan.installment_count,
                    plan.cadence, plan.created_at, min(owed) if owed else None, new_schedule_waiting)


@dataclass(frozen=True)
class InstallmentLine:
    number: int
    due_on: date
    amount: Money
    status: str
    retry_on: date | None
    failure_code: str
    expected_by: date | None = None  # a bank debit in flight: Stripe's latest settlement date

    @property
    def status_label(self) -> str:
        return INSTALLMENT_STATUS_LABELS[InstallmentStatus(self.status)]


@dataclass(frozen=True)
class PlanPage:
    plan: Plan
    installments: list[InstallmentLine]
    invoices: list[tuple[str, str, Money]]  # (public id, number, covered)
    card: str | Text  # the saved method autopay charges, "" for none
    terms: str
    accepted_at: datetime | None
    owed: Money
    customer_name: str = ""
    on_hold: bool = False
    hold_reason: str = ""
    amendment: PlanAmendment | None = None  # a new schedule waiting for the customer's answer

    @property
    def waiting_reasons(self) -> list[str | Text]:
        """Why the plan waits for staff approval, as sentences to show in the reader's language."""
        return policy_reason_texts(self.plan.policy_reasons or "")

    @property
    def status_label(self) -> str:
        return PLAN_STATUS_LABELS[PlanStatus(self.plan.status)]

    @property
    def cadence_word(self) -> str:
        return CADENCE_WORDS[Cadence(self.plan.cadence)]


def plan_page(db: Session, plan: Plan) -> PlanPage:

    invoices = [(public_id, number, Money(amount, plan.currency)) for public_id, number, amount in db.execute(
        select(Invoice.public_id, Invoice.number, PlanInvoice.amount_minor)
        .join(PlanInvoice, PlanInvoice.invoice_id == Invoice.id).where(PlanInvoice.plan_id == plan.id)
        .order_by(PlanInvoice.id))]
    method = db.get(SavedMethod, plan.saved_method_id) if plan.saved_method_id else None
    agreement = db.scalar(select(PlanAgreement).where(PlanAgreement.plan_id == plan.id)
                          .order_by(PlanAgreement.id.desc()).limit(1))
    # A charge the webhook has settled shows as paid before the collector's next run records it.
    charging = [i.payment_id for i in plan.installments if i.status == InstallmentStatus.CHARGING and i.payment_id]
    settled = set(db.scalars(select(Payment.id).where(Payment.id.in_(charging), Payment.status == "succeeded")))
    # A bank debit on its way is "processing, expected by <date>" until Stripe says succeeded.
    debits = {payment_id: ach_expected_by(created_at.date()) for payment_id, created_at in db.execute(
        select(Payment.id, Payment.created_at).where(Payment.id.in_(charging), Payment.method == BANK_METHOD,
                                                     Payment.status.in_(IN_FLIGHT_STATUSES)))}
    lines = [InstallmentLine(i.number, i.due_on, Money(i.amount_minor, plan.currency),
                             InstallmentStatus.PAID if i.payment_id in settled and i.status == InstallmentStatus.CHARGING
                             else i.status, i.retry_on, i.failure_code,
                             debits.get(i.payment_id) if i.status == InstallmentStatus.CHARGING else None)
             for i in plan.installments]
    owed = Money(sum(i.amount_minor for i in plan.installments if i.status in OWED), plan.currency)
    customer = db.get(Customer, plan.customer_id)
    label = "" if method is None else (describe_method(method) if method.method_type == BANK_METHOD
                                         else Text(N_("%(brand)s ending %(last4)s"), brand=method.brand,
                                                   last4=method.last4))
    return PlanPage(plan, lines, invoices, label,
                    agreement.terms_text if agreement else "", agreement.accepted_at if agreement else None, owed,
                    customer.name if customer else "", bool(customer and customer.on_hold),
                    customer.hold_reason if customer and customer.on_hold else "", proposed_amendment(db, plan.id))


# --- staff ---------------------------------------------------------------------------------------

STAFF_FILTERS = ("active", "pending_approval", "countered", "at_risk", "defaulted", "all")


def staff_plans(db: Session, status: str) -> list[tuple[PlanLine, str, bool]]:
    """(plan line, customer name, customer on hold) for the staff list, newest first, at most 200."""

    query = select(Plan, Customer.name, Customer.on_hold).join(Customer, Customer.id == Plan.customer_id)
    if status == "at_risk":
        query = query.where(Plan.id.in_(at_risk_plan_ids(db) or {0}))
    elif status != "all":
        query = query.where(Plan.status == status)
    rows = db.execute(query.order_by(Plan.id.desc()).limit(200)).all()
    return [(_line(plan), name, on_hold) for plan, name, on_hold in rows]
