"""SLA due times in a team's business calendar: weekends, hours, time zones, DST changes
(zoneinfo) and paused intervals, as a table of cases written in the team's local time."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import pytest

from portal.domain.routing.policy import (
    BusinessCalendar, Pause, SlaTargets, add_business_time, sla_due_times,
)

NEW_YORK = BusinessCalendar("America/New_York")                      # Mon-Fri 09:00-17:00
LONDON = BusinessCalendar("Europe/London", opens_minute=8 * 60 + 30, closes_minute=17 * 60 + 30)
SUN_TO_THU = BusinessCalendar("Asia/Jerusalem", days=frozenset({7, 1, 2, 3, 4}))
ROUND_THE_CLOCK = BusinessCalendar("America/New_York", days=frozenset(range(1, 8)), opens_minute=0,
                                   closes_minute=24 * 60)


def local(calendar: BusinessCalendar, text: str) -> datetime:
    """"2026-03-06 16:00" in the calendar's zone, as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(calendar.timezone)).astimezone(UTC)


def shown(calendar: BusinessCalendar, moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(ZoneInfo(calendar.timezone)).strftime("%Y-%m-%d %H:%M %a")


# (case, calendar, start (local), business hours to add, expected (local))
HOURS = [
    ("inside one day", NEW_YORK, "2026-06-15 10:00", 4, "2026-06-15 14:00 Mon"),
    ("ending exactly at closing", NEW_YORK, "2026-06-15 13:00", 4, "2026-06-15 17:00 Mon"),
    ("over the evening", NEW_YORK, "2026-06-15 15:00", 4, "2026-06-16 11:00 Tue"),
    ("over the weekend", NEW_YORK, "2026-06-19 16:00", 2, "2026-06-22 10:00 Mon"),
    ("raised on a Saturday", NEW_YORK, "2026-06-20 12:00", 1, "2026-06-22 10:00 Mon"),
    ("raised before opening", NEW_YORK, "2026-06-15 07:00", 1, "2026-06-15 10:00 Mon"),
    ("raised after closing", NEW_YORK, "2026-06-15 18:00", 1, "2026-06-16 10:00 Tue"),
    ("24 business hours are three days", NEW_YORK, "2026-06-15 09:00", 24, "2026-06-17 17:00 Wed"),
    ("US spring forward over the weekend", NEW_YORK, "2026-03-06 16:00", 2, "2026-03-09 10:00 Mon"),
    ("US fall back over the weekend", NEW_YORK, "2026-10-30 16:00", 2, "2026-11-02 10:00 Mon"),
    ("London's own DST date", LONDON, "2026-03-27 17:00", 1, "2026-03-30 09:00 Mon"),
    ("Sunday to Thursday week: Friday is off", SUN_TO_THU, "2026-06-19 10:00", 1, "2026-06-21 10:00 Sun"),
    ("Sunday to Thursday week: Saturday is off", SUN_TO_THU, "2026-06-20 10:00", 1, "2026-06-21 10:00 Sun"),
    # The night the clocks skip 02:00-03:00: 4 business hours are 4 real hours.
    ("round the clock across the skipped hour", ROUND_THE_CLOCK, "2026-03-07 23:00", 4, "2026-03-08 04:00 Sun"),
    # The night 01:00-02:00 happens twice: still 4 real hours.
    ("round the clock across the repeated hour", ROUND_THE_CLOCK, "2026-10-31 23:00", 4, "2026-11-01 02:00 Sun"),
]


@pytest.mark.parametrize(("case", "calendar", "start", "hours", "expected"), HOURS, ids=[c[0] for c in HOURS])
def test_business_hours_table(case, calendar, start, hours, expected):
    due = add_business_time(local(calendar, start), timedelta(hours=hours), calendar)
    assert shown(calendar, due) == expected


def test_the_skipped_hour_is_real_time_not_wall_clock_time():
    start = local(ROUND_THE_CLOCK, "2026-03-07 23:00")
    assert add_business_time(start, timedelta(hours=4), ROUND_THE_CLOCK) - start == timedelta(hours=4)


# (case, calendar, start (local), first response hours, resolution days, expected (local) both)
TARGETS = [
    ("five days from a Monday morning", NEW_YORK, "2026-06-15 10:00", 8, 5,
     ("2026-06-16 10:00 Tue", "2026-06-22 10:00 Mon")),
    ("days count from Monday's opening when raised on a Sunday", NEW_YORK, "2026-06-21 20:00", 2, 1,
     ("2026-06-22 11:00 Mon", "2026-06-22 17:00 Mon")),
    ("three days across the spring change: same wall-clock time", NEW_YORK, "2026-03-05 10:00", 4, 3,
     ("2026-03-05 14:00 Thu", "2026-03-10 10:00 Tue")),
    ("three days across the autumn change: same wall-clock time", NEW_YORK, "2026-10-29 10:00", 4, 3,
     ("2026-10-29 14:00 Thu", "2026-11-03 10:00 Tue")),
    ("London team over Easter-time DST", LONDON, "2026-03-26 12:00", 9, 2,
     ("2026-03-27 12:00 Fri", "2026-03-30 12:00 Mon")),
]


@pytest.mark.parametrize(("case", "calendar", "start", "hours", "days", "expected"), TARGETS,
                         ids=[c[0] for c in TARGETS])
def test_sla_targets_table(case, calendar, start, hours, days, expected):
    due = sla_due_times(local(calendar, start), SlaTargets(hours, days), calendar)
    assert (shown(calendar, due.first_response_due), shown(calendar, due.resolution_due)) == expected


def _pauses(calendar, *spans):
    return [Pause(local(calendar, a), local(calendar, b) if b else None) for a, b in spans]


# (case, pauses (local), expected first-response due for 4 h from Mon 10:00)
PAUSES = [
    ("no pause", [], "2026-06-15 14:00 Mon"),
    ("two hours paused inside business hours", [("2026-06-15 11:00", "2026-06-15 13:00")], "2026-06-15 16:00 Mon"),
    ("paused over the night: only business time is lost",
     [("2026-06-15 13:00", "2026-06-16 10:00")], "2026-06-16 11:00 Tue"),
    ("paused only outside business hours changes nothing",
     [("2026-06-15 18:00", "2026-06-16 08:00")], "2026-06-15 14:00 Mon"),
    ("a pause that ended before the start changes nothing",
     [("2026-06-12 10:00", "2026-06-12 16:00")], "2026-06-15 14:00 Mon"),
    ("overlapping pauses count once",
     [("2026-06-15 11:00", "2026-06-15 12:30"), ("2026-06-15 12:00", "2026-06-15 13:00")], "2026-06-15 16:00 Mon"),
    ("a pause starting before the dispute",
     [("2026-06-15 08:00", "2026-06-15 11:00")], "2026-06-15 15:00 Mon"),
    ("still paused before the target: no due time yet", [("2026-06-15 12:00", None)], None),
    ("still paused, but only after the target was due", [("2026-06-15 15:00", None)], "2026-06-15 14:00 Mon"),
    ("a pause that ends again, then one still open", [("2026-06-15 11:00", "2026-06-15 12:00"),
                                                     ("2026-06-15 16:00", None)], "2026-06-15 15:00 Mon"),
]


@pytest.mark.parametrize(("case", "spans", "expected"), PAUSES, ids=[c[0] for c in PAUSES])
def test_paused_time_does_not_count(case, spans, expected):
    due = add_business_time(local(NEW_YORK, "2026-06-15 10:00"), timedelta(hours=4), NEW_YORK,
                            _pauses(NEW_YORK, *spans))
    assert shown(NEW_YORK, due) == expected


def test_a_pause_moves_the_resolution_date_by_the_business_time_it_took():
    start = local(NEW_YORK, "2026-06-15 10:00")
    plain = sla_due_times(start, SlaTargets(8, 5), NEW_YORK)
    paused = sla_due_times(start, SlaTargets(8, 5), NEW_YORK,
                           _pauses(NEW_YORK, ("2026-06-16 09:00", "2026-06-17 09:00")))  # one business day
    assert shown(NEW_YORK, plain.resolution_due) == "2026-06-22 10:00 Mon"
    assert shown(NEW_YORK, paused.resolution_due) == "2026-06-23 10:00 Tue"


@pytest.mark.parametrize("kwargs", [
    {"days": frozenset()}, {"days": frozenset({0})}, {"opens_minute": 600, "closes_minute": 600},
    {"closes_minute": 24 * 60 + 1}, {"timezone": "Mars/Olympus_Mons"},
])
def test_impossible_calendars_are_refused_up_front(kwargs):
    with pytest.raises(Exception):  # noqa: B017 (ValueError, or zoneinfo's ZoneInfoNotFoundError)
        BusinessCalendar(**kwargs)


def test_naive_times_and_negative_amounts_are_refused():
    with pytest.raises(ValueError):
        add_business_time(datetime(2026, 6, 15, 10), timedelta(hours=1), NEW_YORK)
    with pytest.raises(ValueError):
        add_business_time(local(NEW_YORK, "2026-06-15 10:00"), timedelta(hours=-1), NEW_YORK)
