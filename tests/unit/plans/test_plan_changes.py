"""The pure rules behind what staff change on plans: the policy admins store is bounded field
by field (every bound tried on both sides), a customer on hold is always outside the policy,
and a new schedule for what remains of a running plan splits it exactly, numbered after the
plan's installments (property test, SECURITY.md P6)."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest
from hypothesis import given, settings, strategies as st

from portal.domain.core.money import Money
from portal.domain.gateway.amounts import stripe_minimum
from portal.domain.plans.policy import (
    POLICY_BOUNDS, POLICY_LABELS, PlanPolicy, PlanRefused, amended_schedule, amendment_terms_text, checked_policy,
    outside_policy, policy_values, schedule,
)
from portal.domain.plans.states import Cadence

DEFAULTS = policy_values(PlanPolicy())
EDGES = [(field, value, ok) for field, (low, high) in POLICY_BOUNDS.items()
         for value, ok in ((low, True), (high, True), (low - 1, False), (high + 1, False))]


def test_the_defaults_are_inside_the_bounds_and_every_field_has_a_label():
    assert set(POLICY_LABELS) == set(POLICY_BOUNDS) == set(DEFAULTS)
    assert checked_policy(DEFAULTS) == PlanPolicy()


@pytest.mark.parametrize(("field", "value", "ok"), EDGES, ids=[f"{f}={v}" for f, v, _ in EDGES])
def test_each_value_is_accepted_exactly_inside_its_bounds(field, value, ok):
    values = {**DEFAULTS, field: value}
    if ok:
        assert getattr(checked_policy(values), field) == value
    else:
        with pytest.raises(PlanRefused, match=POLICY_LABELS[field].split(" (")[0]):
            checked_policy(values)


@pytest.mark.parametrize("values", [
    {k: v for k, v in DEFAULTS.items() if k != "max_count"},  # a field missing
    {**DEFAULTS, "surprise": 1},  # an unknown field
    {**DEFAULTS, "max_count": True},  # not a number
    {**DEFAULTS, "max_count": "6"},
])
def test_a_policy_with_missing_extra_or_untyped_values_is_refused(values):
    with pytest.raises(PlanRefused):
        checked_policy(values)


def test_a_customer_on_hold_is_outside_any_policy():
    parts = schedule(Money(30_000, "USD"), 3, Cadence.MONTHLY, date(2026, 7, 1))
    assert outside_policy(PlanPolicy(), parts, defaulted_recently=False, on_hold=False) == []
    assert list(map(str, outside_policy(PlanPolicy(), parts, defaulted_recently=False, on_hold=True))) == [
        "the account is on hold"]


@settings(max_examples=300, deadline=None)
@given(currency=st.sampled_from(["USD", "EUR", "JPY", "KWD"]), remaining=st.integers(min_value=1, max_value=10**9),
       after=st.integers(min_value=0, max_value=10), count=st.integers(min_value=2, max_value=12),
       cadence=st.sampled_from(list(Cadence)),
       first=st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)))
def test_a_new_schedule_splits_what_remains_exactly_after_the_plans_installments(
        currency, remaining, after, count, cadence, first):
    try:
        parts = amended_schedule(Money(remaining, currency), after, count, cadence, first)
    except PlanRefused:
        assert remaining // count < stripe_minimum(currency).minor
        return
    amounts = [part.amount.minor for part in parts]
    assert sum(amounts) == remaining and max(amounts) - min(amounts) <= 1
    assert [part.number for part in parts] == list(range(after + 1, after + count + 1))
    assert parts[0].due_on == first and all(a.due_on < b.due_on for a, b in pairwise(parts))


def test_the_new_schedules_terms_name_what_remains_and_each_new_installment():
    parts = amended_schedule(Money(50_001, "USD"), 2, 3, Cadence.MONTHLY, date(2026, 8, 31))
    terms = amendment_terms_text("Northwind", "Acme", parts, ["INV-1"], "card visa ending 4242")
    assert "what remains unpaid, $500.01, is paid in 3 installments" in terms
    assert "  3. 2026-08-31: $166.67" in terms and "  5. 2026-10-31: $166.67" in terms
    assert "4. 2026-09-30: $166.67" in terms
    assert "installments already paid stay paid" in terms and "saved card visa ending 4242" in terms


def test_the_plan_settings_are_the_defaults_and_use_the_same_bounds_as_the_admin_page():
    from portal.config import PLAN_SETTINGS, ConfigError, Settings

    base = {"PORTAL_MODE": "test", "SECRET_KEY": "k" * 40}
    assert Settings.from_env(base).plan_policy == PlanPolicy()
    assert Settings.from_env({**base, "PLAN_MAX_COUNT": "4"}).plan_policy.max_count == 4
    assert {field: bounds for field, bounds in PLAN_SETTINGS.values()} == POLICY_BOUNDS
    for name, (_, (low, high)) in PLAN_SETTINGS.items():
        for value in (low - 1, high + 1):
            with pytest.raises(ConfigError, match=name):
                Settings.from_env({**base, name: str(value)})


def test_the_terms_name_the_saved_bank_account_autopay_debits():
    from portal.domain.plans.policy import autopay_label, terms_text

    parts = amended_schedule(Money(20_000, "USD"), 0, 2, Cadence.MONTHLY, date(2026, 8, 31))
    bank = autopay_label("us_bank_account", "", "6789", "STRIPE TEST BANK", "checking")
    card = autopay_label("card", "visa", "4242")
    assert "to the saved bank account STRIPE TEST BANK checking account ending 6789" in terms_text(
        "Northwind", "Acme", parts, ["INV-1"], bank)
    assert "to the saved card visa ending 4242" in terms_text("Northwind", "Acme", parts, ["INV-1"], card)
