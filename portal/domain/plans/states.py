"""The plan and installment status vocabularies and their transition tables, named once.

A plan the customer proposes is `active` at once when it is inside the plan policy, otherwise
`pending_approval` until staff approve it (`active`), decline it (`declined`) or counter-propose
other terms (`countered`: the customer accepts them, `active`, or declines them, `declined`). An active plan
may be paused and resumed by staff, cancelled by staff, completed once every installment is
paid, or defaulted after the policy's number of failed collections (the remaining balance is
then due at once).

An installment is `scheduled` until it is due; the collector moves it to `charging` while its
off-session payment is in flight; the payment's outcome makes it `paid`, `failed` (a decline;
when the decline policy retries it, it keeps a `retry_on` date and the collector charges it
again then), `action_required` (the bank asks
the customer to authenticate: never retried off-session, the customer pays it on-session) or
`cancelled` with its plan. An installment debited from a saved US bank account stays `charging`
while the debit is processing (days); a debit that fails, or is returned after it had settled
(`paid` back to `failed`), leaves it `failed` with no retry date and pauses the plan (SECURITY.md
P11).
"""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.locales import N_
from portal.domain.core.states import Transitions


class PlanStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    COUNTERED = "countered"  # staff proposed other terms: the customer accepts or declines them
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    DEFAULTED = "defaulted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


PLAN_TRANSITIONS = Transitions("plan", PlanStatus, {
    PlanStatus.PENDING_APPROVAL: {PlanStatus.ACTIVE, PlanStatus.COUNTERED, PlanStatus.DECLINED,
                                  PlanStatus.CANCELLED},
    PlanStatus.COUNTERED: {PlanStatus.ACTIVE, PlanStatus.DECLINED, PlanStatus.CANCELLED},
    PlanStatus.ACTIVE: {PlanStatus.PAUSED, PlanStatus.COMPLETED, PlanStatus.DEFAULTED, PlanStatus.CANCELLED},
    PlanStatus.PAUSED: {PlanStatus.ACTIVE, PlanStatus.CANCELLED, PlanStatus.COMPLETED},
    PlanStatus.COMPLETED: set(),
    PlanStatus.DEFAULTED: set(),
    PlanStatus.DECLINED: set(),
    PlanStatus.CANCELLED: set(),
})

# Plans whose invoices are paid through the plan (and only through it).
LIVE_PLAN = (PlanStatus.PENDING_APPROVAL, PlanStatus.COUNTERED, PlanStatus.ACTIVE, PlanStatus.PAUSED)


class InstallmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CHARGING = "charging"
    PAID = "paid"
    FAILED = "failed"
    ACTION_REQUIRED = "action_required"
    CANCELLED = "cancelled"


INSTALLMENT_TRANSITIONS = Transitions("installment", InstallmentStatus, {
    InstallmentStatus.SCHEDULED: {InstallmentStatus.CHARGING, InstallmentStatus.PAID, InstallmentStatus.CANCELLED},
    InstallmentStatus.CHARGING: {InstallmentStatus.PAID, InstallmentStatus.FAILED, InstallmentStatus.ACTION_REQUIRED},
    # A failed installment is charged again on its retry date (a soft decline), or paid by
    # the customer; the plan's default or cancellation closes it.
    InstallmentStatus.FAILED: {InstallmentStatus.CHARGING, InstallmentStatus.PAID, InstallmentStatus.CANCELLED},
    InstallmentStatus.ACTION_REQUIRED: {InstallmentStatus.PAID, InstallmentStatus.CANCELLED},
    # A bank debit the bank returned after it had settled: the installment is owed again.
    InstallmentStatus.PAID: {InstallmentStatus.FAILED},
    InstallmentStatus.CANCELLED: set(),
})

# Installments still owed: what paying the plan off covers.
OWED = (InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED, InstallmentStatus.ACTION_REQUIRED)


class AmendmentStatus(StrEnum):
    """A new schedule staff propose for a running plan: the customer accepts or declines it;
    staff proposing another one first supersedes it."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SUPERSEDED = "superseded"


AMENDMENT_TRANSITIONS = Transitions("plan amendment", AmendmentStatus, {
    AmendmentStatus.PROPOSED: {AmendmentStatus.ACCEPTED, AmendmentStatus.DECLINED, AmendmentStatus.SUPERSEDED},
    AmendmentStatus.ACCEPTED: set(),
    AmendmentStatus.DECLINED: set(),
    AmendmentStatus.SUPERSEDED: set(),
})

# Plans whose schedule staff may amend (with the customer's agreement).
AMENDABLE_PLAN = (PlanStatus.ACTIVE, PlanStatus.PAUSED)


class Cadence(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


# What the customer reads: the choice of cadence, and the cadence inside a sentence ("3
# installments, monthly, paid by you.").
CADENCE_LABELS: dict[Cadence, str] = {
    Cadence.MONTHLY: N_("Monthly"),
    Cadence.BIWEEKLY: N_("Every two weeks"),
    Cadence.WEEKLY: N_("Weekly"),
}
CADENCE_WORDS: dict[Cadence, str] = {
    Cadence.MONTHLY: N_("monthly"),
    Cadence.BIWEEKLY: N_("every two weeks"),
    Cadence.WEEKLY: N_("weekly"),
}

# The statuses as the customer reads them (the plan's badge, each installment's).
PLAN_STATUS_LABELS: dict[PlanStatus, str] = {
    PlanStatus.PENDING_APPROVAL: N_("Waiting for our approval"),
    PlanStatus.COUNTERED: N_("New terms proposed"),
    PlanStatus.ACTIVE: N_("Active"),
    PlanStatus.PAUSED: N_("Paused"),
    PlanStatus.COMPLETED: N_("Completed"),
    PlanStatus.DEFAULTED: N_("Defaulted"),
    PlanStatus.DECLINED: N_("Declined"),
    PlanStatus.CANCELLED: N_("Plan cancelled"),
}
INSTALLMENT_STATUS_LABELS: dict[InstallmentStatus, str] = {
    InstallmentStatus.SCHEDULED: N_("Scheduled"),
    InstallmentStatus.CHARGING: N_("Being charged"),
    InstallmentStatus.PAID: N_("Paid"),
    InstallmentStatus.FAILED: N_("Failed"),
    InstallmentStatus.ACTION_REQUIRED: N_("Action needed"),
    InstallmentStatus.CANCELLED: N_("Cancelled"),
}


class PayBy(StrEnum):
    AUTOPAY = "autopay"  # charged off-session to a saved card or verified bank account by the collector
    MYSELF = "myself"  # the customer pays each installment on the pay page
