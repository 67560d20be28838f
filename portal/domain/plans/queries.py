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
from portal.domain.core.money import Money
from portal.domain.plans.models import Installment, Plan, PlanInvoice
from portal.domain.plans.states import LIVE_PLAN, OWED, InstallmentStatus, PlanStatus

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
