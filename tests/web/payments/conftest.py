"""Payments tests run the app against localstripe: settings point the gateway and the page's
Stripe.js at it. Tests of failure paths swap in `fake_gateway` by overriding `gateway`."""

from __future__ import annotations

import pytest

from tests.support.factories import sign_in
from tests.support.paying import Company, make_company
from tests.support import localstripe_app

# The app under test talks to localstripe (fixtures overriding the suite's fake gateway).
gateway, settings = localstripe_app.gateway, localstripe_app.settings


@pytest.fixture
def company(db, clock) -> Company:
    """A customer with a clerk, an AP mailbox and two open USD invoices (125.00 and 80.00)."""
    return make_company(db, clock, 12_500, 8_000)


@pytest.fixture
def signed_in(client, company, clock):
    sign_in(client, company.clerk, clock)
    return client
