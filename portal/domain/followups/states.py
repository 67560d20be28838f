"""The follow-up vocabularies, named once: kinds, the queue each kind belongs to, statuses and
their transition table.

    open ──► waiting ──► open        (staff asked the customer for something; the answer reopens it)
      │         └──────► resolved / dismissed
      ├────► resolved                (handled at its source: matched, re-issued, contact added, ...)
      └────► dismissed               (nothing to do: a duplicate, or the reason went away)

`resolved` and `dismissed` are final; a new report is a new follow-up.
"""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.locales import N_
from portal.domain.core.states import Transitions


class FollowupKind(StrEnum):
    # Reported by the customer's clerk.
    ALREADY_PAID = "already_paid"
    NEEDS_PO = "needs_po"
    AWAITING_APPROVAL = "awaiting_approval"
    WRONG_CONTACT = "wrong_contact"
    # Raised by the system.
    BANK_DEBIT_FAILED = "bank_debit_failed"
    PROMISE_BROKEN = "promise_broken"
    PLAN_DEFAULTED = "plan_defaulted"
    EMAIL_BOUNCED = "email_bounced"


class FollowupSource(StrEnum):
    CUSTOMER = "customer"
    SYSTEM = "system"


class FollowupQueue(StrEnum):
    """The kind of work, and so the team that does it."""

    CASH_APPLICATION = "cash_application"
    BILLING = "billing"
    COLLECTIONS = "collections"


class FollowupStatus(StrEnum):
    OPEN = "open"
    WAITING = "waiting"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


K = FollowupKind
Q = FollowupQueue
S = FollowupStatus

KIND_SOURCES: dict[FollowupKind, FollowupSource] = {
    K.ALREADY_PAID: FollowupSource.CUSTOMER,
    K.NEEDS_PO: FollowupSource.CUSTOMER,
    K.AWAITING_APPROVAL: FollowupSource.CUSTOMER,
    K.WRONG_CONTACT: FollowupSource.CUSTOMER,
    K.BANK_DEBIT_FAILED: FollowupSource.SYSTEM,
    K.PROMISE_BROKEN: FollowupSource.SYSTEM,
    K.PLAN_DEFAULTED: FollowupSource.SYSTEM,
    K.EMAIL_BOUNCED: FollowupSource.SYSTEM,
}

KIND_QUEUES: dict[FollowupKind, FollowupQueue] = {
    K.ALREADY_PAID: Q.CASH_APPLICATION,
    K.BANK_DEBIT_FAILED: Q.CASH_APPLICATION,
    K.NEEDS_PO: Q.BILLING,
    K.AWAITING_APPROVAL: Q.COLLECTIONS,
    K.WRONG_CONTACT: Q.COLLECTIONS,
    K.PROMISE_BROKEN: Q.COLLECTIONS,
    K.PLAN_DEFAULTED: Q.COLLECTIONS,
    K.EMAIL_BOUNCED: Q.COLLECTIONS,
}

FOLLOWUP_TRANSITIONS = Transitions("follow-up", FollowupStatus, {
    S.OPEN: {S.WAITING, S.RESOLVED, S.DISMISSED},
    S.WAITING: {S.OPEN, S.RESOLVED, S.DISMISSED},
    S.RESOLVED: set(),
    S.DISMISSED: set(),
})

FINAL = FOLLOWUP_TRANSITIONS.final
ACTIVE = frozenset(FollowupStatus) - FINAL

# What the customer reads (the clerk's own words where they reported it).
KIND_LABELS: dict[FollowupKind, str] = {
    K.ALREADY_PAID: N_("We already paid it"),
    K.NEEDS_PO: N_("We need a PO number, or the PO is wrong"),
    K.AWAITING_APPROVAL: N_("It's waiting for approval on our side"),
    K.WRONG_CONTACT: N_("I'm not the right person"),
    K.BANK_DEBIT_FAILED: N_("A bank payment failed or came back"),
    K.PROMISE_BROKEN: N_("A promise to pay was broken"),
    K.PLAN_DEFAULTED: N_("An installment plan defaulted"),
    K.EMAIL_BOUNCED: N_("A reminder email bounced"),
}

# What staff read: the work to do.
STAFF_KIND_LABELS: dict[FollowupKind, str] = {
    K.ALREADY_PAID: "Payment reported: match it",
    K.NEEDS_PO: "PO needed: re-issue the invoice",
    K.AWAITING_APPROVAL: "Waiting for the customer's approval",
    K.WRONG_CONTACT: "Wrong contact: approve the new one",
    K.BANK_DEBIT_FAILED: "Bank debit failed or returned",
    K.PROMISE_BROKEN: "Promise broken: chase",
    K.PLAN_DEFAULTED: "Plan defaulted: chase the balance",
    K.EMAIL_BOUNCED: "Reminder bounced: find the right address",
}

QUEUE_LABELS: dict[FollowupQueue, str] = {
    Q.CASH_APPLICATION: "Cash application",
    Q.BILLING: "Billing",
    Q.COLLECTIONS: "Collections",
}

STATUS_LABELS: dict[FollowupStatus, str] = {
    S.OPEN: "Open",
    S.WAITING: "Waiting for the customer",
    S.RESOLVED: "Resolved",
    S.DISMISSED: "Dismissed",
}

# The customer's view of the same statuses.
CUSTOMER_STATUS_LABELS: dict[FollowupStatus, str] = {
    S.OPEN: N_("We're on it"),
    S.WAITING: N_("Waiting for your answer"),
    S.RESOLVED: N_("Sorted"),
    S.DISMISSED: N_("Closed"),
}

STATUS_BADGES: dict[FollowupStatus, str] = {S.OPEN: "open", S.WAITING: "partial", S.RESOLVED: "paid",
                                             S.DISMISSED: "partial"}

# The clerk's forms, one per kind they can report, at `problems/new/<slug>` (under the portal's
# URL); reminder emails link to them with the invoices named.
KIND_SLUGS: dict[FollowupKind, str] = {
    K.ALREADY_PAID: "already-paid",
    K.NEEDS_PO: "po",
    K.AWAITING_APPROVAL: "approval",
    K.WRONG_CONTACT: "contact",
}
REPORT_PATH = "problems/new/{slug}"


class OfflineMethod(StrEnum):
    """How the clerk says they paid outside the portal (what they told us, to be matched)."""

    WIRE = "wire"
    ACH = "ach"
    CHECK = "check"
    CARD_ELSEWHERE = "card_elsewhere"


OFFLINE_METHOD_LABELS: dict[OfflineMethod, str] = {
    OfflineMethod.WIRE: N_("Wire transfer"),
    OfflineMethod.ACH: N_("ACH bank transfer"),
    OfflineMethod.CHECK: N_("Check"),
    OfflineMethod.CARD_ELSEWHERE: N_("Card, outside this portal"),
}

# The `payments.method` a matched report is recorded with: received outside Stripe, never
# confused with the portal's own card and bank-debit payments (refunds, returns and
# reconciliation only ever touch those).
OFFLINE_PAYMENT_METHODS: dict[OfflineMethod, str] = {
    OfflineMethod.WIRE: "offline_wire",
    OfflineMethod.ACH: "offline_ach",
    OfflineMethod.CHECK: "offline_check",
    OfflineMethod.CARD_ELSEWHERE: "offline_card",
}


class Outcome(StrEnum):
    """How a follow-up of these kinds ended (`Followup.outcome`)."""

    MATCHED = "matched"              # the reported payment was found and recorded
    PROMISE_KEPT = "promise_kept"    # the approval came through and the promise was paid
    PROMISE_BROKEN = "promise_broken"  # the promise made from it was broken (a new follow-up chases)
    DISMISSED = "dismissed"          # staff closed it, with a reason


# What the invoice shows while a payment report waits to be matched.
PAYMENT_REPORTED_LABEL = "Payment reported, being matched"
