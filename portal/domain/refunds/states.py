"""Refund and chargeback statuses, and their transition tables.

A refund is `requested` (its idempotency key committed, Stripe not yet sure to have it), then
what Stripe says: `pending` or `succeeded` (the refund entries are posted), later perhaps
`failed` or `canceled` (the entries are reversed). A card refund can fail days after it
"succeeded" (the card was closed), so `succeeded` is not final.

A chargeback case is `open` from `charge.dispute.created` until `charge.dispute.closed` says
`won` (the chargeback entries are reversed) or `lost` (they stay).
"""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.states import Transitions


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


REFUND_TRANSITIONS = Transitions("refund", RefundStatus, {
    RefundStatus.REQUESTED: {RefundStatus.PENDING, RefundStatus.SUCCEEDED, RefundStatus.FAILED,
                             RefundStatus.CANCELED},
    RefundStatus.PENDING: {RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED},
    RefundStatus.SUCCEEDED: {RefundStatus.FAILED, RefundStatus.CANCELED},
    RefundStatus.FAILED: set(),
    RefundStatus.CANCELED: set(),
})

# Refunds whose money has left us (or may still): they count against what is refundable.
REFUND_HOLDING = (RefundStatus.REQUESTED, RefundStatus.PENDING, RefundStatus.SUCCEEDED)
# Refunds whose entries are on the ledger.
REFUND_POSTED = (RefundStatus.PENDING, RefundStatus.SUCCEEDED)

# What a Stripe Refund status means for us (requires_action: Stripe waits for the customer's
# details on a method without card refunds; for our purposes still pending).
STATUS_FOR_STRIPE_REFUND: dict[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}

REFUND_LABELS = {
    RefundStatus.REQUESTED: "Sent to Stripe",
    RefundStatus.PENDING: "Pending",
    RefundStatus.SUCCEEDED: "Refunded",
    RefundStatus.FAILED: "Failed (balance restored)",
    RefundStatus.CANCELED: "Canceled (balance restored)",
}


class ChargebackStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


CHARGEBACK_TRANSITIONS = Transitions("chargeback", ChargebackStatus, {
    ChargebackStatus.OPEN: {ChargebackStatus.WON, ChargebackStatus.LOST},
    ChargebackStatus.WON: set(),
    ChargebackStatus.LOST: set(),
})

# Stripe's final dispute statuses, as ours. Every other status (warning_needs_response,
# needs_response, under_review, warning_under_review, prevented ...) keeps the case open.
CLOSED_DISPUTE_STATUSES: dict[str, ChargebackStatus] = {
    "won": ChargebackStatus.WON,
    "warning_closed": ChargebackStatus.WON,  # an inquiry closed without becoming a chargeback
    "lost": ChargebackStatus.LOST,
    # Stopped by a prevention tool before it became a chargeback: no money stays withdrawn.
    "prevented": ChargebackStatus.WON,
}
# Stripe's inquiry statuses (warning_needs_response, warning_under_review, warning_closed): the
# cardholder's bank asks questions; no money is withdrawn unless it escalates.
INQUIRY_PREFIX = "warning_"

CHARGEBACK_LABELS = {
    ChargebackStatus.OPEN: "Open",
    ChargebackStatus.WON: "Won (reinstated)",
    ChargebackStatus.LOST: "Lost",
}
