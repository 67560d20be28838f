"""The AR dashboard's formulas as tables: DSO by countback across months, best possible DSO,
the collection effectiveness index, the aging boundaries, weeks, time zones and bar lengths.
The worked examples of docs/ar-dashboard.md are rows here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from portal.domain.account.policy import aging_bucket
from portal.domain.reports.policy import (
    CeiInputs, Period, bar_widths, best_possible_dso, collection_effectiveness, countback_dso, countback_months,
    iso_week_label, iso_weeks, local_midnight, share,
)
from portal.domain.reports.queries import followed_by_payment


def _months(today: date, *sales: int) -> list[Period]:
    return [Period(first, last, amount) for (first, last), amount in zip(countback_months(today, len(sales)), sales,
                                                                         strict=True)]


def test_the_countback_walks_this_month_to_date_then_whole_months():
    assert countback_months(date(2026, 3, 15), 4) == [
        (date(2026, 3, 1), date(2026, 3, 15)), (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 1, 1), date(2026, 1, 31)), (date(2025, 12, 1), date(2025, 12, 31)),
    ]
    assert countback_months(date(2028, 3, 1), 2)[1] == (date(2028, 2, 1), date(2028, 2, 29))  # a leap year
    with pytest.raises(ValueError):
        countback_months(date(2026, 3, 1), 0)


@pytest.mark.parametrize(("receivables", "sales", "days", "exhausted"), [
    # The docs' example: 1,000 owed on 15 March, 600 sold in March to date, 800 in February.
    (1_000, (600, 800), Fraction(15) + Fraction(400, 800) * 28, False),
    # Inside this month's sales: a share of the 15 days so far.
    (300, (600, 800), Fraction(300, 600) * 15, False),
    # Exactly this month's sales: its days, whole.
    (600, (600, 800), Fraction(15), False),
    # Across three months, ending in January (31 days).
    (1_700, (600, 800, 600), Fraction(15 + 28) + Fraction(300, 600) * 31, False),
    # A month with no sales counts its days whole.
    (700, (600, 0, 200), Fraction(15 + 28) + Fraction(100, 200) * 31, False),
    # More than every sale of the months walked: at least all their days.
    (5_000, (600, 800), Fraction(15 + 28), True),
    # Nothing owed (or a net credit) is zero days.
    (0, (600, 800), Fraction(0), False),
    (-50, (600, 800), Fraction(0), False),
])
def test_dso_by_countback(receivables, sales, days, exhausted):
    dso = countback_dso(receivables, _months(date(2026, 3, 15), *sales))
    assert (dso.days, dso.exhausted) == (days, exhausted)


def test_dso_rounds_for_display():
    assert countback_dso(1_000, _months(date(2026, 3, 15), 600, 800)).rounded == 29.0
    assert countback_dso(100, _months(date(2026, 3, 15), 300)).rounded == 5.0
    assert countback_dso(100, _months(date(2026, 3, 14), 300)).rounded == 4.7


@pytest.mark.parametrize(("current", "sales", "expected"), [
    # The docs' example: 300 not yet due against 900 sold over 15 + 28 + 31 days (74).
    (300, (300, 300, 300), Fraction(300, 900) * 74),
    (0, (300, 300, 300), Fraction(0)),
    (900, (900, 0, 0), Fraction(74)),
    (100, (0, 0, 0), None),  # no sales: no figure
])
def test_best_possible_dso(current, sales, expected):
    assert best_possible_dso(current, _months(date(2026, 3, 15), *sales)) == expected


@pytest.mark.parametrize(("inputs", "expected"), [
    # The docs' example.
    (CeiInputs(1_000, 500, 600, 200), Fraction(900 * 100, 1_300)),
    # Everything collectible collected: 100 %.
    (CeiInputs(1_000, 500, 200, 200), Fraction(100)),
    # Nothing collected.
    (CeiInputs(1_000, 0, 1_000, 0), Fraction(0)),
    # Receivables grew past what was sold (a reversed payment): below zero, shown as is.
    (CeiInputs(1_000, 0, 1_100, 0), Fraction(-10)),
    # Nothing was collectible: no figure.
    (CeiInputs(0, 500, 500, 500), None),
    (CeiInputs(0, 0, 0, 0), None),
])
def test_collection_effectiveness_index(inputs, expected):
    assert collection_effectiveness(inputs) == expected


@pytest.mark.parametrize(("days_overdue", "bucket"), [
    (-5, "current"), (0, "current"), (1, "days_1_30"), (30, "days_1_30"), (31, "days_31_60"),
    (60, "days_31_60"), (61, "days_61_90"), (90, "days_61_90"), (91, "days_over_90"), (4_000, "days_over_90"),
])
def test_aging_boundaries(days_overdue, bucket):
    assert aging_bucket(days_overdue).key == bucket


@pytest.mark.parametrize(("tz", "day", "instant"), [
    ("UTC", date(2026, 6, 1), datetime(2026, 6, 1, 0, 0, tzinfo=UTC)),
    ("America/New_York", date(2026, 6, 1), datetime(2026, 6, 1, 4, 0, tzinfo=UTC)),  # EDT
    ("America/New_York", date(2026, 12, 1), datetime(2026, 12, 1, 5, 0, tzinfo=UTC)),  # EST
    ("Pacific/Auckland", date(2026, 7, 1), datetime(2026, 6, 30, 12, 0, tzinfo=UTC)),  # NZST, a day ahead
    ("Europe/Berlin", date(2026, 3, 29), datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),  # the night clocks go forward
])
def test_a_month_starts_at_local_midnight(tz, day, instant):
    assert local_midnight(day, tz) == instant


def test_iso_weeks_start_on_monday_and_cross_the_year():
    weeks = iso_weeks(date(2026, 12, 31), 3)  # a Thursday
    assert weeks[0] == (date(2026, 12, 28), date(2027, 1, 3))
    assert [iso_week_label(monday) for monday, _ in weeks] == ["2026-W53", "2027-W01", "2027-W02"]
    assert len(iso_weeks(date(2026, 6, 15))) == 8


def test_shares_and_bars():
    assert share(1, 4) == 25 and share(0, 0) is None
    assert bar_widths([0, 50, 100, 1], 100) == [0, 50, 100, 1]  # a small positive value stays visible
    assert bar_widths([0, 0]) == [0, 0] and bar_widths([]) == []
    assert bar_widths([-5, 10]) == [0, 100]


def test_a_reminder_counts_when_the_same_customer_pays_within_seven_days():
    sent = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    reminders = [(1, sent), (2, sent), (3, sent), (4, sent)]
    payments = [
        (1, sent + timedelta(days=7)),  # on the seventh day: counts
        (2, sent + timedelta(days=7, seconds=1)),  # just after: does not
        (3, sent - timedelta(hours=1)),  # before the reminder: does not
        (5, sent + timedelta(hours=1)),  # another customer
    ]
    assert followed_by_payment(reminders, payments) == 1
    assert followed_by_payment(reminders, payments + [(4, sent + timedelta(days=2))]) == 2
