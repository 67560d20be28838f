"""methods.js's "real" dialect (the Payment Element in setup mode, deferred) in Chromium.

The page loads the scripted Stripe.js stand-in (tests/browser/stripe_js_standin.js) and the
server's Stripe calls go to the recording server of tests/contract/, which takes a SetupIntent
read back as confirmed with a test card (the stand-in calls no server). What is proved: the
Payment Element is set up in setup mode with the customer's currency, elements.submit() runs
before the server creates the SetupIntent, confirmSetup gets that SetupIntent's client secret
and an absolute return_url without redirecting for a card, and only then the server reads the
SetupIntent back and records the card; a decline in Stripe.js shows and saves nothing.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.domain.methods.models import SavedMethod
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.fixtures.browser import real_stripe_dialect, sign_in_browser

pytestmark = pytest.mark.browser


settings, gateway = real_stripe_dialect(
    lambda recorder: setattr(recorder, "setups_confirmed_in_browser", True))


@pytest.fixture
def clerk(app, db, clock, live_server, page):
    customer = make_customer(db, clock, name="Acme Corp")
    make_invoice(db, clock, customer, currency="EUR")
    contact = make_contact(db, clock, customer, email="ap@acme.example")
    sign_in_browser(app, db, clock, page, live_server, contact)
    return contact


@pytest.fixture
def problems(page):
    found: list[str] = []
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error" and found.append(f"console: {message.text}"))
    return found


def _script(page, *outcomes: str) -> None:
    page.add_init_script(f"window.STRIPE_STANDIN_SCRIPT = {list(outcomes)!r};")


def _calls(page, method: str) -> list:
    log = page.evaluate("JSON.parse(sessionStorage.getItem('stripeStandIn'))")
    return [call["args"] for call in log["calls"] if call["method"] == method]


def _stand_in_problems(page) -> list[str]:
    return page.evaluate("JSON.parse(sessionStorage.getItem('stripeStandIn'))")["problems"]


def _open(page, live_server) -> None:
    page.goto(f"{live_server.url}/payment-methods/new")
    expect(page.locator("#card-element [data-standin=payment-element]")).to_be_visible()


def test_save_a_card_with_confirm_setup(page, live_server, db, clerk, stripe_recorder, problems):
    _script(page, "setup_ok")
    _open(page, live_server)
    assert _calls(page, "stripe.elements") == [{"mode": "setup", "currency": "eur"}]
    page.get_by_role("button", name="Agree and save the card").click()
    page.wait_for_url(f"{live_server.url}/payment-methods")
    expect(page.locator("table.saved-methods")).to_contain_text("Visa ending 4242")

    [setup] = stripe_recorder.recorder.setups.values()
    [confirm] = _calls(page, "stripe.confirmSetup")
    assert confirm == {"clientSecret": setup["client_secret"], "redirect": "if_required",
                       "confirmParams": {"return_url": "http://localhost/payment-methods"}}  # PUBLIC_URL
    assert len(_calls(page, "elements.submit")) == 1
    db.expire_all()
    method = db.scalar(select(SavedMethod))
    assert method.stripe_payment_method_id == setup["payment_method"] and method.is_default
    assert problems == [] and _stand_in_problems(page) == []


def test_stripe_js_errors_show_and_save_nothing(page, live_server, db, clerk, stripe_recorder, problems):
    _script(page, "incomplete", "setup_declined")
    _open(page, live_server)
    button = page.get_by_role("button", name="Agree and save the card")
    button.click()
    expect(page.locator("#method-error")).to_have_text("Your card number is incomplete.")
    assert stripe_recorder.recorder.setups == {}  # nothing asked of the server before submit succeeds
    button.click()
    expect(page.locator("#method-error")).to_have_text("Your card was declined.")
    expect(button).to_be_enabled()
    db.expire_all()
    assert db.scalar(select(SavedMethod)) is None
    assert not any(r.method == "GET" and r.path.startswith("/v1/setup_intents/") for r in stripe_recorder.recorder.requests)
    assert problems == [] and _stand_in_problems(page) == []
