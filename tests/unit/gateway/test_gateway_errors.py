"""The adapter turns the SDK's exceptions into the gateway's named errors."""

from __future__ import annotations

import pytest
import stripe

from portal.domain.gateway.protocol import (
    GatewayRejected, GatewayUnavailable, GatewayUnusable, IntentNotFound, PaymentDeclined,
)
from portal.domain.core.money import Money
from portal.domain.gateway.protocol import CardPaymentRequest
from portal.domain.gateway.stripe_adapter import UNAVAILABLE_MESSAGE, _translated_errors

PAYING = CardPaymentRequest(amount=Money(12_500, "USD"), payment_token="ctoken_1", idempotency_key="k" * 64,
                            reference="pay_1")


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
    (stripe.AuthenticationError("bad key"), GatewayUnusable),
])
def test_sdk_errors_map_to_named_errors(exc, expected):
    with pytest.raises(expected):
        _raise_inside(exc)


@pytest.mark.parametrize("exc", [
    stripe.AuthenticationError("Invalid API Key provided: sk_live_****", http_status=401),
    stripe.PermissionError("This API key is restricted", http_status=403),
    stripe.InvalidRequestError("Invalid Stripe API version: 2099-01-01", param=None, code="api_version_invalid",
                               http_status=400),
    stripe.InvalidRequestError("The payment_method_types parameter is no longer supported",
                               param="payment_method_types", code="payment_method_types_no_longer_supported",
                               http_status=400),
])
def test_refusals_of_us_while_paying_are_unusable_not_declines(exc):
    """A bad or restricted key, an API-version or parameter error: staff must act; the clerk
    reads that card payments are unavailable (and it never counts as a decline)."""
    with pytest.raises(GatewayUnusable) as caught:
        _raise_inside(exc, paying=PAYING)
    assert caught.value.message == UNAVAILABLE_MESSAGE
    assert str(exc.user_message or exc) in caught.value.detail


@pytest.mark.parametrize(("code", "shown"), [("amount_too_small", "below its card minimum ($0.50"),
                                             ("amount_too_large", "at most $999,999.99")])
def test_amount_limits_while_paying_show_the_limit(code, shown):
    exc = stripe.InvalidRequestError("Amount must be ...", param="amount", code=code, http_status=400)
    with pytest.raises(GatewayUnusable) as caught:
        _raise_inside(exc, paying=PAYING)
    assert shown in caught.value.message and caught.value.code == code


@pytest.mark.parametrize("exc", [
    stripe.InvalidRequestError("No such confirmationtoken: 'ctoken_bogus'", param="confirmation_token",
                               code="resource_missing", http_status=400),
    stripe.InvalidRequestError("No such token: 'tok_bogus'", param=None, code="resource_missing", http_status=404),
])
def test_a_token_stripe_does_not_know_is_rejected_not_declined(exc):
    with pytest.raises(GatewayRejected):
        _raise_inside(exc, paying=PAYING)


def test_not_found_is_its_own_error_where_asked():
    error = stripe.InvalidRequestError("No such payment_intent", param="id", http_status=404)
    with pytest.raises(IntentNotFound):
        _raise_inside(error, not_found=IntentNotFound)
    with pytest.raises(GatewayRejected):
        _raise_inside(error)
