"""The payment state machine, exhaustively: every (from, to) pair is either in the table and
moves, or raises InvalidTransition and leaves the payment as it was."""

from __future__ import annotations

from datetime import datetime, UTC
from itertools import product

import pytest

from portal.domain.core.errors import InvalidTransition
from portal.domain.gateway.protocol import INTENT_STATUSES, IntentSnapshot
from portal.domain.payments.models import IN_FLIGHT_STATUSES, PAYMENT_STATUSES, Payment
from portal.domain.payments.service import (
    FINAL_STATUSES, STATUS_FOR_INTENT, TRANSITIONS, can_move, move, status_after_create,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

# The table, restated in full as the product wants it. A change to TRANSITIONS must change
# this too, on purpose.
EXPECTED = {
    ("new", "requires_action"), ("new", "processing"), ("new", "succeeded"), ("new", "failed"),
    ("new", "canceled"),
    ("requires_action", "processing"), ("requires_action", "succeeded"),
    ("requires_action", "failed"), ("requires_action", "canceled"),
    ("processing", "succeeded"), ("processing", "failed"),
    # A declined intent stays open at Stripe; if money moves anyway it is recorded.
    ("failed", "processing"), ("failed", "succeeded"),
}


def test_the_table_covers_exactly_the_known_statuses():
    assert set(TRANSITIONS) == set(PAYMENT_STATUSES)
    assert all(targets <= set(PAYMENT_STATUSES) for targets in TRANSITIONS.values())


@pytest.mark.parametrize(("current", "target"), list(product(PAYMENT_STATUSES, repeat=2)))
def test_every_pair(current, target):
    payment = Payment(public_id="p", status=current, updated_at=None)
    if (current, target) in EXPECTED:
        assert can_move(current, target)
        move(payment, target, NOW)
        assert (payment.status, payment.updated_at) == (target, NOW)
    else:
        assert not can_move(current, target)
        with pytest.raises(InvalidTransition):
            move(payment, target, NOW)
        assert (payment.status, payment.updated_at) == (current, None)


def test_succeeded_and_canceled_are_final_and_nothing_returns_to_new():
    assert FINAL_STATUSES == {"succeeded", "canceled"}
    assert not any("new" in targets for targets in TRANSITIONS.values())


def test_every_in_flight_status_can_still_end():
    for status in IN_FLIGHT_STATUSES:
        assert {"succeeded", "failed"} & TRANSITIONS[status]


def test_every_stripe_status_has_a_meaning():
    assert set(STATUS_FOR_INTENT) == set(INTENT_STATUSES)
    assert set(STATUS_FOR_INTENT.values()) - {None} <= set(PAYMENT_STATUSES)


@pytest.mark.parametrize("stripe_status", INTENT_STATUSES)
def test_our_own_create_call_never_settles_a_payment(stripe_status):
    """Only the webhook or reconciliation may write `succeeded` (and ledger entries)."""
    snapshot = IntentSnapshot(id="pi_1", status=stripe_status, amount=100, currency="USD", livemode=False)
    after = status_after_create(snapshot)
    assert after != "succeeded"
    assert can_move("new", after)
