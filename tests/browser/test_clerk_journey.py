"""The clerk's whole path in real Chromium, against the app on a real port and localstripe.

link in the email → confirm page → invoice list → pay two invoices by card (Stripe.js card
element, here localstripe's stand-in) → "processing" → localstripe's signed webhook reaches
the app → both invoices show paid. Screenshots land in test-artifacts/ for a person to look at.
(3-D Secure, declines and retries in the browser: tests/browser/test_pay_page.py.)
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.domain.core.clock import FixedClock
from portal.domain.access.tokens import LinkSigner
from portal.domain.access.service import issue_invoice_link
from portal.domain.notifications.models import OutboxMessage
from tests.browser.page_checks import screenshot
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.fixtures.browser import fill_test_card
from tests.support.fixtures.stripe import CARD_OK
from tests.support import localstripe_app

# The app under test talks to localstripe (fixtures overriding the suite's fake gateway).
gateway, settings = localstripe_app.gateway, localstripe_app.settings
real_time_clock, webhooks_to_app = localstripe_app.real_time_clock, localstripe_app.webhooks_to_app

pytestmark = pytest.mark.browser



@pytest.fixture
def clock(real_time_clock) -> FixedClock:
    return real_time_clock


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="ap.clerk@acme.example", name="Robin Ledger")
    invoices = [
        make_invoice(db, clock, customer, total_minor=125_000, po_number="PO-7781", number="INV-7001"),
        make_invoice(db, clock, customer, total_minor=48_050, po_number="PO-7790", number="INV-7002"),
    ]
    return customer, clerk, invoices


def _link_for(db, clock, settings, live_server, clerk, invoices) -> str:
    issued = issue_invoice_link(db, clock, LinkSigner.from_settings(settings), contact=clerk, invoices=invoices)
    db.commit()
    path = urlsplit(issued.url)
    return f"{live_server.url}{path.path}{'?' + path.query if path.query else ''}"


def _shot(page: Page, name: str) -> None:
    screenshot(page, name)


def test_from_email_link_to_two_paid_invoices(page: Page, db, clock, settings, live_server, webhooks_to_app, acme):
    customer, clerk, invoices = acme
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

    page.goto(_link_for(db, clock, settings, live_server, clerk, invoices))
    expect(page.get_by_text("ap.clerk@acme.example")).to_be_visible()
    expect(page.get_by_text("Acme Corp").first).to_be_visible()
    _shot(page, "1-confirm")
    page.get_by_role("button", name="View and pay").click()
    # The invoice link lands on the pay page with its invoices; the clerk goes to the list instead.
    expect(page.locator("#pay-total")).to_have_text("$1,730.50")

    page.goto(f"{live_server.url}/invoices")
    for invoice in invoices:
        page.locator(f"#select-{invoice.public_id}").check()
    expect(page.locator("#selection-summary")).to_contain_text("$1,730.50")
    _shot(page, "2-invoices")
    page.get_by_role("button", name="Pay selected invoices").click()

    expect(page.locator("#pay-total")).to_have_text("$1,730.50")
    fill_test_card(page, CARD_OK)
    page.locator("#po_number").fill("PO-7781")
    _shot(page, "3-pay")
    page.get_by_role("button", name="Pay $1,730.50", exact=True).click()

    page.wait_for_url(re.compile(r"/payments/[\w-]+$"), timeout=15_000)
    # The status page shows "Processing" until localstripe's webhook (about 1 s later) lands.
    expect(page.get_by_text("Paid.")).to_be_visible(timeout=15_000)
    _shot(page, "4-paid")

    page.goto(f"{live_server.url}/invoices?status=paid")
    for invoice in invoices:
        row = page.locator("tr", has_text=invoice.number)
        expect(row.locator(".badge-paid")).to_be_visible()
    _shot(page, "5-invoices-paid")

    receipts = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "payment_receipt")).all()
    assert [m.to_address for m in receipts] == ["ap.clerk@acme.example"]
    assert "$1,730.50" in receipts[0].body_text
    assert console_errors == []
