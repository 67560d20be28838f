"""Saving a US bank account with methods.js's "real" dialect in Chromium (the Stripe.js
stand-in, the recording server of tests/contract/ behind the app): a USD customer's form shows
the ACH mandate and tells the Payment Element the types the SetupIntent allows; a bank account
that waits for its microdeposits is listed as waiting and cannot be made the default; the
signed `setup_intent.succeeded` Stripe sends once the amounts are confirmed (sent here to the
live app's webhook endpoint) makes it verified and usable."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from portal.domain.methods.models import SavedMethod
from tests.contract.recorder import BANK_MICRODEPOSITS
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.fixtures.browser import real_stripe_dialect, sign_in_browser
from tests.support.fixtures.stripe import signed_headers, stripe_event

pytestmark = pytest.mark.browser


settings, gateway = real_stripe_dialect(
    lambda recorder: setattr(recorder, "setups_confirmed_in_browser", BANK_MICRODEPOSITS))


@pytest.fixture
def clerk(app, db, clock, live_server, page):
    customer = make_customer(db, clock, name="Acme Corp")
    make_invoice(db, clock, customer, currency="USD")
    contact = make_contact(db, clock, customer, email="ap@acme.example")
    sign_in_browser(app, db, clock, page, live_server, contact)
    return contact


def _calls(page, method: str) -> list:
    log = page.evaluate("JSON.parse(sessionStorage.getItem('stripeStandIn'))")
    return [call["args"] for call in log["calls"] if call["method"] == method]


def test_a_bank_account_waits_for_its_microdeposits_then_a_webhook_verifies_it(
        page, live_server, db, clock, clerk, stripe_recorder):
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.add_init_script("window.STRIPE_STANDIN_SCRIPT = ['setup_microdeposits'];")
    page.goto(f"{live_server.url}/payment-methods/new")
    expect(page.get_by_role("heading", name="Add a card or bank account")).to_be_visible()
    expect(page.locator("#bank-mandate")).to_contain_text("through the ACH network")
    assert _calls(page, "stripe.elements") == [
        {"mode": "setup", "currency": "usd", "paymentMethodTypes": ["card", "us_bank_account"]}]
    page.get_by_role("button", name="Agree and save").click()
    page.wait_for_url(f"{live_server.url}/payment-methods")
    row = page.locator("table.saved-methods tr", has_text="STRIPE TEST BANK checking account ending 6789")
    expect(row).to_contain_text("Waiting for verification")
    expect(row.get_by_role("button", name="Make default")).to_have_count(0)
    expect(page.get_by_text("Stripe sends two small deposits")).to_be_visible()

    [setup_id] = stripe_recorder.recorder.setups
    stripe_recorder.recorder.finish_setup(setup_id)  # the customer confirmed the amounts at Stripe
    now = int(clock.now().timestamp())  # the app's clock checks the signature's age
    payload = stripe_event("setup_intent.succeeded", stripe_recorder.recorder.setups[setup_id], created=now)
    answer = requests.post(f"{live_server.url}/stripe/webhook", data=payload, headers=signed_headers(payload, now),
                           timeout=10)
    assert answer.status_code == 200 and answer.json()["outcome"].endswith("-> verified")
    page.reload()
    expect(row).to_contain_text("Verified")
    expect(row).to_contain_text("Default")  # the company's first verified method
    db.expire_all()
    method = db.scalar(select(SavedMethod))
    assert (method.method_type, method.verification_status, method.is_default) == ("us_bank_account", "verified", True)
    assert problems == []
