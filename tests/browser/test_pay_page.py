"""pay.js in Chromium with localstripe's fake Stripe.js: the card element, createToken, our
POST, 3-D Secure through confirmCardPayment, the status page polling until the webhook.

Only the real-Stripe branch of `StripeGateway._card_confirmation_params` and real Stripe.js's
iframe card element are not exercised here (they need Stripe's test mode on the internet).
"""

from __future__ import annotations

from datetime import datetime, UTC
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.support.fixtures.browser import fill_test_card, sign_in_browser
from tests.support.fixtures.stripe import CARD_3DS, CARD_DECLINED, CARD_OK
from tests.support.paying import make_company
from tests.support.paying import balance, payment_by_public_id
from tests.support import localstripe_app

# The app under test talks to localstripe (fixtures overriding the suite's fake gateway).
gateway, settings = localstripe_app.gateway, localstripe_app.settings

pytestmark = [pytest.mark.browser, pytest.mark.stripe]


@pytest.fixture
def shopper(app, db, clock, live_server, page):
    """A clerk signed in in the browser, with two open invoices."""
    clock.set(datetime.now(UTC))  # localstripe signs webhooks with the wall clock
    company = make_company(db, clock, 12_500, 8_000)
    sign_in_browser(app, db, clock, page, live_server, company.clerk)
    return company


def _open_pay_page(page, live_server, company) -> None:
    query = "&".join(f"invoice={invoice.public_id}" for invoice in company.invoices)
    page.goto(f"{live_server.url}/pay?{query}")


def test_pay_two_invoices_in_the_browser_and_watch_the_status_page_turn_paid(page, live_server, db, shopper, localstripe):
    localstripe.register_webhook(f"{live_server.url}/stripe/webhook")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
            and errors.append(f"{r.status} {r.url}"))

    _open_pay_page(page, live_server, shopper)
    second = shopper.invoices[1]
    page.locator(f"#amount-{second.public_id}").fill("30.00")
    expect(page.locator("#pay-total")).to_have_text("$155.00")
    page.locator(f"#reason-{second.public_id}").fill("Partial payment")
    page.locator("#po_number").fill("PO-1234")
    fill_test_card(page, CARD_OK)
    page.locator("#pay-button").click()

    page.wait_for_url(f"{live_server.url}/payments/*")
    # The status page polls until localstripe's webhook settles the payment, then reloads.
    expect(page.locator("#payment-status")).to_contain_text("Paid.", timeout=15_000)
    public_id = page.url.rsplit("/", 1)[1]
    assert payment_by_public_id(db, public_id).po_number == "PO-1234"
    assert [balance(db, invoice) for invoice in shopper.invoices] == [0, 5_000]
    assert errors == []


def test_declined_card_shows_stripes_message_and_lets_the_clerk_try_again(page, live_server, db, shopper, localstripe):
    _open_pay_page(page, live_server, shopper)
    fill_test_card(page, CARD_DECLINED)
    page.locator("#pay-button").click()
    expect(page.locator("#pay-error")).to_have_text("Your card was declined.")
    expect(page.locator("#pay-button")).to_be_enabled()
    assert [balance(db, invoice) for invoice in shopper.invoices] == [12_500, 8_000]

    fill_test_card(page, CARD_OK)
    page.locator("#pay-button").click()
    page.wait_for_url(f"{live_server.url}/payments/*")
    expect(page.locator("#payment-status")).to_contain_text("Processing")


def test_3ds_card_completes_authentication_in_the_page(page, live_server, db, shopper, localstripe):
    _open_pay_page(page, live_server, shopper)
    fill_test_card(page, CARD_3DS)
    page.locator("#pay-button").click()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(f"{live_server.url}/payments/*")
    expect(page.locator("#payment-status")).to_contain_text("Processing — confirming with your bank.")
    payment = payment_by_public_id(db, urlsplit(page.url).path.rsplit("/", 1)[1])
    assert localstripe.intent(payment.stripe_payment_intent_id)["status"] == "succeeded"
    assert payment.status == "requires_action"  # until the webhook says otherwise


def test_3ds_failure_cancels_the_attempt_so_the_clerk_can_pay_again(page, live_server, db, shopper, localstripe):
    _open_pay_page(page, live_server, shopper)
    fill_test_card(page, CARD_3DS)
    page.locator("#pay-button").click()
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.locator("#pay-error")).to_contain_text("authentication failed")
    [intent] = localstripe.intents()
    assert intent["status"] == "canceled"
    expect(page.locator("#pay-button")).to_be_enabled()
