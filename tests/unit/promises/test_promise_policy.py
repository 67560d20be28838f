"""The promise policy: which dates may be promised, how often a date may move, what a note may
hold, and when a promise is kept, broken or still open."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.config import ConfigError, Settings
from portal.domain.promises.policy import (
    InvoiceFigures, PromisePolicy, PromiseRefused, check_date, check_method, check_move, clean_note, decide, moves_left,
)
from portal.domain.promises.states import PromiseStatus

TODAY = date(2026, 6, 15)
POLICY = PromisePolicy()  # 30 days ahead, 2 moves, 3 days' grace


@pytest.mark.parametrize("days", [1, 2, 29, 30])
def test_dates_from_tomorrow_to_the_limit_are_accepted(days):
    assert check_date(POLICY, TODAY + timedelta(days=days), TODAY) == TODAY + timedelta(days=days)


@pytest.mark.parametrize(("days", "message"), [
    (0, "from tomorrow"), (-1, "from tomorrow"), (-400, "from tomorrow"),
    (31, "within 30 days"), (3650, "within 30 days"),
])
def test_today_the_past_and_beyond_the_limit_are_refused(days, message):
    with pytest.raises(PromiseRefused, match=message):
        check_date(POLICY, TODAY + timedelta(days=days), TODAY)


def test_the_limit_is_the_policy_s():
    short = PromisePolicy(max_days=7)
    check_date(short, TODAY + timedelta(days=7), TODAY)
    with pytest.raises(PromiseRefused, match="within 7 days .by 22 Jun 2026"):
        check_date(short, TODAY + timedelta(days=8), TODAY)


def test_a_date_moves_as_often_as_the_policy_allows_then_no_more():
    current = TODAY + timedelta(days=5)
    assert check_move(POLICY, move_count=0, current=current, new=current + timedelta(days=1), today=TODAY)
    assert check_move(POLICY, move_count=1, current=current, new=current + timedelta(days=1), today=TODAY)
    with pytest.raises(PromiseRefused, match="cannot be moved again"):
        check_move(POLICY, move_count=2, current=current, new=current + timedelta(days=1), today=TODAY)
    with pytest.raises(PromiseRefused, match="cannot be moved"):
        check_move(PromisePolicy(max_moves=0), move_count=0, current=current, new=current + timedelta(days=1),
                   today=TODAY)
    assert [moves_left(POLICY, n) for n in (0, 1, 2, 3)] == [2, 1, 0, 0]


def test_a_move_to_the_same_date_or_out_of_range_is_refused():
    current = TODAY + timedelta(days=5)
    with pytest.raises(PromiseRefused, match="already the promised date"):
        check_move(POLICY, move_count=0, current=current, new=current, today=TODAY)
    with pytest.raises(PromiseRefused, match="within 30 days"):
        check_move(POLICY, move_count=0, current=current, new=TODAY + timedelta(days=31), today=TODAY)
    with pytest.raises(PromiseRefused, match="from tomorrow"):
        check_move(POLICY, move_count=0, current=current, new=TODAY, today=TODAY)


def test_methods_are_the_listed_ones_only():
    assert [str(check_method(m)) for m in ("wire", "ach", "check", "card")] == ["wire", "ach", "check", "card"]
    for bad in ("", "cash", "WIRE", "wire\n"):
        with pytest.raises(PromiseRefused, match="from the list"):
            check_method(bad)


@pytest.mark.parametrize("note", ["line\nbreak", "nul\x00", "tab\there", "cr\rlf", "sep\u2028arator", "rtl\u202eabc",
                                  "b\ufeffom"])
def test_notes_with_control_characters_are_refused(note):
    with pytest.raises(PromiseRefused, match="one line"):
        clean_note(note)


def test_notes_are_stripped_and_bounded():
    assert clean_note("  Check 1042, mailed Friday  ") == "Check 1042, mailed Friday"
    assert clean_note("") == ""
    assert len(clean_note("x" * 500)) == 500
    with pytest.raises(PromiseRefused, match="at most 500"):
        clean_note("x" * 501)


def _figures(*rows):
    return [InvoiceFigures(*row) for row in rows]


PROMISED = TODAY + timedelta(days=2)  # deadline (date + grace) is TODAY + 5


@pytest.mark.parametrize(("today", "invoices", "expected"), [
    # Everything paid (or credited): kept, before or after the date.
    (TODAY, [(0, 0, 0), (0, 0, 0)], PromiseStatus.KEPT),
    (PROMISED + timedelta(days=10), [(0, 0, 0)], PromiseStatus.KEPT),
    # Only disputed money left: nothing is owed until the dispute ends.
    (PROMISED + timedelta(days=10), [(5_000, 0, 5_000), (0, 0, 0)], PromiseStatus.KEPT),
    # Something owed, up to the date plus the grace: still open.
    (PROMISED, [(0, 0, 0), (100, 0, 0)], None),
    (PROMISED + timedelta(days=3), [(100, 0, 0)], None),
    # The day after the deadline: broken.
    (PROMISED + timedelta(days=4), [(0, 0, 0), (100, 0, 0)], PromiseStatus.BROKEN),
    (PROMISED + timedelta(days=4), [(10_000, 0, 4_000)], PromiseStatus.BROKEN),
    # What is owed is in flight (ACH processing): wait for it.
    (PROMISED + timedelta(days=4), [(10_000, 10_000, 0)], None),
    (PROMISED + timedelta(days=4), [(10_000, 6_000, 4_000)], None),
    (PROMISED + timedelta(days=4), [(10_000, 5_000, 0)], PromiseStatus.BROKEN),
])
def test_kept_broken_or_still_open(today, invoices, expected):
    assert decide(POLICY, promised_date=PROMISED, today=today, invoices=_figures(*invoices)) == expected


def test_the_grace_is_the_policy_s():
    owed = _figures((100, 0, 0))
    assert decide(PromisePolicy(grace_days=0), promised_date=PROMISED, today=PROMISED, invoices=owed) is None
    assert decide(PromisePolicy(grace_days=0), promised_date=PROMISED, today=PROMISED + timedelta(days=1),
                  invoices=owed) == PromiseStatus.BROKEN


def test_settings_carry_the_policy_and_refuse_absurd_limits():
    settings = Settings.from_env({"PORTAL_MODE": "test", "SECRET_KEY": "k" * 40, "PROMISE_MAX_DAYS": "14",
                                  "PROMISE_MAX_MOVES": "1", "PROMISE_GRACE_DAYS": "5"})
    assert settings.promise_policy == PromisePolicy(max_days=14, max_moves=1, grace_days=5)
    assert Settings.from_env({"PORTAL_MODE": "test", "SECRET_KEY": "k" * 40}).promise_policy == PromisePolicy()
    for name, value in (("PROMISE_MAX_DAYS", "0"), ("PROMISE_MAX_DAYS", "366"), ("PROMISE_MAX_MOVES", "-1"),
                        ("PROMISE_GRACE_DAYS", "31")):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({"PORTAL_MODE": "test", "SECRET_KEY": "k" * 40, name: value})
