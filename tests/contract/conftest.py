"""The real dialect against a recording Stripe-shaped server (tests/contract/recorder.py)."""

from __future__ import annotations

import pytest

from portal.domain.gateway.stripe_adapter import StripeGateway


@pytest.fixture
def settings(settings, stripe_recorder):
    return settings.with_changes(stripe_dialect="real", stripe_api_base=stripe_recorder.url,
                                 stripe_js_url=f"{stripe_recorder.url}/v3/")


@pytest.fixture
def gateway(settings):
    return StripeGateway.from_settings(settings)
