"""Pure decisions about a customer's account: the aging buckets a collector reads.

One table drives the SQL totals of the overview and statement (`account.queries`), the label
of a single invoice, and the demo data's spread of overdue invoices.

The buckets cover every number of days exactly once, and exactly one of them (the oldest)
reaches back without limit: the overview sums the other buckets over the few due dates since
`aging_window_start` and takes the oldest bucket as what remains of the open total, so it
never reads an account's whole past.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from portal.domain.core.locales import N_


@dataclass(frozen=True)
class AgingBucket:
    """Open balances grouped by days past due: `min_days`..`max_days` inclusive (None: open)."""

    key: str
    label: str
    min_days: int | None
    max_days: int | None

    def holds(self, days_overdue: int) -> bool:
        return ((self.min_days is None or days_overdue >= self.min_days)
                and (self.max_days is None or days_overdue <= self.max_days))

    def due_dates(self, today: date) -> tuple[date | None, date | None]:
        """The same range as `holds`, as (earliest, latest) due date; None leaves a side open."""
        latest = today - timedelta(days=self.min_days) if self.min_days is not None else None
        earliest = today - timedelta(days=self.max_days) if self.max_days is not None else None
        return earliest, latest


AGING_BUCKETS: tuple[AgingBucket, ...] = (
    AgingBucket("current", N_("Current"), None, 0),
    AgingBucket("days_1_30", N_("1–30 days"), 1, 30),
    AgingBucket("days_31_60", N_("31–60 days"), 31, 60),
    AgingBucket("days_61_90", N_("61–90 days"), 61, 90),
    AgingBucket("days_over_90", N_("90+ days"), 91, None),
)


def aging_bucket(days_overdue: int) -> AgingBucket:
    for bucket in AGING_BUCKETS:
        if bucket.holds(days_overdue):
            return bucket
    raise AssertionError(f"no aging bucket holds {days_overdue}")  # the table covers all ints


def oldest_bucket() -> AgingBucket:
    """The one bucket with no earliest due date: what is left after the bounded buckets."""
    (bucket,) = [b for b in AGING_BUCKETS if b.max_days is None]
    return bucket


def aging_window_start(today: date) -> date:
    """The earliest due date a bounded bucket (or "not yet due") reaches on `today`."""
    earliest = [b.due_dates(today)[0] for b in AGING_BUCKETS if b.max_days is not None]
    return min([today, *earliest])
