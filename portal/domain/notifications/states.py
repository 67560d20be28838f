"""The outbox message status vocabulary and its transition table."""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.states import Transitions


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or held by a sender's lease)
    SENT = "sent"
    DEAD = "dead"  # given up: refused for good, or out of attempts; staff may retry it


OUTBOX_TRANSITIONS = Transitions("outbox message", OutboxStatus, {
    OutboxStatus.PENDING: {OutboxStatus.SENT, OutboxStatus.DEAD},
    OutboxStatus.SENT: set(),
    # Staff retry a dead message: pending again, with its attempts counted from zero.
    OutboxStatus.DEAD: {OutboxStatus.PENDING},
})
