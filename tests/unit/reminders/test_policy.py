"""The reminders' pure decisions: the step reached, every exclusion, business hours across time
zones and a daylight-saving change, and the checks on an admin's policy."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from portal.domain.reminders.policy import (
    DEFAULT_STEPS, InvoiceToRemind, ReminderPolicyRefused, StepSpec, checked_steps, fill_placeholders,
    in_business_hours, latest_step_reached, remindable, steps_to_send,
)
from portal.domain.reminders.states import Tone

OFFSETS = [step.offset_days for step in DEFAULT_STEPS]
DUE = date(2026, 6, 1)


def test_the_default_policy_is_3_days_before_then_1_7_15_30_45_after():
    assert OFFSETS == [-3, 1, 7, 15, 30, 45]
    assert [step.tone for step in DEFAULT_STEPS][-1] == Tone.FINAL_NOTICE


@pytest.mark.parametrize(("today", "step"), [
    (date(2026, 5, 28), None), (date(2026, 5, 29), -3), (date(2026, 6, 1), -3), (date(2026, 6, 2), 1),
    (date(2026, 6, 8), 7), (date(2026, 6, 16), 15), (date(2026, 7, 1), 30), (date(2026, 7, 16), 45),
    (date(2027, 1, 1), 45),
])
def test_only_the_latest_step_reached_counts(today, step):
    assert latest_step_reached(OFFSETS, DUE, today) == step


def _invoice(invoice_id=1, *, balance=10_000, in_flight=0, held=0, currency="USD", due=DUE) -> InvoiceToRemind:
    return InvoiceToRemind(invoice_id, due, currency, balance, in_flight, held)


@pytest.mark.parametrize(("invoice", "excluded", "minimum", "kept"), [
    (_invoice(), set(), None, True),
    (_invoice(balance=0), set(), None, False),                    # paid
    (_invoice(held=10_000), set(), None, False),                  # wholly disputed
    (_invoice(held=4_000), set(), None, True),                    # partly disputed: the rest is chased
    (_invoice(in_flight=10_000), set(), None, False),             # an ACH payment in flight
    (_invoice(in_flight=6_000, held=4_000), set(), None, False),  # in flight and disputed: nothing left
    (_invoice(), {1}, None, False),                               # promised, or in an active plan
    (_invoice(), {2}, None, True),                                # another invoice excluded
    (_invoice(balance=4_999), set(), ("USD", 5_000), False),      # under the customer's minimum
    (_invoice(balance=5_000), set(), ("USD", 5_000), True),
    (_invoice(balance=100, currency="EUR"), set(), ("USD", 5_000), True),  # the minimum is per currency
])
def test_every_exclusion(invoice, excluded, minimum, kept):
    assert (remindable([invoice], excluded_ids=excluded, minimum=minimum) == [invoice]) is kept


def test_the_remindable_amount_leaves_out_held_and_in_flight_money():
    assert _invoice(balance=10_000, in_flight=2_500, held=1_000).remindable_minor == 6_500


def test_steps_to_send_groups_by_step_and_skips_what_was_sent():
    first, second, third = _invoice(1), _invoice(2, due=date(2026, 6, 5)), _invoice(3, due=date(2026, 5, 1))
    today = date(2026, 6, 9)  # 1: 8 days late (step 7); 2: 4 days (step 1); 3: 39 days (step 30)
    chosen = steps_to_send([first, second, third], offsets=OFFSETS, today=today, excluded_ids=set(),
                           already_sent={(3, 30)})
    assert chosen == {7: [first], 1: [second]}
    # A promise broken after steps 7 and 15 were skipped: only the latest step reached is sent.
    later = steps_to_send([first], offsets=OFFSETS, today=date(2026, 6, 20), excluded_ids=set(),
                          already_sent={(1, 1)})
    assert later == {15: [first]}


# ---------------------------------------------------------------------------------------------
# Business hours


@pytest.mark.parametrize(("moment", "zone", "inside"), [
    (datetime(2026, 6, 15, 13, 0, tzinfo=UTC), "America/New_York", True),    # Mon 09:00 EDT
    (datetime(2026, 6, 15, 12, 59, tzinfo=UTC), "America/New_York", False),  # Mon 08:59 EDT
    (datetime(2026, 6, 15, 21, 0, tzinfo=UTC), "America/New_York", False),   # Mon 17:00 EDT
    (datetime(2026, 6, 15, 20, 59, tzinfo=UTC), "America/New_York", True),
    (datetime(2026, 6, 15, 13, 0, tzinfo=UTC), "Asia/Tokyo", False),         # Mon 22:00 in Tokyo
    (datetime(2026, 6, 14, 0, 30, tzinfo=UTC), "Asia/Tokyo", False),         # Sunday 09:30 in Tokyo
    (datetime(2026, 6, 15, 0, 30, tzinfo=UTC), "Asia/Tokyo", True),          # Monday 09:30 in Tokyo
    (datetime(2026, 6, 13, 14, 0, tzinfo=UTC), "Europe/Paris", False),       # Saturday
    # Across the US change to standard time (1 Nov 2026): 13:30 UTC is 09:30 EDT on Friday
    # 30 Oct but 08:30 EST on Monday 2 Nov; 14:30 UTC is inside on the Monday.
    (datetime(2026, 10, 30, 13, 30, tzinfo=UTC), "America/New_York", True),
    (datetime(2026, 11, 2, 13, 30, tzinfo=UTC), "America/New_York", False),
    (datetime(2026, 11, 2, 14, 30, tzinfo=UTC), "America/New_York", True),
    # Europe changes on 25 Oct 2026: 16:30 UTC is 17:30 CET after it (closed), 18:30 CEST before.
    (datetime(2026, 10, 23, 14, 30, tzinfo=UTC), "Europe/Paris", True),      # 16:30 CEST
    (datetime(2026, 10, 26, 15, 30, tzinfo=UTC), "Europe/Paris", True),      # 16:30 CET
    (datetime(2026, 10, 26, 16, 30, tzinfo=UTC), "Europe/Paris", False),     # 17:30 CET
])
def test_business_hours_are_the_customers_own_across_time_zones_and_dst(moment, zone, inside):
    assert in_business_hours(moment, zone, set()) is inside


def test_the_suppliers_holidays_are_skipped_in_the_customers_calendar():
    moment = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)  # Friday 10:00 in New York
    assert in_business_hours(moment, "America/New_York", set())
    assert not in_business_hours(moment, "America/New_York", {date(2026, 12, 25)})
    # Already the 26th in Tokyo (00:00): the holiday of the 25th does not apply there.
    assert not in_business_hours(moment, "Asia/Tokyo", {date(2026, 12, 25)})  # midnight: closed anyway


# ---------------------------------------------------------------------------------------------
# The admin's policy


def _row(offset="1", tone="friendly", subject="Due: {total}", body="Hello {customer_name}\n{link}"):
    return (offset, tone, subject, body)


def test_a_good_policy_is_sorted_by_offset():
    steps = checked_steps([_row("7"), _row("-3", "firm"), _row("30", "final_notice")])
    assert [(s.offset_days, s.tone) for s in steps] == [(-3, Tone.FIRM), (7, Tone.FRIENDLY), (30, Tone.FINAL_NOTICE)]


@pytest.mark.parametrize(("rows", "message"), [
    ([], "at least one step"),
    ([_row(str(n)) for n in range(13)], "at most 12"),
    ([_row("1.5")], "whole days"), ([_row("x")], "whole days"), ([_row("-61")], "whole days"),
    ([_row("366")], "whole days"), ([_row("")], "whole days"), ([_row("1e3")], "whole days"),
    ([_row("1"), _row("1")], "same offset"),
    ([_row(tone="angry")], "choose a tone"),
    ([_row(subject="")], "Enter the subject"),
    ([_row(subject="a" * 201)], "too long"),
    ([_row(body="b" * 4001)], "too long"),
    ([_row(subject="Due\r\nBcc: x@evil.example")], "control character"),
    ([_row(subject="Due\x00")], "control character"),
    ([_row(body="Hello\x00")], "control character"),
    ([_row(body="Hello\u202e")], "control character"),
    ([_row(body="{{ config }}")], "unknown placeholder"),
    ([_row(subject="{customer.__class__}")], "unknown placeholder"),
])
def test_a_bad_policy_is_refused_with_a_message(rows, message):
    with pytest.raises(ReminderPolicyRefused) as refused:
        checked_steps(rows)
    assert message in refused.value.message


def test_placeholders_are_plain_text_substitution_in_one_pass():
    values = {"customer_name": "{total}", "total": "$10.00", "invoice_list": "", "link": "L"}
    assert fill_placeholders("Dear {customer_name}, pay {total} {unknown}", values) == \
        "Dear {total}, pay $10.00 {unknown}"
    assert StepSpec(-3, Tone.FRIENDLY, "", "").label == "3 days before the due date"
