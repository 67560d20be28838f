"""What the payment state machine means for money (every pair is walked in test_state_tables)."""

from __future__ import annotations

from datetime import datetime, UTC

import pytest

from portal.domain.core.errors import InvalidTransition
from portal.domain.gateway.protocol import INTENT_STATUSES
from portal.domain.payments.models import IN_FLIGHT_STATUSES, PAYMENT_STATUSES, Payment
from portal.domain.payments.service import move
from portal.domain.payments.states import (
    FINAL, PAYMENT_TRANSITIONS, STATUS_FOR_INTENT, PaymentStatus, status_after_create,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def test_move_changes_status_and_time_only_when_allowed():
    payment = Payment(public_id="p", status="succeeded", updated_at=None)
    with pytest.raises(InvalidTransition):
        move(payment, "processing", NOW)
    assert (payment.status, payment.updated_at) == ("succeeded", None)
    payment = Payment(public_id="p", status="new", updated_at=None)
    move(payment, "processing", NOW)
    assert (payment.status, payment.updated_at) == ("processing", NOW)


def test_succeeded_and_canceled_are_final_and_nothing_returns_to_new():
    assert FINAL == {"succeeded", "canceled"}
    assert not any(PAYMENT_TRANSITIONS.can_move(status, "new") for status in PaymentStatus)


def test_every_in_flight_status_can_still_end():
    for status in IN_FLIGHT_STATUSES:
        assert {"succeeded", "failed"} & PAYMENT_TRANSITIONS.targets(status)


def test_every_stripe_status_has_a_meaning():
    assert set(STATUS_FOR_INTENT) == set(INTENT_STATUSES)
    assert set(STATUS_FOR_INTENT.values()) - {None} <= set(PAYMENT_STATUSES)


@pytest.mark.parametrize("stripe_status", INTENT_STATUSES)
def test_our_own_create_call_never_settles_a_payment(stripe_status):
    """Only the webhook or reconciliation may write `succeeded` (and ledger entries)."""
    after = status_after_create(stripe_status)
    assert after != "succeeded"
    assert PAYMENT_TRANSITIONS.can_move("new", after)
