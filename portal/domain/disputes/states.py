"""The dispute status vocabulary and its transition table, named once.

    open ──► under_review ◄──► awaiting_customer        (the SLA clock is paused while
      │           │                    │                  the customer is asked for information)
      │           ├──► awaiting_approval (a credit above the deciding person's limit)
      │           │            │
      ▼           ▼            ▼
    resolved_accepted · resolved_partial · rejected · rebilled · withdrawn   (final)

While a dispute is active (`ACTIVE`) its amount is held out of what is payable; reaching any
final status releases the hold (a credit note, when there is one, takes the credited part off
the balance first). The customer can withdraw until the dispute is decided; once a credit
waits for approval the decision is made, so a withdrawal is still possible (nothing was
credited yet) and releases the hold like any other end.
"""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.locales import N_
from portal.domain.core.states import Transitions


class DisputeStatus(StrEnum):
    OPEN = "open"  # raised, nobody from our side has answered yet
    UNDER_REVIEW = "under_review"
    AWAITING_CUSTOMER = "awaiting_customer"  # we asked a question: the SLA clock is paused
    AWAITING_APPROVAL = "awaiting_approval"  # a credit above the analyst's limit waits for a supervisor
    RESOLVED_ACCEPTED = "resolved_accepted"  # credited in full
    RESOLVED_PARTIAL = "resolved_partial"  # credited in part; the rest is payable again
    REJECTED = "rejected"  # no credit; the held amount is payable again
    REBILLED = "rebilled"  # credited and replaced by a corrected invoice
    WITHDRAWN = "withdrawn"  # the customer took it back


S = DisputeStatus
_DECISIONS = {S.RESOLVED_ACCEPTED, S.RESOLVED_PARTIAL, S.REJECTED, S.REBILLED}

DISPUTE_TRANSITIONS = Transitions("dispute", DisputeStatus, {
    S.OPEN: {S.UNDER_REVIEW, S.AWAITING_CUSTOMER, S.AWAITING_APPROVAL, S.WITHDRAWN, *_DECISIONS},
    S.UNDER_REVIEW: {S.AWAITING_CUSTOMER, S.AWAITING_APPROVAL, S.WITHDRAWN, *_DECISIONS},
    # An answer (or staff picking it up again) resumes the review; staff may also decide without
    # one (accept, or reject when no answer comes). A re-bill needs the review first.
    S.AWAITING_CUSTOMER: {S.UNDER_REVIEW, S.WITHDRAWN, S.RESOLVED_ACCEPTED, S.RESOLVED_PARTIAL, S.REJECTED},
    # The approver applies the credit, or sends it back to the review.
    S.AWAITING_APPROVAL: {S.UNDER_REVIEW, S.WITHDRAWN, S.RESOLVED_ACCEPTED, S.RESOLVED_PARTIAL},
    S.RESOLVED_ACCEPTED: set(),
    S.RESOLVED_PARTIAL: set(),
    S.REJECTED: set(),
    S.REBILLED: set(),
    S.WITHDRAWN: set(),
})

FINAL = DISPUTE_TRANSITIONS.final
# Statuses that hold the disputed amount out of what is payable.
ACTIVE = tuple(status for status in DisputeStatus if status not in FINAL)
# Active statuses whose SLA clock runs: it stands still while we wait for the customer.
SLA_RUNNING = tuple(status for status in ACTIVE if status != S.AWAITING_CUSTOMER)
# The final statuses we decided (the customer's withdrawal is not a decision).
DECIDED = tuple(status for status in DisputeStatus if status in _DECISIONS)

# What the customer reads.
STATUS_LABELS: dict[DisputeStatus, str] = {
    S.OPEN: N_("Received"),
    S.UNDER_REVIEW: N_("Under review"),
    S.AWAITING_CUSTOMER: N_("Waiting for your answer"),
    S.AWAITING_APPROVAL: N_("Awaiting approval"),
    S.RESOLVED_ACCEPTED: N_("Accepted: credited in full"),
    S.RESOLVED_PARTIAL: N_("Accepted in part"),
    S.REJECTED: N_("Rejected"),
    S.REBILLED: N_("Re-billed"),
    S.WITHDRAWN: N_("Withdrawn"),
}
# The reasons the portal starts with (migration 0010 seeds them in `dispute_reasons`), marked
# for the catalogue: a reason still named so is shown in the contact's language, one the
# admins renamed is shown as written.
DEFAULT_REASON_LABELS: dict[str, str] = {
    "pricing": N_("Pricing"),
    "quantity_short": N_("Quantity short"),
    "not_received": N_("Not received"),
    "damaged": N_("Damaged"),
    "po_missing": N_("PO missing or wrong"),
    "duplicate_billing": N_("Duplicate billing"),
    "tax": N_("Tax"),
    "service_quality": N_("Service quality"),
    "other": N_("Other"),
}
# The same states as our staff read them (the queue, the staff page, the filters).
STAFF_STATUS_LABELS: dict[DisputeStatus, str] = {**STATUS_LABELS, S.AWAITING_CUSTOMER: "Waiting for the customer"}


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


class EventKind(StrEnum):
    """What the history of a dispute records. `CUSTOMER_HIDDEN` ones are for staff only."""

    RAISED = "raised"
    MESSAGE = "message"
    NOTE = "note"  # an internal staff note
    INFORMATION_REQUESTED = "information_requested"
    ANSWERED = "answered"
    REVIEW_STARTED = "review_started"
    ASSIGNED = "assigned"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_DECLINED = "approval_declined"
    CREDITED = "credited"
    REJECTED = "rejected"
    REBILLED = "rebilled"
    WITHDRAWN = "withdrawn"


CUSTOMER_HIDDEN = frozenset({EventKind.NOTE, EventKind.APPROVAL_DECLINED})

EVENT_LABELS: dict[EventKind, str] = {
    EventKind.RAISED: N_("Dispute raised"),
    EventKind.MESSAGE: N_("Message"),
    EventKind.NOTE: N_("Internal note"),
    EventKind.INFORMATION_REQUESTED: N_("We asked for more information"),
    EventKind.ANSWERED: N_("You answered"),
    EventKind.REVIEW_STARTED: N_("Review started"),
    EventKind.ASSIGNED: N_("Assigned"),
    EventKind.APPROVAL_REQUESTED: N_("Credit awaiting approval"),
    EventKind.APPROVAL_DECLINED: N_("Credit sent back to review"),
    EventKind.CREDITED: N_("Credit note issued"),
    EventKind.REJECTED: N_("Rejected"),
    EventKind.REBILLED: N_("Re-billed with a corrected invoice"),
    EventKind.WITHDRAWN: N_("Withdrawn"),
}
