"""The AR dashboard's read model: a fixed number of statements whatever the data size.

Every figure is per currency and aggregated in SQL over maintained sums or a bounded time
window (the last months' ledger entries, the next weeks' installments), never over the whole
history; `policy` turns the sums into DSO, CEI and shares. What "receivables at a past moment"
means: the open balance now less every ledger entry posted since that moment (the ledger is
append-only, so this is exact for invoices that are open or settled to zero).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Select, and_, bindparam, case, func, select
from sqlalchemy.orm import Session

from portal.domain.account.policy import AGING_BUCKETS, AgingBucket
from portal.domain.core.database import read
from portal.domain.core.money import Money
from portal.domain.core.types import UTCDateTime
from portal.domain.disputes.models import Dispute
from portal.domain.disputes.policy import percentile
from portal.domain.disputes.states import DECIDED
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import AccountDueDate, InvoiceEntry
from portal.domain.ledger.states import EntryKind
from portal.domain.notifications.queries import dead_message_count
from portal.domain.payments.models import Payment
from portal.domain.payments.states import PaymentStatus
from portal.domain.plans.models import Installment, Plan
from portal.domain.plans.states import InstallmentStatus, PlanStatus
from portal.domain.promises.models import Promise
from portal.domain.promises.states import PromiseStatus
from portal.domain.reminders.models import ReminderSent
from portal.domain.reports.policy import (
    BEST_DSO_MONTHS, COUNTBACK_MONTHS, FORECAST_WEEKS, PROMISE_WINDOW, REMINDER_EFFECT, REMINDER_WINDOW, CeiInputs, Dso, Period,
    best_possible_dso, collection_effectiveness, countback_dso, countback_months, iso_week_label, iso_weeks,
    local_midnight, month_start, previous_month_start, share,
)

# The cycle-time percentiles and the reminder follow-up read at most this many rows.
MAX_SAMPLE = 5_000
DISPUTE_WINDOW = timedelta(days=90)
# Installments still expected: not paid, not cancelled (a failed one is retried or paid).
EXPECTED_INSTALLMENTS = (InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED, InstallmentStatus.ACTION_REQUIRED)
RUNNING_PLANS = (PlanStatus.ACTIVE, PlanStatus.PAUSED)


def _sum_where(condition, value):
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _count_where(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass(frozen=True)
class CurrencyFigures:
    """Everything the dashboard says about one currency."""

    currency: str
    aging: tuple[tuple[AgingBucket, Money], ...]
    open_total: Money
    dso: Dso
    best_dso: Fraction | None
    cei_last_month: Fraction | None
    cei_this_month: Fraction | None
    collected_this_month: Money
    expected_plans: tuple[Money, ...]  # one per forecast week
    expected_promises: tuple[Money, ...]

    @property
    def has_forecast(self) -> bool:
        return any(m.minor for m in self.expected_plans + self.expected_promises)


@dataclass(frozen=True)
class Week:
    label: str
    monday: date
    sunday: date


@dataclass(frozen=True)
class Dashboard:
    at: datetime
    today: date
    timezone: str
    this_month: date
    last_month: date
    currencies: tuple[CurrencyFigures, ...]
    weeks: tuple[Week, ...]
    disputes_decided: int
    dispute_median: timedelta | None
    dispute_p90: timedelta | None
    promises_kept: int
    promises_broken: int
    reminders_sent: int
    reminders_followed: int
    dead_messages: int
    countback_months: int

    @property
    def promises_kept_share(self) -> Fraction | None:
        return share(self.promises_kept, self.promises_kept + self.promises_broken)

    @property
    def promises_broken_share(self) -> Fraction | None:
        return share(self.promises_broken, self.promises_kept + self.promises_broken)

    @property
    def reminders_followed_share(self) -> Fraction | None:
        return share(self.reminders_followed, self.reminders_sent)


def followed_by_payment(reminders: Iterable[tuple[int, datetime]], payments: Iterable[tuple[int, datetime]],
                        within: timedelta = REMINDER_EFFECT) -> int:
    """How many reminders (customer, sent at) were followed by a payment of the same customer
    settling after the reminder and at most `within` later."""
    settled: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, at in payments:
        settled[customer_id].append(at)
    for times in settled.values():
        times.sort()
    followed = 0
    for customer_id, sent_at in reminders:
        times = settled.get(customer_id, [])
        first_after = bisect.bisect_right(times, sent_at)
        if first_after < len(times) and times[first_after] <= sent_at + within:
            followed += 1
    return followed


def _money_by_week(rows, currency: str, weeks: int) -> tuple[Money, ...]:
    found = rows.get(currency)
    return tuple(Money(int(found[n]) if found else 0, currency) for n in range(weeks))


def _p(name: str, type_=None):
    return bindparam(name, type_=type_)


@cache
def _statements() -> dict[str, Select]:
    """The dashboard's statements, built once: every date and moment is a bind parameter
    (named after what it is), so a request neither builds nor compiles SQL."""
    due = AccountDueDate.due_date
    bucket_sums = []
    for bucket in AGING_BUCKETS:
        conditions = []
        if bucket.max_days is not None:
            conditions.append(due >= _p(f"{bucket.key}_earliest", Date))
        if bucket.min_days is not None:
            conditions.append(due <= _p(f"{bucket.key}_latest", Date))
        bucket_sums.append(_sum_where(and_(*conditions), AccountDueDate.open_minor))
    last_month_end = _p("last_month_end", Date)
    this_month_at = _p("this_month_at", UTCDateTime())
    since_this = InvoiceEntry.created_at >= this_month_at
    issued = InvoiceEntry.kind == EntryKind.ISSUED
    months = range(COUNTBACK_MONTHS)
    weeks = range(FORECAST_WEEKS)

    def in_week(column, n: int):
        return column.between(_p(f"week_{n}_monday", Date), _p(f"week_{n}_sunday", Date))

    return {
        # 1. Aging and what is open, from the maintained per-due-date sums.
        "open": select(AccountDueDate.currency, func.sum(AccountDueDate.open_minor), *bucket_sums,
                       _sum_where(due >= last_month_end, AccountDueDate.open_minor))
        .group_by(AccountDueDate.currency),
        # 2. The ledger entries posted since last month began: receivables then, and sales.
        "entries": select(
            Invoice.currency, func.sum(InvoiceEntry.amount_minor), _sum_where(since_this, InvoiceEntry.amount_minor),
            _sum_where(and_(issued, ~since_this), InvoiceEntry.amount_minor),
            _sum_where(and_(issued, since_this), InvoiceEntry.amount_minor),
            _sum_where(and_(since_this, Invoice.due_date >= last_month_end), InvoiceEntry.amount_minor),
        ).join(Invoice, Invoice.id == InvoiceEntry.invoice_id)
        .where(InvoiceEntry.created_at >= _p("last_month_at", UTCDateTime())).group_by(Invoice.currency),
        # 3. Credit sales by month (invoice issue dates) for the countback.
        "sales": select(Invoice.currency, *[
            _sum_where(Invoice.issue_date.between(_p(f"month_{n}_first", Date), _p(f"month_{n}_last", Date)),
                       Invoice.total_minor) for n in months])
        .where(Invoice.issue_date.between(_p("sales_from", Date), _p("today", Date))).group_by(Invoice.currency),
        # 4. Collected this month.
        "collected": select(Payment.currency, func.sum(Payment.amount_minor))
        .where(Payment.status == PaymentStatus.SUCCEEDED, Payment.settled_at >= this_month_at)
        .group_by(Payment.currency),
        # 5, 6. Cash expected by ISO week: installments still to come, open promises.
        "plans": select(Plan.currency, *[_sum_where(in_week(Installment.due_on, n), Installment.amount_minor)
                                         for n in weeks])
        .join(Plan, Plan.id == Installment.plan_id)
        .where(Installment.status.in_([str(s) for s in EXPECTED_INSTALLMENTS]),
               Plan.status.in_([str(s) for s in RUNNING_PLANS]),
               Installment.due_on.between(_p("weeks_from", Date), _p("weeks_to", Date)))
        .group_by(Plan.currency),
        "promises": select(Promise.currency, *[_sum_where(in_week(Promise.promised_date, n), Promise.total_minor)
                                               for n in weeks])
        .where(Promise.status == PromiseStatus.OPEN,
               Promise.promised_date.between(_p("weeks_from", Date), _p("weeks_to", Date)))
        .group_by(Promise.currency),
        # 7. Dispute cycle time: raised to decided, over those decided in the last 90 days.
        "cycle": select(Dispute.created_at, Dispute.resolved_at)
        .where(Dispute.status.in_([str(s) for s in DECIDED]),
               Dispute.resolved_at >= _p("disputes_since", UTCDateTime()))
        .order_by(Dispute.resolved_at.desc(), Dispute.id.desc()).limit(MAX_SAMPLE),
        # 8. Promises decided in the last 90 days.
        "decided_promises": select(_count_where(Promise.status == PromiseStatus.KEPT),
                                   _count_where(Promise.status == PromiseStatus.BROKEN))
        .where(Promise.status.in_([PromiseStatus.KEPT, PromiseStatus.BROKEN]),
               Promise.decided_at >= _p("promises_since", UTCDateTime())),
        # 9, 10. Reminder emails of the last 30 days (one per customer and step) and the
        # payments their customers settled since.
        "reminders": select(ReminderSent.customer_id, ReminderSent.sent_at)
        .where(ReminderSent.sent_at >= _p("reminders_since", UTCDateTime()))
        .group_by(ReminderSent.customer_id, ReminderSent.offset_days, ReminderSent.sent_at)
        .order_by(ReminderSent.sent_at.desc()).limit(MAX_SAMPLE),
        "payments": select(Payment.customer_id, Payment.settled_at)
        .where(Payment.status == PaymentStatus.SUCCEEDED, Payment.settled_at > _p("reminders_since", UTCDateTime()),
               Payment.customer_id.in_(
                   select(ReminderSent.customer_id)
                   .where(ReminderSent.sent_at >= _p("reminders_since", UTCDateTime())).distinct()
                   .scalar_subquery()))
        .order_by(Payment.settled_at).limit(MAX_SAMPLE),
    }


def ar_dashboard(db: Session, now: datetime, tz_name: str) -> Dashboard:
    """The AR dashboard as of `now`, days and months counted in `tz_name`: eleven statements."""
    today = now.astimezone(ZoneInfo(tz_name)).date()
    this_month, last_month = month_start(today), previous_month_start(today)
    months = countback_months(today)
    weeks = iso_weeks(today)
    params = {
        "today": today, "last_month_end": this_month - timedelta(days=1),
        "this_month_at": local_midnight(this_month, tz_name), "last_month_at": local_midnight(last_month, tz_name),
        "sales_from": months[-1][0], "weeks_from": weeks[0][0], "weeks_to": weeks[-1][1],
        "disputes_since": now - DISPUTE_WINDOW, "promises_since": now - PROMISE_WINDOW,
        "reminders_since": now - REMINDER_WINDOW,
    }
    for bucket in AGING_BUCKETS:
        earliest, latest = bucket.due_dates(today)
        params.update({name: day for name, day in ((f"{bucket.key}_earliest", earliest),
                                                   (f"{bucket.key}_latest", latest)) if day is not None})
    for n, (first, last) in enumerate(months):
        params.update({f"month_{n}_first": first, f"month_{n}_last": last})
    for n, (monday, sunday) in enumerate(weeks):
        params.update({f"week_{n}_monday": monday, f"week_{n}_sunday": sunday})
    statements = _statements()

    def rows(name: str):
        return read(db, statements[name], params).all()

    open_rows = {row[0]: row[1:] for row in rows("open")}
    entry_rows = {row[0]: [int(v) for v in row[1:]] for row in rows("entries")}
    sales_rows = {row[0]: [int(v) for v in row[1:]] for row in rows("sales")}
    collected = {row[0]: row[1] for row in rows("collected")}
    plan_rows = {row[0]: row[1:] for row in rows("plans")}
    promise_rows = {row[0]: row[1:] for row in rows("promises")}
    durations = [resolved - raised for raised, resolved in rows("cycle")]
    kept, broken = (int(v) for v in rows("decided_promises")[0])
    reminders = rows("reminders")
    payments = rows("payments")
    dead = dead_message_count(db)  # 11.

    currencies = sorted(set(open_rows) | set(entry_rows) | set(sales_rows) | set(collected)
                        | set(plan_rows) | set(promise_rows))
    figures = []
    for currency in currencies:
        opened = open_rows.get(currency)
        open_now = int(opened[0]) if opened else 0
        aging = tuple((bucket, Money(int(opened[1 + n]) if opened else 0, currency))
                      for n, bucket in enumerate(AGING_BUCKETS))
        current_now = aging[0][1].minor
        current_at_month_end_now = int(opened[-1]) if opened else 0
        since_last, since_this_month, sold_last, sold_this, since_this_current = entry_rows.get(currency, [0] * 5)
        at_last_start, at_this_start = open_now - since_last, open_now - since_this_month
        periods = [Period(first, last, sales) for (first, last), sales
                   in zip(months, sales_rows.get(currency, [0] * len(months)), strict=True)]
        figures.append(CurrencyFigures(
            currency=currency, aging=aging, open_total=Money(open_now, currency),
            dso=countback_dso(open_now, periods),
            best_dso=best_possible_dso(current_now, periods[:BEST_DSO_MONTHS]),
            cei_last_month=collection_effectiveness(CeiInputs(
                at_last_start, sold_last, at_this_start, current_at_month_end_now - since_this_current)),
            cei_this_month=collection_effectiveness(CeiInputs(at_this_start, sold_this, open_now, current_now)),
            collected_this_month=Money(int(collected.get(currency) or 0), currency),
            expected_plans=_money_by_week(plan_rows, currency, FORECAST_WEEKS),
            expected_promises=_money_by_week(promise_rows, currency, FORECAST_WEEKS),
        ))
    return Dashboard(
        at=now, today=today, timezone=tz_name, this_month=this_month, last_month=last_month,
        currencies=tuple(figures),
        weeks=tuple(Week(iso_week_label(monday), monday, sunday) for monday, sunday in weeks),
        disputes_decided=len(durations), dispute_median=percentile(durations, 0.5),
        dispute_p90=percentile(durations, 0.9), promises_kept=kept, promises_broken=broken,
        reminders_sent=len(reminders), reminders_followed=followed_by_payment(reminders, payments),
        dead_messages=dead, countback_months=len(months),
    )

