"""The webhook delivery status vocabulary, its transition table, and the event types."""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.states import Transitions
from portal.domain.ledger.states import CASH_KINDS, EntryKind


class DeliveryStatus(StrEnum):
    PENDING = "pending"      # waiting for its next attempt (or held by a sender's lease)
    DELIVERED = "delivered"  # the endpoint answered 2xx
    DEAD = "dead"            # out of attempts, or refused for good (an address not allowed); staff may retry


DELIVERY_TRANSITIONS = Transitions("webhook delivery", DeliveryStatus, {
    DeliveryStatus.PENDING: {DeliveryStatus.DELIVERED, DeliveryStatus.DEAD},
    DeliveryStatus.DELIVERED: set(),
    # Staff retry a dead delivery: pending again, its attempts counted from zero.
    DeliveryStatus.DEAD: {DeliveryStatus.PENDING},
})


# One event type per cash row kind the export lists (every ledger kind but `issued`), and the
# test event staff send from the admin page.
CASH_EVENT_PREFIX = "cash."
TEST_EVENT_TYPE = "portal.test"
CASH_EVENT_TYPES: dict[str, EntryKind] = {f"{CASH_EVENT_PREFIX}{kind.value}": kind for kind in CASH_KINDS}
EVENT_TYPE_LABELS: dict[str, str] = {event_type: kind.label for event_type, kind in CASH_EVENT_TYPES.items()}


def cash_event_type(kind: EntryKind | str) -> str:
    return f"{CASH_EVENT_PREFIX}{EntryKind(kind).value}"
