"""What each staff role may do: the one permission table, credit approval limits, and the
rules staff credentials follow. Pure data and decisions; nothing here touches the database.

Every admin page declares one `Permission` (see `admin.permissions`), and every domain action
that needs one checks it here, so a role's powers are read in one place. The sweep in
`tests/sweeps/test_admin_access_sweep.py` requests every admin route as each role and expects
exactly what `ROLES_BY_PERMISSION` says.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType

from portal.domain.access.rate_limits import Limit, hashed_bucket
from portal.domain.core.errors import DomainError
from portal.domain.core.money import Money, normalize_currency
from portal.domain.staff.states import StaffRole

ADMIN, SUPERVISOR, ANALYST, COLLECTOR = StaffRole.ADMIN, StaffRole.SUPERVISOR, StaffRole.ANALYST, StaffRole.COLLECTOR


class Permission(StrEnum):
    STAFF = "staff"                      # every signed-in staff member: dashboard, own account
    VIEW_DISPUTES = "view_disputes"      # read disputes, queues and customer context
    VIEW_ALL_DISPUTES = "view_all_disputes"  # the queue of every dispute, whoever owns it
    WORK_DISPUTES = "work_disputes"      # reply, request information, reassign, resolve
    APPROVE_CREDITS = "approve_credits"  # approve a credit someone else proposed above their limit
    MANAGE_ROUTING = "manage_routing"    # teams, memberships and routing rules
    MANAGE_STAFF = "manage_staff"        # create, edit, deactivate staff; end their sessions
    VIEW_REPORTS = "view_reports"        # aging, DSO, dispute cycle times, SLA breaches
    REFUND_PAYMENTS = "refund_payments"  # refund a settled payment
    MANAGE_PLANS = "manage_plans"        # approve or change installment plans and promises
    MANAGE_PLAN_POLICY = "manage_plan_policy"  # the installment-plan policy (limits, retries, reminders)
    HOLD_CUSTOMERS = "hold_customers"    # put a customer on hold (its plans wait for staff) and clear it
    MANAGE_REMINDERS = "manage_reminders"  # the reminder policy's steps, templates and holidays
    PAUSE_REMINDERS = "pause_reminders"  # see the reminders sent; pause a customer's, set a minimum
    IMPORT_INVOICES = "import_invoices"  # upload the ERP's customers, invoices, credit notes and voids
    EXPORT_CASH = "export_cash"          # download the cash rows (payments, credits, refunds) for the ERP
    MANAGE_OUTBOX = "manage_outbox"      # see the emails the outbox gave up on and send them again
    WORK_FOLLOWUPS = "work_followups"    # the follow-up queues: match reported payments, ask, assign, dismiss
    REISSUE_INVOICES = "reissue_invoices"  # give an invoice the PO a clerk reported (in place, or credited and replaced)
    MANAGE_CONTACTS = "manage_contacts"  # approve a contact a clerk named; undo "has left" or a failing address
    MANAGE_WEBHOOKS = "manage_webhooks"  # the ERP's webhook endpoints, their secrets and deliveries
    MANAGE_API_KEYS = "manage_api_keys"  # make and revoke the ERP's API keys (/api/v1)


ROLES_BY_PERMISSION: Mapping[Permission, frozenset[StaffRole]] = MappingProxyType({
    Permission.STAFF: frozenset(StaffRole),
    Permission.VIEW_DISPUTES: frozenset(StaffRole),
    Permission.VIEW_ALL_DISPUTES: frozenset({ADMIN, SUPERVISOR}),
    Permission.WORK_DISPUTES: frozenset({ADMIN, SUPERVISOR, ANALYST}),
    Permission.APPROVE_CREDITS: frozenset({ADMIN, SUPERVISOR}),
    Permission.MANAGE_ROUTING: frozenset({ADMIN}),
    Permission.MANAGE_STAFF: frozenset({ADMIN}),
    Permission.VIEW_REPORTS: frozenset({ADMIN, SUPERVISOR}),
    Permission.REFUND_PAYMENTS: frozenset({ADMIN, SUPERVISOR}),
    Permission.MANAGE_PLANS: frozenset({ADMIN, SUPERVISOR, COLLECTOR}),
    Permission.MANAGE_PLAN_POLICY: frozenset({ADMIN}),
    Permission.HOLD_CUSTOMERS: frozenset({ADMIN, SUPERVISOR}),
    Permission.MANAGE_REMINDERS: frozenset({ADMIN}),
    Permission.PAUSE_REMINDERS: frozenset({ADMIN, SUPERVISOR, COLLECTOR}),
    Permission.IMPORT_INVOICES: frozenset({ADMIN, SUPERVISOR}),
    Permission.EXPORT_CASH: frozenset({ADMIN, SUPERVISOR}),
    Permission.MANAGE_OUTBOX: frozenset({ADMIN, SUPERVISOR}),
    # Cash application and collections are collectors' work; billing (a PO) analysts'.
    Permission.WORK_FOLLOWUPS: frozenset({ADMIN, SUPERVISOR, ANALYST, COLLECTOR}),
    Permission.REISSUE_INVOICES: frozenset({ADMIN, SUPERVISOR, ANALYST}),
    Permission.MANAGE_CONTACTS: frozenset({ADMIN, SUPERVISOR, COLLECTOR}),
    # Where the portal sends cash data, with which secret: an integration setting, like staff.
    Permission.MANAGE_WEBHOOKS: frozenset({ADMIN}),
    Permission.MANAGE_API_KEYS: frozenset({ADMIN}),
})


def allows(role: StaffRole | str, permission: Permission | str) -> bool:
    """Whether `role` has `permission`. Unknown roles and permissions have nothing."""
    try:
        return StaffRole(role) in ROLES_BY_PERMISSION[Permission(permission)]
    except ValueError:
        return False


def permissions_of(role: StaffRole | str) -> frozenset[Permission]:
    return frozenset(permission for permission in Permission if allows(role, permission))


class PermissionDenied(DomainError):
    def __init__(self, message: str = "Your role does not allow this.") -> None:
        super().__init__(message)


def check_permission(role: StaffRole | str, permission: Permission) -> None:
    """For domain actions: raise `PermissionDenied` unless `role` has `permission`."""
    if not allows(role, permission):
        raise PermissionDenied()


# ---------------------------------------------------------------------------------------------
# Credit approval limits
#
# The largest credit (credit note on a disputed invoice) a role may issue on its own, per
# currency, in minor units. A credit above the issuer's limit waits for someone with
# APPROVE_CREDITS whose own limit covers it. A currency missing from a role's row means that
# role may not issue credits in it without approval (a new currency starts at zero, never at
# "no limit"); `None` for the whole row means no upper limit.

NO_LIMIT = None

CREDIT_LIMITS: Mapping[StaffRole, Mapping[str, int] | None] = MappingProxyType({
    ADMIN: NO_LIMIT,
    SUPERVISOR: MappingProxyType({"USD": 2_500_000, "EUR": 2_500_000, "GBP": 2_000_000, "CAD": 3_000_000,
                                  "JPY": 3_500_000}),
    ANALYST: MappingProxyType({"USD": 50_000, "EUR": 50_000, "GBP": 40_000, "CAD": 60_000, "JPY": 70_000}),
    COLLECTOR: MappingProxyType({}),
})


def credit_limit(role: StaffRole | str, currency: str) -> Money | None:
    """The largest credit `role` may issue alone in `currency`; None when it has no limit."""
    row = CREDIT_LIMITS[StaffRole(role)]
    currency = normalize_currency(currency)
    if row is NO_LIMIT:
        return None
    return Money(row.get(currency, 0), currency)


def within_credit_limit(role: StaffRole | str, amount: Money) -> bool:
    """Whether `role` may issue a credit of `amount` without anyone's approval."""
    if amount.minor <= 0:
        raise ValueError("a credit is a positive amount")
    if not allows(role, Permission.WORK_DISPUTES):
        return False
    limit = credit_limit(role, amount.currency)
    return limit is None or amount.minor <= limit.minor


def may_approve_credit(role: StaffRole | str, amount: Money) -> bool:
    """Whether `role` may approve someone else's credit of `amount`."""
    return allows(role, Permission.APPROVE_CREDITS) and within_credit_limit(role, amount)


# Refund limits
#
# The largest single refund a role may give back on a payment, per currency, in minor units
# (REFUND_PAYMENTS is needed as well). Read like the credit limits: a currency missing from a
# role's row is zero, `None` for the whole row is no upper limit. A refund above the limit is
# refused; someone whose limit covers it gives it.

REFUND_LIMITS: Mapping[StaffRole, Mapping[str, int] | None] = MappingProxyType({
    ADMIN: NO_LIMIT,
    SUPERVISOR: MappingProxyType({"USD": 1_000_000, "EUR": 1_000_000, "GBP": 800_000, "CAD": 1_200_000,
                                  "JPY": 1_500_000}),
    ANALYST: MappingProxyType({}),
    COLLECTOR: MappingProxyType({}),
})


def refund_limit(role: StaffRole | str, currency: str) -> Money | None:
    """The largest refund `role` may give in `currency`; None when it has no limit."""
    currency = normalize_currency(currency)
    if not allows(role, Permission.REFUND_PAYMENTS):
        return Money(0, currency)
    row = REFUND_LIMITS[StaffRole(role)]
    if row is NO_LIMIT:
        return None
    return Money(row.get(currency, 0), currency)


def within_refund_limit(role: StaffRole | str, amount: Money) -> bool:
    limit = refund_limit(role, amount.currency)
    return limit is None or amount.minor <= limit.minor


# ---------------------------------------------------------------------------------------------
# Credentials

# Roles that must have a second factor: they are made to enrol at their first sign-in.
TOTP_REQUIRED_ROLES = frozenset({ADMIN})
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; the cap bounds the work a request can ask for


# Brute force: sign-in (and re-authentication) attempts per account and per client address in a
# sliding window. Every attempt counts, right or wrong, so a guesser cannot reset the count by
# succeeding elsewhere; the address is checked first, so a flood from one address does not
# use up the attempts of the accounts it names.
SIGN_IN_WINDOW = timedelta(minutes=15)
SIGN_IN_ATTEMPTS_PER_ACCOUNT = 10
SIGN_IN_ATTEMPTS_PER_ADDRESS = 30


def staff_sign_in_limits(*, email: str, ip: str) -> list[Limit]:
    return [
        Limit(f"staff-sign-in:ip:{ip or 'unknown'}", SIGN_IN_ATTEMPTS_PER_ADDRESS, SIGN_IN_WINDOW),
        Limit(hashed_bucket("staff-sign-in:email", normalize_staff_email(email)), SIGN_IN_ATTEMPTS_PER_ACCOUNT,
              SIGN_IN_WINDOW),
    ]


def totp_required(role: StaffRole | str) -> bool:
    return StaffRole(role) in TOTP_REQUIRED_ROLES


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why `password` is not acceptable for a staff account, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if email and password.strip().lower() == email.strip().lower():
        return "The password must not be the email address."
    if len(set(password)) < 4:
        return "Use a less repetitive password."
    return None


def normalize_staff_email(email: str) -> str:
    """Staff addresses are unique whatever their case: kept lower-case."""
    return (email or "").strip().lower()


def timezone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone we know, or None."""
    from zoneinfo import available_timezones

    if name not in _known_timezones(available_timezones):
        return "Choose a time zone such as Europe/London or America/New_York."
    return None


_TIMEZONES: set[str] = set()


def _known_timezones(load) -> set[str]:
    if not _TIMEZONES:
        _TIMEZONES.update(load())
        _TIMEZONES.add("UTC")
    return _TIMEZONES
