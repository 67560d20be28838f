"""Fixtures that point the app under test at localstripe, for the tests that need it.

Import them into a test module or conftest (`from tests.support.localstripe_app import
gateway, settings`): they override the suite's defaults (the in-process fake gateway) there.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def gateway(localstripe_gateway):
    return localstripe_gateway


@pytest.fixture
def settings(settings, localstripe_server):
    return settings.with_changes(
        stripe_api_base=localstripe_server, stripe_js_url=f"{localstripe_server}/js.stripe.com/v3/",
    )
