"""Payments tests run the app against localstripe: settings point the gateway and the page's
Stripe.js at it. Tests of failure paths swap in `fake_gateway` by overriding `gateway`."""

from __future__ import annotations

import pytest

from tests.support.factories import sign_in
from tests.support.paying import Company, make_company


@pytest.fixture
def gateway(localstripe_gateway):
    return localstripe_gateway


@pytest.fixture
def settings(settings, localstripe_server):
    return settings.with_changes(
        stripe_api_base=localstripe_server, stripe_js_url=f"{localstripe_server}/js.stripe.com/v3/",
    )


@pytest.fixture
def company(db, clock) -> Company:
    """A customer with a clerk, an AP mailbox and two open USD invoices (125.00 and 80.00)."""
    return make_company(db, clock, 12_500, 8_000)


@pytest.fixture
def signed_in(client, company, clock):
    sign_in(client, company.clerk, clock)
    return client
