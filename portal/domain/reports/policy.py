"""The AR dashboard's formulas: pure functions of numbers already read, one currency at a time.

Every formula is written out with a worked example in `docs/ar-dashboard.md`; the table tests
in `tests/unit/reports/test_report_policy.py` pin each one. Amounts are integer minor units of
one currency: nothing here ever adds two currencies together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

# How far back the countback walks: receivables older than this many months of sales show as
# "more than N days" rather than scanning the whole invoice history.
COUNTBACK_MONTHS = 12
# Best possible DSO compares what is not yet due with the sales of this many months (this
# month to date and the ones before it).
BEST_DSO_MONTHS = 3
# Cash expected from plans and promises is shown for this many ISO weeks, this one first.
FORECAST_WEEKS = 8
# Promises kept and broken are counted over those decided this long ago at most.
PROMISE_WINDOW = timedelta(days=90)
# Reminders sent over this window, and what "led to a payment" means.
REMINDER_WINDOW = timedelta(days=30)
REMINDER_EFFECT = timedelta(days=7)


@dataclass(frozen=True)
class Period:
    """A stretch of days and the credit sales (invoices issued) in it, for the countback."""

    start: date
    end: date  # the last day, inclusive
    sales_minor: int

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def month_start(day: date) -> date:
    return day.replace(day=1)


def previous_month_start(day: date) -> date:
    return (month_start(day) - timedelta(days=1)).replace(day=1)


def countback_months(today: date, months: int = COUNTBACK_MONTHS) -> list[tuple[date, date]]:
    """(first day, last day) of this month to date and the `months - 1` whole months before
    it, newest first: the periods the countback walks through."""
    if months < 1:
        raise ValueError("the countback needs at least one month")
    periods = [(month_start(today), today)]
    while len(periods) < months:
        first = previous_month_start(periods[-1][0])
        periods.append((first, periods[-1][0] - timedelta(days=1)))
    return periods


@dataclass(frozen=True)
class Dso:
    """Days sales outstanding. `exhausted`: the receivables are more than all the sales of
    the periods walked, so the true figure is at least `days`."""

    days: Fraction
    exhausted: bool = False

    @property
    def rounded(self) -> float:
        return round(float(self.days), 1)


def countback_dso(receivables_minor: int, periods: Sequence[Period]) -> Dso:
    """DSO by the countback method: take the receivables now and walk back through the
    periods (newest first), subtracting each period's sales and counting its days while the
    receivables cover them; the period they run out in counts the share of its days that the
    rest covers. A period with no sales counts its days whole (nothing sold then is paid off).

    Example: 1,000 owed on 15 March; sales 600 in March 1–15, 800 in February (28 days):
    15 days + 400/800 × 28 days = 29 days."""
    remaining = Fraction(max(receivables_minor, 0))
    days = Fraction(0)
    if remaining == 0:
        return Dso(days)
    for period in periods:
        if period.sales_minor <= 0 or remaining > period.sales_minor:
            remaining -= max(period.sales_minor, 0)
            days += period.days
            continue
        return Dso(days + remaining / period.sales_minor * period.days)
    return Dso(days, exhausted=remaining > 0)


def best_possible_dso(current_minor: int, periods: Sequence[Period]) -> Fraction | None:
    """Best possible DSO: what DSO would be if every overdue amount were paid, the receivables
    not yet due over the period's sales times its days. None without sales.

    Example: 300 not yet due, sales 900 over 74 days: 300/900 × 74 = 24.7 days."""
    sales = sum(period.sales_minor for period in periods)
    days = sum(period.days for period in periods)
    if sales <= 0:
        return None
    return Fraction(max(current_minor, 0), sales) * days


@dataclass(frozen=True)
class CeiInputs:
    """One month's figures for the collection effectiveness index, in one currency."""

    beginning_minor: int  # receivables at the start of the month
    sales_minor: int  # invoices issued in the month
    ending_minor: int  # receivables at its end (now, for the month in progress)
    ending_current_minor: int  # of which not yet due at its end


def collection_effectiveness(inputs: CeiInputs) -> Fraction | None:
    """CEI, in percent: what was collected of what could have been.

        (beginning + sales - ending) / (beginning + sales - ending current) × 100

    Example: 1,000 at the start, 500 sold, 600 left of which 200 not yet due:
    (1,500 - 600) / (1,500 - 200) = 900 / 1,300 = 69.2 %. None when nothing was collectible
    (the denominator is zero or less)."""
    collectible = inputs.beginning_minor + inputs.sales_minor - inputs.ending_current_minor
    if collectible <= 0:
        return None
    collected = inputs.beginning_minor + inputs.sales_minor - inputs.ending_minor
    return Fraction(collected * 100, collectible)


def local_midnight(day: date, tz_name: str) -> datetime:
    """The instant `day` starts in the time zone (as aware UTC)."""
    return datetime.combine(day, time(0), ZoneInfo(tz_name)).astimezone(ZoneInfo("UTC"))


def iso_weeks(today: date, count: int = FORECAST_WEEKS) -> list[tuple[date, date]]:
    """(Monday, Sunday) of this ISO week and the `count - 1` after it."""
    monday = today - timedelta(days=today.weekday())
    return [(monday + timedelta(weeks=n), monday + timedelta(weeks=n, days=6)) for n in range(count)]


def iso_week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def share(part: int, whole: int) -> Fraction | None:
    """`part` of `whole` in percent; None when there is no whole."""
    return Fraction(part * 100, whole) if whole > 0 else None


def bar_widths(values: Sequence[int], full: int = 100) -> list[int]:
    """Bar lengths for one chart, the largest value drawn `full` long, rounded half up; a
    positive value never vanishes (at least 1). Zero and negative values draw nothing."""
    largest = max((v for v in values), default=0)
    if largest <= 0:
        return [0 for _ in values]
    return [max(1, (v * full * 2 + largest) // (largest * 2)) if v > 0 else 0 for v in values]
