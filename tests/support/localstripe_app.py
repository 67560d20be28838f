"""Fixtures that point the app under test at localstripe, for the tests that need it.

Import them into a test module or conftest (`from tests.support.localstripe_app import
gateway, settings`): they override the suite's defaults (the in-process fake gateway) there.
A test whose browser waits for localstripe's webhooks also takes `real_time_clock` (as its
`clock`) and `webhooks_to_app`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.domain.core.clock import FixedClock


@pytest.fixture
def gateway(localstripe_gateway):
    return localstripe_gateway


@pytest.fixture
def settings(settings, localstripe_server):
    return settings.with_changes(
        stripe_api_base=localstripe_server, stripe_js_url=f"{localstripe_server}/js.stripe.com/v3/",
    )


@pytest.fixture
def real_time_clock() -> FixedClock:
    """The clock at the real time: localstripe signs its webhooks with it, and the app must
    agree within 300 s."""
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def webhooks_to_app(live_server, localstripe):
    """localstripe sends its webhooks to the app on its live server while the test runs."""
    localstripe.register_webhook(f"{live_server.url}/stripe/webhook")
    yield
    localstripe.stop_webhooks()
