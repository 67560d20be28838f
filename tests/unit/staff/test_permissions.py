"""The one permission table, restated here as the product wants it, and walked pair by pair:
a change to the table must change this expectation too, on purpose. Also the credit approval
limits per role and the credential rules."""

from __future__ import annotations

import pytest

from portal.domain.core.money import Money
from portal.domain.staff.policy import (
    CREDIT_LIMITS, Permission, PermissionDenied, allows, check_permission, credit_limit, may_approve_credit,
    password_problem, permissions_of, totp_required, within_credit_limit,
)
from portal.domain.staff.states import StaffRole

A, S, N, C = "admin", "supervisor", "analyst", "collector"
EXPECTED = {
    "staff": {A, S, N, C},
    "view_disputes": {A, S, N, C},
    "view_all_disputes": {A, S},
    "work_disputes": {A, S, N},
    "approve_credits": {A, S},
    "manage_routing": {A},
    "manage_staff": {A},
    "view_reports": {A, S},
    "refund_payments": {A, S},
    "manage_plans": {A, S, C},
    # The installment-plan policy is the admins'; holding a customer is a credit decision.
    "manage_plan_policy": {A},
    "hold_customers": {A, S},
    "manage_reminders": {A},
    "pause_reminders": {A, S, C},
    "import_invoices": {A, S},
    "export_cash": {A, S},
    "manage_outbox": {A, S},
    "work_followups": {A, S, N, C},
    "reissue_invoices": {A, S, N},
    "manage_contacts": {A, S, C},
    # Where cash data is sent and with which secret: admins only.
    "manage_webhooks": {A},
    # API keys reach every customer and invoice: admins only.
    "manage_api_keys": {A},
}
PAIRS = [(permission, role) for permission in Permission for role in StaffRole]


def test_the_expectation_names_every_permission():
    assert set(EXPECTED) == {str(permission) for permission in Permission}


@pytest.mark.parametrize(("permission", "role"), PAIRS, ids=[f"{r}:{p}" for p, r in PAIRS])
def test_each_role_has_a_permission_exactly_when_the_product_says(permission, role):
    assert allows(role, permission) is (role in EXPECTED[permission])
    assert (permission in permissions_of(role)) is (role in EXPECTED[permission])
    if role in EXPECTED[permission]:
        check_permission(role, permission)
    else:
        with pytest.raises(PermissionDenied):
            check_permission(role, permission)


@pytest.mark.parametrize("role", ["", "root", "ADMIN", None])
def test_unknown_roles_and_permissions_have_nothing(role):
    assert not any(allows(role, permission) for permission in Permission)
    assert not allows("admin", "delete_everything")


def test_only_admins_must_have_a_second_factor():
    assert {role for role in StaffRole if totp_required(role)} == {StaffRole.ADMIN}


@pytest.mark.parametrize(("role", "amount", "alone"), [
    ("analyst", Money(50_000, "USD"), True),       # at the limit
    ("analyst", Money(50_001, "USD"), False),      # one cent above
    ("analyst", Money(70_000, "JPY"), True),
    ("analyst", Money(70_001, "JPY"), False),
    ("analyst", Money(1, "KWD"), False),           # a currency without a limit row: approval needed
    ("supervisor", Money(2_500_000, "USD"), True),
    ("supervisor", Money(2_500_001, "USD"), False),
    ("supervisor", Money(1, "CHF"), False),
    ("admin", Money(99_999_999, "USD"), True),     # no limit
    ("admin", Money(10**12, "KWD"), True),
    ("collector", Money(1, "USD"), False),         # collectors do not resolve disputes
])
def test_credit_limits_per_role_and_currency(role, amount, alone):
    assert within_credit_limit(role, amount) is alone


def test_approving_needs_the_permission_and_a_limit_that_covers_it():
    big = Money(1_000_000, "USD")
    assert not may_approve_credit("analyst", Money(100, "USD"))  # within their limit, but no permission
    assert may_approve_credit("supervisor", big)
    assert not may_approve_credit("supervisor", Money(2_500_001, "USD"))
    assert may_approve_credit("admin", Money(2_500_001, "USD"))


def test_limits_are_money_of_the_asked_currency_and_none_means_no_limit():
    assert credit_limit("analyst", "usd") == Money(50_000, "USD")
    assert credit_limit("collector", "EUR") == Money(0, "EUR")
    assert credit_limit("admin", "EUR") is None
    assert set(CREDIT_LIMITS) == set(StaffRole)
    with pytest.raises(ValueError):
        within_credit_limit("analyst", Money(0, "USD"))


@pytest.mark.parametrize(("password", "ok"), [
    ("correct horse battery staple", True),
    ("short", False),
    ("a" * 12, False),                      # repetitive
    ("ana@northwind.example", False),       # the address itself
    ("x" * 257, False),
    ("Tr0ub4dor&3xyz", True),
])
def test_password_rules(password, ok):
    assert (password_problem(password, email="Ana@Northwind.example") is None) is ok
