"""The adapter turns the SDK's exceptions into the gateway's named errors."""

from __future__ import annotations

import pytest
import stripe

from portal.domain.gateway.protocol import (
    GatewayRejected, GatewayUnavailable, IntentNotFound, PaymentDeclined,
)
from portal.domain.gateway.stripe_adapter import _translated_errors


def _raise_inside(exc: Exception, **kwargs):
    with _translated_errors(**kwargs):
        raise exc


def test_card_error_becomes_a_decline_with_stripes_message_and_intent():
    error = stripe.CardError("Your card has insufficient funds.", param=None, code="card_declined",
                             json_body={"error": {"message": "Your card has insufficient funds.", "code": "card_declined",
                                                  "decline_code": "insufficient_funds",
                                                  "payment_intent": {"id": "pi_9", "object": "payment_intent"}}})
    with pytest.raises(PaymentDeclined) as caught:
        _raise_inside(error)
    assert (caught.value.message, caught.value.code, caught.value.intent_id) == (
        "Your card has insufficient funds.", "insufficient_funds", "pi_9")


@pytest.mark.parametrize(("exc", "expected"), [
    (stripe.APIConnectionError("timed out"), GatewayUnavailable),
    (stripe.RateLimitError("slow down"), GatewayUnavailable),
    (stripe.APIError("boom", http_status=500), GatewayUnavailable),
    (stripe.IdempotencyError("key reused"), GatewayUnavailable),
    (stripe.InvalidRequestError("bad", param="amount", http_status=400), GatewayRejected),
    (stripe.AuthenticationError("bad key"), GatewayRejected),
])
def test_sdk_errors_map_to_named_errors(exc, expected):
    with pytest.raises(expected):
        _raise_inside(exc)


def test_not_found_is_its_own_error_where_asked():
    error = stripe.InvalidRequestError("No such payment_intent", param="id", http_status=404)
    with pytest.raises(IntentNotFound):
        _raise_inside(error, not_found=IntentNotFound)
    with pytest.raises(GatewayRejected):
        _raise_inside(error)
