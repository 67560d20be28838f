"""The contract check itself: it describes the SDK's own API version, and it refuses what the
real-Stripe branch used to send (the reason every real card payment failed)."""

from __future__ import annotations

import pytest
from stripe._api_version import _ApiVersion

from portal.domain.gateway.stripe_adapter import STRIPE_API_VERSION
from tests.contract.sdk_params import check_request, decode_form

pytestmark = pytest.mark.stripe_contract


def test_the_pinned_version_is_the_one_the_sdk_types_describe():
    """The params types describe the SDK's own version: if they differ, our requests are
    checked against the wrong rules. Bumping the SDK means re-reading Stripe's changelog."""
    assert STRIPE_API_VERSION == _ApiVersion.CURRENT


def test_the_check_refuses_what_the_real_branch_used_to_send():
    old = decode_form("amount=12500&currency=usd&confirm=true&metadata[portal_payment]=p&payment_method=pm_1"
                      "&payment_method_types[0]=card&use_stripe_sdk=true")
    problems = check_request("POST", "/v1/payment_intents", old,
                             {"Stripe-Version": STRIPE_API_VERSION, "Idempotency-Key": "k"}, STRIPE_API_VERSION)
    assert problems == ["POST /v1/payment_intents: 'payment_method_types' is not a parameter of "
                        "PaymentIntentCreateParams on this API version"]
