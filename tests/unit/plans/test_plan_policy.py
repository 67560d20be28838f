"""The plan's pure rules: schedules split exactly (property test, SECURITY.md P6), monthly
dates clamp to the month's end, the plan policy's reasons, and the decline table (P8, P9)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings, strategies as st

from portal.domain.core.money import Money
from portal.domain.gateway.amounts import stripe_minimum
from portal.domain.plans.policy import (
    AUTHENTICATE, DECLINE_POLICY, RETRY, STOP, PlanPolicy, PlanRefused, add_months, after_decline, defaults_after,
    REASON_SEPARATOR, due_dates, next_retry, outside_policy, policy_reason_texts, schedule,
)
from portal.domain.core.locales import translate
from portal.domain.plans.states import Cadence

CURRENCIES = ["USD", "EUR", "JPY", "KWD", "GBP"]


@settings(max_examples=300, deadline=None)
@given(currency=st.sampled_from(CURRENCIES), total=st.integers(min_value=1, max_value=10**10),
       count=st.integers(min_value=2, max_value=12), cadence=st.sampled_from(list(Cadence)),
       first=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
def test_a_schedule_sums_exactly_spreads_by_one_unit_at_most_and_each_part_is_chargeable(
        currency, total, count, cadence, first):
    money = Money(total, currency)
    try:
        parts = schedule(money, count, cadence, first)
    except PlanRefused:
        # Refused only when an equal split would put a part below the card minimum.
        assert total // count < stripe_minimum(currency).minor
        return
    amounts = [part.amount.minor for part in parts]
    assert sum(amounts) == total
    assert max(amounts) - min(amounts) <= 1
    assert min(amounts) >= stripe_minimum(currency).minor
    assert amounts == sorted(amounts, reverse=True)  # the earlier parts take the extra units
    assert [part.number for part in parts] == list(range(1, count + 1))
    dates = [part.due_on for part in parts]
    assert dates[0] == first and dates == sorted(dates) and len(set(dates)) == count


def test_monthly_dates_keep_the_day_and_clamp_to_the_end_of_shorter_months():
    assert due_dates(date(2027, 1, 31), 4, Cadence.MONTHLY) == [
        date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)  # a leap year
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert due_dates(date(2026, 12, 28), 3, Cadence.WEEKLY)[-1] == date(2027, 1, 11)
    assert due_dates(date(2026, 12, 28), 3, Cadence.BIWEEKLY)[-1] == date(2027, 1, 25)


@pytest.mark.parametrize("count", [0, 1, 13])
def test_installment_counts_outside_two_to_twelve_are_refused(count):
    with pytest.raises(PlanRefused, match="between 2 and 12"):
        schedule(Money(100_000, "USD"), count, Cadence.WEEKLY, date(2027, 1, 4))


def test_parts_below_the_card_minimum_are_refused():
    with pytest.raises(PlanRefused, match="at least"):
        schedule(Money(99, "USD"), 2, Cadence.WEEKLY, date(2027, 1, 4))  # 0.50 USD is the minimum
    assert [p.amount.minor for p in schedule(Money(101, "USD"), 2, Cadence.WEEKLY, date(2027, 1, 4))] == [51, 50]


def test_the_policy_names_every_reason_a_plan_needs_staff():
    policy = PlanPolicy(max_total_minor=100_000, max_count=3, max_length_days=30, min_first_payment_minor=30_000)
    inside = schedule(Money(90_000, "USD"), 3, Cadence.WEEKLY, date(2027, 1, 4))
    assert outside_policy(policy, inside, defaulted_recently=False, on_hold=False) == []
    outside = schedule(Money(120_000, "USD"), 6, Cadence.MONTHLY, date(2027, 1, 4))
    reasons = [str(r) for r in outside_policy(policy, outside, defaulted_recently=True, on_hold=True)]
    assert len(reasons) == 6
    assert any("defaulted" in r for r in reasons) and any("hold" in r for r in reasons)


# The decline table, restated: a change to it must change this expectation, on purpose.
EXPECTED = {
    "authentication_required": AUTHENTICATE,
    **{code: RETRY for code in ("insufficient_funds", "generic_decline", "card_declined", "try_again_later",
                                "processing_error", "issuer_not_available", "approve_with_id",
                                "reenter_transaction", "card_velocity_exceeded",
                                "withdrawal_count_limit_exceeded", "do_not_honor")},
    **{code: STOP for code in ("lost_card", "stolen_card", "pickup_card", "expired_card", "incorrect_number",
                               "invalid_account", "card_not_supported", "currency_not_supported", "fraudulent",
                               "merchant_blacklist", "restricted_card", "security_violation",
                               "revocation_of_all_authorizations", "revocation_of_authorization",
                               "stop_payment_order", "transaction_not_allowed", "do_not_try_again",
                               "no_action_taken")},
}


@pytest.mark.parametrize("code", sorted(EXPECTED) + ["something_new", "refused:token", ""])
def test_the_decline_table_decides_retry_by_code(code):
    policy = PlanPolicy(retry_after_days=3, max_failures=3)
    expected = EXPECTED.get(code, STOP)  # an unknown code is never retried blindly
    assert after_decline(code) == expected
    retry = next_retry(policy, code, failures=1, today=date(2027, 1, 4))
    assert retry == (date(2027, 1, 7) if expected == RETRY else None)
    assert set(DECLINE_POLICY) == set(EXPECTED)


def test_retries_are_bounded_and_the_plan_defaults_at_the_limit():
    policy = PlanPolicy(retry_after_days=2, max_failures=3)
    assert next_retry(policy, "insufficient_funds", failures=2, today=date(2027, 1, 4)) == date(2027, 1, 6)
    assert next_retry(policy, "insufficient_funds", failures=3, today=date(2027, 1, 4)) is None
    assert [defaults_after(policy, n) for n in (1, 2, 3, 4)] == [False, False, True, True]


def test_the_stored_reasons_read_back_into_sentences_in_any_language():
    policy = PlanPolicy(max_count=3)
    outside = schedule(Money(120_000, "USD"), 6, Cadence.MONTHLY, date(2027, 1, 4))
    reasons = outside_policy(policy, outside, defaulted_recently=True, on_hold=True)
    stored = REASON_SEPARATOR.join(map(str, reasons))
    read_back = policy_reason_texts(stored + "; a reason written by hand")
    assert read_back[:-1] == reasons and read_back[-1] == "a reason written by hand"
    over_count = next(text for text in read_back if "installments" in str(text) and "more" in str(text))
    assert translate(over_count, "fr") == "plus de 3 échéances"
    assert translate(over_count, "de") == "mehr als 3 Raten"
    assert policy_reason_texts("") == []
