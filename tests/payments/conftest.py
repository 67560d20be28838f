"""Payments tests run the app against localstripe: settings point the gateway and the page's
Stripe.js at it. Tests of failure paths swap in `fake_gateway` by overriding `gateway`."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice
from tests.factories import make_contact, make_customer, make_invoice, sign_in


@pytest.fixture
def gateway(localstripe_gateway):
    return localstripe_gateway


@pytest.fixture
def settings(settings, localstripe_server):
    return settings.with_changes(
        stripe_api_base=localstripe_server, stripe_js_url=f"{localstripe_server}/js.stripe.com/v3/",
    )


@dataclass
class Company:
    customer: Customer
    clerk: Contact
    ap_mailbox: Contact
    invoices: list[Invoice]


def make_company(db, clock, *totals: int, currency: str = "USD") -> Company:
    customer = make_customer(db, clock)
    clerk = make_contact(db, clock, customer, name="Pat Clerk")
    ap_mailbox = make_contact(db, clock, customer, email=f"ap-{customer.id}@example.com", name="AP", is_ap_mailbox=True)
    invoices = [make_invoice(db, clock, customer, total_minor=total, currency=currency) for total in totals]
    return Company(customer, clerk, ap_mailbox, invoices)


@pytest.fixture
def company(db, clock) -> Company:
    """A customer with a clerk, an AP mailbox and two open USD invoices (125.00 and 80.00)."""
    return make_company(db, clock, 12_500, 8_000)


@pytest.fixture
def signed_in(client, company, clock):
    sign_in(client, company.clerk, clock)
    return client
