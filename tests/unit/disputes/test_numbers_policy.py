"""The pure arithmetic behind the supervisors' numbers and the SLA warnings: percentiles, age
buckets, durations as shown, which SLA dates need a warning, and the warning window setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.config import ConfigError, Settings
from portal.domain.disputes.policy import (
    AGE_BUCKETS, SlaDue, SlaTarget, age_bucket, age_in_days, duration_text, percentile, sla_dues_to_warn,
)
from portal.domain.disputes.states import DisputeStatus

H = timedelta(hours=1)
NOW = datetime(2026, 6, 15, 14, 30, tzinfo=UTC)
WINDOW = timedelta(hours=4)


@pytest.mark.parametrize(("values", "fraction", "expected"), [
    ([], 0.5, None),
    ([1 * H], 0.5, 1 * H),
    ([1 * H], 0.9, 1 * H),
    ([1 * H, 3 * H], 0.5, 2 * H),
    ([3 * H, 1 * H], 0.9, timedelta(hours=2.8)),  # order does not matter
    ([1 * H, 2 * H, 3 * H], 0.5, 2 * H),
    ([n * H for n in range(1, 11)], 0.5, timedelta(hours=5.5)),
    ([n * H for n in range(1, 11)], 0.9, timedelta(hours=9.1)),
    ([n * H for n in range(1, 11)], 0.0, 1 * H),
    ([n * H for n in range(1, 11)], 1.0, 10 * H),
    ([5 * H] * 4 + [100 * H], 0.5, 5 * H),  # one outlier moves the median nowhere
    ([5 * H] * 4 + [100 * H], 0.9, 62 * H),
])
def test_percentile_interpolates_between_the_nearest_ranks(values, fraction, expected):
    assert percentile(values, fraction) == expected


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_a_percentile_outside_zero_to_one_is_refused(fraction):
    with pytest.raises(ValueError):
        percentile([H], fraction)


@pytest.mark.parametrize(("age", "days", "label"), [
    (timedelta(0), 0, "0–2 days"),
    (timedelta(days=2, hours=23, minutes=59), 2, "0–2 days"),
    (timedelta(days=3), 3, "3–7 days"),
    (timedelta(days=7, hours=23), 7, "3–7 days"),
    (timedelta(days=8), 8, "8–30 days"),
    (timedelta(days=30, hours=23), 30, "8–30 days"),
    (timedelta(days=31), 31, "Over 30 days"),
    (timedelta(days=400), 400, "Over 30 days"),
    (-timedelta(minutes=5), 0, "0–2 days"),  # a clock a little behind is not a negative age
])
def test_age_buckets(age, days, label):
    assert age_in_days(NOW - age, NOW) == days
    assert age_bucket(days).label == label


def test_the_buckets_start_at_zero_and_rise():
    starts = [bucket.min_days for bucket in AGE_BUCKETS]
    assert starts[0] == 0 and starts == sorted(set(starts))


@pytest.mark.parametrize(("value", "text"), [
    (None, "—"),
    (timedelta(seconds=59), "0 min"),
    (timedelta(minutes=45), "45 min"),
    (timedelta(hours=3), "3 h"),
    (timedelta(hours=3, minutes=20, seconds=50), "3 h 20 min"),
    (timedelta(days=2, hours=4, minutes=59), "2 d 4 h"),
    (timedelta(days=40), "40 d 0 h"),
])
def test_duration_text(value, text):
    assert duration_text(value) == text


def _dues(status=DisputeStatus.UNDER_REVIEW, first_due=None, responded=None, resolution_due=None):
    return sla_dues_to_warn(NOW, WINDOW, status=status, first_response_due_at=first_due,
                            first_responded_at=responded, resolution_due_at=resolution_due)


@pytest.mark.parametrize(("kwargs", "expected"), [
    # Within the window, at its edge, or already past: warned.
    ({"first_due": NOW + 3 * H}, [SlaDue(SlaTarget.FIRST_RESPONSE, NOW + 3 * H)]),
    ({"first_due": NOW + WINDOW}, [SlaDue(SlaTarget.FIRST_RESPONSE, NOW + WINDOW)]),
    ({"first_due": NOW - 30 * H}, [SlaDue(SlaTarget.FIRST_RESPONSE, NOW - 30 * H)]),
    ({"resolution_due": NOW + H}, [SlaDue(SlaTarget.RESOLUTION, NOW + H)]),
    ({"first_due": NOW - H, "resolution_due": NOW + 2 * H},
     [SlaDue(SlaTarget.FIRST_RESPONSE, NOW - H), SlaDue(SlaTarget.RESOLUTION, NOW + 2 * H)]),
    # Beyond the window, no dates, or already answered: nothing.
    ({"first_due": NOW + WINDOW + timedelta(seconds=1)}, []),
    ({}, []),
    ({"first_due": NOW - H, "responded": NOW - 2 * H}, []),
    ({"first_due": NOW - H, "responded": NOW - 2 * H, "resolution_due": NOW + H},
     [SlaDue(SlaTarget.RESOLUTION, NOW + H)]),
    # Open, or waiting for approval: the clock runs.
    ({"status": DisputeStatus.OPEN, "resolution_due": NOW}, [SlaDue(SlaTarget.RESOLUTION, NOW)]),
    ({"status": DisputeStatus.AWAITING_APPROVAL, "resolution_due": NOW}, [SlaDue(SlaTarget.RESOLUTION, NOW)]),
    # Paused while we wait for the customer, or closed: nothing.
    ({"status": DisputeStatus.AWAITING_CUSTOMER, "first_due": NOW - H, "resolution_due": NOW}, []),
    ({"status": DisputeStatus.REJECTED, "resolution_due": NOW - H}, []),
    ({"status": DisputeStatus.WITHDRAWN, "first_due": NOW - H}, []),
])
def test_which_sla_dates_need_a_warning(kwargs, expected):
    assert list(_dues(**kwargs)) == expected


@pytest.mark.parametrize(("value", "hours"), [(None, 4), ("1", 1), ("24", 24), ("168", 168)])
def test_the_warning_window_setting(value, hours):
    env = {"PORTAL_MODE": "test", "SECRET_KEY": "k" * 40, **({"SLA_WARNING_HOURS": value} if value else {})}
    assert Settings.from_env(env).sla_warning_hours == hours


@pytest.mark.parametrize("value", ["0", "-3", "169"])
def test_a_warning_window_outside_a_week_is_refused(value):
    with pytest.raises(ConfigError, match="SLA_WARNING_HOURS must be between 1 and 168"):
        Settings.from_env({"PORTAL_MODE": "test", "SECRET_KEY": "k" * 40, "SLA_WARNING_HOURS": value})
