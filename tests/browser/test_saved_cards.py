"""Saving a card in real Chromium against localstripe: the saved cards page → "Add a card" →
localstripe's card element (its Stripe.js: confirmCardSetup) → back to the list, where the card
shows as the default; then removing it behind the confirmation page. Screenshots at 390 and
1280 px land in test-artifacts/."""

from __future__ import annotations


import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.domain.methods.models import SavedMethod, StripeCustomer
from tests.support import localstripe_app
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.browser.page_checks import horizontal_overflow, screenshots_at_widths
from tests.support.fixtures.browser import fill_test_card, sign_in_browser
from tests.support.fixtures.stripe import CARD_OK

# The app under test talks to localstripe (fixtures overriding the suite's fake gateway).
gateway, settings = localstripe_app.gateway, localstripe_app.settings

pytestmark = pytest.mark.browser



def _shot(page: Page, name: str) -> None:
    screenshots_at_widths(page, f"saved-cards-{name}")


@pytest.mark.parametrize("width", [390, 1280])
def test_save_the_test_card_see_it_listed_and_remove_it(app, page: Page, db, clock, live_server, localstripe, width):
    customer = make_customer(db, clock, name="Acme Corp")
    make_invoice(db, clock, customer, total_minor=125_000)
    clerk = make_contact(db, clock, customer, email="ap.clerk@acme.example")
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": width, "height": 900})
    sign_in_browser(app, db, clock, page, live_server, clerk)

    page.goto(f"{live_server.url}/payment-methods")
    expect(page.get_by_text("No card is saved yet.")).to_be_visible()
    page.get_by_role("link", name="Add a card").click()
    expect(page.locator("#consent-text")).to_contain_text("I authorise")
    fill_test_card(page, CARD_OK)
    if width == 1280:
        _shot(page, "new")
    page.get_by_role("button", name="Agree and save the card").click()

    page.wait_for_url(f"{live_server.url}/payment-methods")
    row = page.locator("table.saved-methods tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Visa ending 4242")
    expect(row).to_contain_text("12/2034")
    expect(row.locator(".badge")).to_have_text("Default")
    assert horizontal_overflow(page) <= 0
    if width == 1280:
        _shot(page, "listed")

    db.expire_all()
    method = db.scalar(select(SavedMethod))
    stripe_customer = db.scalar(select(StripeCustomer))
    assert method.last4 == "4242" and "Mozilla" in method.user_agent and method.ip == "127.0.0.1"
    assert "Acme Corp" in method.consent_text
    at_stripe = localstripe.client.v1.payment_methods.retrieve(method.stripe_payment_method_id)
    assert at_stripe["customer"] == stripe_customer.stripe_customer_id

    row.get_by_role("link", name="Remove").click()
    expect(page.get_by_role("heading", name="Remove Visa ending 4242?")).to_be_visible()
    page.get_by_role("button", name="Remove this card").click()
    expect(page.get_by_text("Visa ending 4242 is removed.")).to_be_visible()
    expect(page.get_by_text("No card is saved yet.")).to_be_visible()
    assert localstripe.client.v1.payment_methods.retrieve(method.stripe_payment_method_id)["customer"] is None
    assert errors == []
