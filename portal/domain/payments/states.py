"""The payment status vocabulary and its transition table, named once.

Nothing moves backwards. `failed` may still become `processing`/`succeeded`: a declined
PaymentIntent stays open at Stripe (requires_payment_method) and could be confirmed again with
the client secret the browser holds; if money moves anyway, we record it rather than lose it.
"""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.locales import N_
from portal.domain.core.states import Transitions


class PaymentStatus(StrEnum):
    NEW = "new"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


PAYMENT_TRANSITIONS = Transitions("payment", PaymentStatus, {
    PaymentStatus.NEW: {PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED,
                        PaymentStatus.FAILED, PaymentStatus.CANCELED},
    PaymentStatus.REQUIRES_ACTION: {PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED,
                                    PaymentStatus.CANCELED},
    PaymentStatus.PROCESSING: {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED},
    PaymentStatus.SUCCEEDED: set(),
    PaymentStatus.FAILED: {PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED},
    PaymentStatus.CANCELED: set(),
})

# Statuses whose money may still move: they reserve the amounts they allocate.
IN_FLIGHT = (PaymentStatus.NEW, PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)
FINAL = PAYMENT_TRANSITIONS.final

# What a person reads for a payment still in flight.
IN_FLIGHT_LABELS = {
    PaymentStatus.NEW: N_("Payment started"),
    PaymentStatus.REQUIRES_ACTION: N_("Payment awaiting authentication"),
    PaymentStatus.PROCESSING: N_("Payment processing"),
}

# Which of our statuses a PaymentIntent status means (None: no change implied).
STATUS_FOR_INTENT: dict[str, PaymentStatus | None] = {
    "requires_payment_method": PaymentStatus.FAILED,  # we always confirm at creation: it was declined
    "requires_confirmation": None,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.PROCESSING,
    "requires_capture": PaymentStatus.PROCESSING,  # we capture automatically; should not happen
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CANCELED,
}


def status_after_create(intent_status: str) -> PaymentStatus:
    """Our status right after our own create call: never `succeeded` (that waits for the
    webhook or reconciliation), so a browser-driven request cannot write the ledger."""
    target = STATUS_FOR_INTENT.get(intent_status)
    if target in (None, PaymentStatus.SUCCEEDED):
        return PaymentStatus.PROCESSING
    return target
