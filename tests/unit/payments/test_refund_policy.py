"""The refund split rule and the role refund limits (pure)."""

from __future__ import annotations

import pytest

from portal.domain.core.money import Money
from portal.domain.refunds.policy import RefundForm, RefundRefused, check_refund_form, split_in_allocation_order
from portal.domain.staff.policy import refund_limit, within_refund_limit
from portal.domain.staff.states import StaffRole


@pytest.mark.parametrize("amount, still_paid, parts", [
    (100, [(1, 100), (2, 50)], [(1, 100)]),
    (120, [(1, 100), (2, 50)], [(1, 100), (2, 20)]),
    (150, [(1, 100), (2, 50)], [(1, 100), (2, 50)]),
    (30, [(1, 0), (2, 50)], [(2, 30)]),  # an invoice already refunded in full is skipped
])
def test_split_in_allocation_order(amount, still_paid, parts):
    assert split_in_allocation_order(amount, still_paid) == parts
    assert sum(minor for _, minor in parts) == amount


@pytest.mark.parametrize("amount", [0, -1, 151])
def test_split_refuses_what_cannot_be_split(amount):
    with pytest.raises(ValueError):
        split_in_allocation_order(amount, [(1, 100), (2, 50)])


def test_refund_limits_by_role():
    assert refund_limit(StaffRole.ADMIN, "USD") is None
    assert refund_limit(StaffRole.SUPERVISOR, "usd") == Money(1_000_000, "USD")
    assert refund_limit(StaffRole.SUPERVISOR, "CHF") == Money(0, "CHF")  # a new currency starts at zero
    assert refund_limit(StaffRole.ANALYST, "USD") == Money(0, "USD")  # no REFUND_PAYMENTS
    assert within_refund_limit(StaffRole.SUPERVISOR, Money(1_000_000, "USD"))
    assert not within_refund_limit(StaffRole.SUPERVISOR, Money(1_000_001, "USD"))


@pytest.mark.parametrize("form", [
    RefundForm("short", "1.00", "Returned"),
    RefundForm("t" * 32, "1.00", "  "),
    RefundForm("t" * 32, "1.00", "x" * 501),
    RefundForm("t" * 32, "1.00", "line\nbreak"),
    RefundForm("t" * 32, "1\x00", "Returned"),
])
def test_malformed_forms_are_refused(form):
    with pytest.raises(RefundRefused):
        check_refund_form(form)
