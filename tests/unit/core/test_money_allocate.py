"""`allocate` / `largest_remainder`: exact splits of money (and counts) by weight."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.domain.core.money import Money, MoneyError, allocate, largest_remainder

weights = st.lists(st.integers(0, 1_000), min_size=1, max_size=12).filter(lambda ws: sum(ws) > 0)
float_weights = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=12).filter(
    lambda ws: sum(ws) > 0)


@given(total=st.integers(-10**9, 10**9), weights=weights)
def test_parts_add_up_exactly_and_stay_within_one_unit_of_the_exact_share(total, weights):
    parts = allocate(Money(total, "USD"), weights)

    assert sum(part.minor for part in parts) == total
    assert {part.currency for part in parts} == {"USD"}
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(total) * weight / sum(weights)
        assert abs(part.minor - exact) < 1
        if weight == 0:
            assert part.minor == 0


@given(total=st.integers(0, 10**9), weights=float_weights)
def test_float_weights_split_exactly_too(total, weights):
    assert sum(largest_remainder(total, weights)) == total


@given(total=st.integers(-10**9, 10**9), count=st.integers(1, 30))
def test_equal_weights_give_parts_that_differ_by_at_most_one_unit(total, count):
    parts = [part.minor for part in allocate(Money(total, "JPY"), [1] * count)]

    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1


@given(total=st.integers(-10**6, 10**6), weights=weights)
def test_the_split_is_deterministic(total, weights):
    assert allocate(Money(total, "EUR"), weights) == allocate(Money(total, "EUR"), list(weights))


def test_left_over_units_go_to_the_largest_remainders_then_the_earliest():
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    assert largest_remainder(10, [1, 2, 3, 4]) == [1, 2, 3, 4]
    assert largest_remainder(7, [5, 1, 4]) == [3, 1, 3]  # 3.5, 0.7, 2.8: the 0.8 and 0.7 get a unit
    assert [m.minor for m in allocate(Money(-100, "USD"), [1, 1, 1])] == [-34, -33, -33]


@pytest.mark.parametrize("bad", [[], [0, 0], [1, -1], [float("nan")], [float("inf"), 1]])
def test_weights_that_cannot_split_are_refused(bad):
    with pytest.raises(MoneyError):
        largest_remainder(100, bad)


def test_only_whole_units_are_split():
    with pytest.raises(MoneyError):
        largest_remainder(1.5, [1, 1])
