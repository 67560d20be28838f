"""pay.js's "real" dialect (the Payment Element in deferred-intent mode) in Chromium.

Real Stripe.js cannot load here, so the page loads a scripted stand-in of its documented
interface (tests/browser/stripe_js_standin.js, served from its own origin on 127.0.0.1: the
page's CSP must allow a STRIPE_JS_URL that is not js.stripe.com) and the server's Stripe calls go
to the Stripe-shaped recording server of tests/contract/. What is proved: the ConfirmationToken
Stripe.js makes reaches our server and our server creates and confirms the PaymentIntent with
it; Stripe.js's errors show in the page's error region and charge nothing; 3-D Secure runs
through handleNextAction with the intent's client secret; a failed authentication cancels the
attempt so the clerk can pay again. What is not: Stripe.js's own iframes and Stripe's servers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.domain.payments.models import Payment
from tests.support.fixtures.browser import real_stripe_dialect, sign_in_browser
from tests.support.paying import make_company
from tests.support.paying import balance, counts, payment_by_public_id

pytestmark = pytest.mark.browser

AUTHENTICATION_FAILED = ("We are unable to authenticate your payment method. Please choose a different payment "
                         "method and try again.")


settings, gateway = real_stripe_dialect()


@pytest.fixture
def shopper(app, db, clock, live_server, page):
    """A clerk signed in in the browser, with two open invoices (125.00 and 80.00 USD)."""
    company = make_company(db, clock, 12_500, 8_000)
    sign_in_browser(app, db, clock, page, live_server, company.clerk)
    return company


@pytest.fixture
def problems(page):
    """Page errors, CSP violations, failed responses and the stand-in's IntegrationErrors: each
    test asserts there were none."""
    found: list[str] = []
    page.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                         " var seen = JSON.parse(sessionStorage.getItem('cspViolations') || '[]');"
                         " seen.push(e.violatedDirective + ' ' + e.blockedURI);"
                         " sessionStorage.setItem('cspViolations', JSON.stringify(seen)); });")
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error" and found.append(f"console: {message.text}"))
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
            and found.append(f"{r.status} {r.url}"))
    return found


def _script(page, *outcomes: str) -> None:
    """One stand-in outcome per payment attempt (see stripe_js_standin.js)."""
    page.add_init_script(f"window.STRIPE_STANDIN_SCRIPT = {list(outcomes)!r};")


def _open_pay_page(page, live_server, company) -> dict[str, list[str]]:
    """Open the pay page; return its CSP's directives."""
    query = "&".join(f"invoice={invoice.public_id}" for invoice in company.invoices)
    response = page.goto(f"{live_server.url}/pay?{query}")
    expect(page.locator("#card-element [data-standin=payment-element]")).to_be_visible()
    policy = response.headers["content-security-policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


def _stand_in_log(page) -> dict:
    """What the stand-in recorded in this tab (it survives the move to the status page)."""
    return page.evaluate("JSON.parse(sessionStorage.getItem('stripeStandIn'))")


def _calls(page, method: str) -> list:
    return [call["args"] for call in _stand_in_log(page)["calls"] if call["method"] == method]


def _stand_in_problems(page) -> list[str]:
    """IntegrationErrors the stand-in raised and CSP violations the page reported."""
    return _stand_in_log(page)["problems"] + page.evaluate("JSON.parse(sessionStorage.getItem('cspViolations') || '[]')")


def _creates(stripe_recorder):
    return [r for r in stripe_recorder.recorder.requests if (r.method, r.path) == ("POST", "/v1/payment_intents")]


def _cancels(stripe_recorder):
    return [r for r in stripe_recorder.recorder.requests if r.method == "POST" and r.path.endswith("/cancel")]


def test_pay_two_invoices_with_a_confirmation_token(page, live_server, db, shopper, stripe_recorder, problems):
    _script(page, "ok")
    csp = _open_pay_page(page, live_server, shopper)
    # Stripe.js talks to Stripe, never to the server's route to Stripe (the recorder here).
    assert csp["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert stripe_recorder.url not in " ".join(sum(csp.values(), []))
    [options] = _calls(page, "stripe.elements")
    assert options == {"mode": "payment", "amount": 20_500, "currency": "usd"}
    assert _calls(page, "paymentElement.mount") == ["#card-element"]

    second = shopper.invoices[1]
    page.locator(f"#amount-{second.public_id}").fill("30.00")
    expect(page.locator("#pay-total")).to_have_text("$155.00")
    page.locator(f"#reason-{second.public_id}").fill("Partial payment")
    page.locator("#po_number").fill("PO-1234")
    page.locator("#pay-button").click()
    page.wait_for_url(f"{live_server.url}/payments/*")
    expect(page.locator("#payment-status")).to_contain_text("Processing — confirming with your bank.")

    [token_call] = _calls(page, "stripe.createConfirmationToken")
    assert token_call["amount"] == 15_500  # Elements knew the total the server charged
    [create] = _creates(stripe_recorder)
    payment = payment_by_public_id(db, page.url.rsplit("/", 1)[1])
    assert create.params["confirmation_token"] == payment.payment_token
    assert payment.payment_token.startswith("ctoken_ok_")
    assert create.params["amount"] == "15500" and create.params["currency"] == "usd"
    assert create.params["automatic_payment_methods"] == {"enabled": "true"}  # form-encoded
    assert "payment_method_types" not in create.params and "payment_method" not in create.params
    assert create.params["return_url"] == f"http://localhost/payments/{payment.public_id}"
    assert payment.status == "processing" and payment.po_number == "PO-1234"
    assert payment.stripe_payment_intent_id == next(iter(stripe_recorder.recorder.intents))
    assert _calls(page, "stripe.handleNextAction") == []
    assert problems == [] and _stand_in_problems(page) == []


def test_decline_at_confirmation_shows_stripes_message_and_charges_nothing(
        page, live_server, db, shopper, stripe_recorder, problems):
    _script(page, "declined", "ok")
    _open_pay_page(page, live_server, shopper)
    entries_before = counts(db)["entries"]
    page.locator("#pay-button").click()
    expect(page.locator("#pay-error")).to_have_text("Your card was declined.")
    expect(page.locator("#pay-button")).to_be_enabled()
    [create] = _creates(stripe_recorder)
    assert create.params["confirmation_token"].startswith("ctoken_declined_")
    assert [balance(db, invoice) for invoice in shopper.invoices] == [12_500, 8_000]
    assert counts(db)["entries"] == entries_before
    assert {p.status for p in _payments(db)} == {"failed"}

    page.locator("#pay-button").click()  # a new token from the same page
    page.wait_for_url(f"{live_server.url}/payments/*")
    expect(page.locator("#payment-status")).to_contain_text("Processing — confirming with your bank.")
    first, second = _creates(stripe_recorder)
    assert second.params["confirmation_token"].startswith("ctoken_ok_")
    assert second.headers["Idempotency-Key"] != first.headers["Idempotency-Key"]
    # The server answers 402 for the decline; nothing else may fail.
    assert [p for p in problems if "402" not in p] == [] and _stand_in_problems(page) == []


def test_errors_from_stripe_js_reach_the_error_region_and_nothing_reaches_our_server(
        page, live_server, db, shopper, stripe_recorder, problems):
    _script(page, "incomplete", "token_declined")
    _open_pay_page(page, live_server, shopper)
    before = counts(db)
    page.locator("#pay-button").click()
    expect(page.locator("#pay-error")).to_have_text("Your card number is incomplete.")
    expect(page.locator("#pay-button")).to_be_enabled()
    page.locator("#pay-button").click()
    expect(page.locator("#pay-error")).to_have_text("Your card was declined.")
    expect(page.locator("#pay-button")).to_be_enabled()
    assert len(_calls(page, "elements.submit")) == 2
    assert len(_calls(page, "stripe.createConfirmationToken")) == 1  # never after a failed submit
    assert stripe_recorder.recorder.requests == []
    assert counts(db) == before
    assert problems == [] and _stand_in_problems(page) == []


def test_3ds_completed_through_handle_next_action(page, live_server, db, shopper, stripe_recorder, problems):
    _script(page, "3ds_ok")
    _open_pay_page(page, live_server, shopper)
    page.locator("#pay-button").click()
    page.wait_for_url(f"{live_server.url}/payments/*")
    expect(page.locator("#payment-status")).to_contain_text("Processing — confirming with your bank.")

    [create] = _creates(stripe_recorder)
    assert create.params["confirmation_token"].startswith("ctoken_3ds_")
    [intent] = stripe_recorder.recorder.intents.values()
    assert _calls(page, "stripe.handleNextAction") == [{"clientSecret": intent["client_secret"]}]
    assert page.url.endswith("?authenticated=1")  # the wording only: the state waits for the webhook
    payment = payment_by_public_id(db, urlsplit(page.url).path.rsplit("/", 1)[1])
    assert payment.stripe_payment_intent_id == intent["id"]
    assert payment.status == "requires_action"  # until the webhook says otherwise
    assert _cancels(stripe_recorder) == []
    assert problems == [] and _stand_in_problems(page) == []


def test_3ds_failed_cancels_the_attempt_and_the_clerk_pays_again(
        page, live_server, db, shopper, stripe_recorder, problems):
    _script(page, "3ds_fail", "ok")
    _open_pay_page(page, live_server, shopper)
    page.locator("#pay-button").click()
    expect(page.locator("#pay-error")).to_have_text(AUTHENTICATION_FAILED)
    expect(page.locator("#pay-button")).to_be_enabled()

    [failed_intent] = stripe_recorder.recorder.intents.values()
    assert _calls(page, "stripe.handleNextAction") == [{"clientSecret": failed_intent["client_secret"]}]
    [cancel] = _cancels(stripe_recorder)
    assert cancel.path == f"/v1/payment_intents/{failed_intent['id']}/cancel"
    assert cancel.params == {"cancellation_reason": "requested_by_customer"}
    assert failed_intent["status"] == "canceled"
    assert {p.status for p in _payments(db)} == {"canceled"}

    page.locator("#pay-button").click()
    page.wait_for_url(f"{live_server.url}/payments/*")
    expect(page.locator("#payment-status")).to_contain_text("Processing — confirming with your bank.")
    first, second = _creates(stripe_recorder)
    assert second.params["confirmation_token"].startswith("ctoken_ok_")
    assert second.params["amount"] == first.params["amount"] == "20500"
    assert sorted(p.status for p in _payments(db)) == ["canceled", "processing"]
    assert problems == [] and _stand_in_problems(page) == []


def _payments(db):
    db.commit()
    db.expire_all()
    return db.scalars(select(Payment)).all()


def test_pay_by_us_bank_account_shows_the_mandate_and_lands_on_processing_expected_by(
        page, live_server, db, clock, shopper, stripe_recorder, problems):
    from portal.domain.payments.models import BankDebit
    from portal.domain.payments.policy import ach_expected_by
    from tests.browser.page_checks import WIDTHS, screenshot

    _script(page, "bank")
    _open_pay_page(page, live_server, shopper)
    mandate = page.locator("#bank-mandate")
    expect(mandate).to_be_hidden()
    page.locator("[data-standin-type=us_bank_account]").click()
    expect(mandate).to_be_visible()
    expect(page.locator("#mandate-text")).to_contain_text("you authorize")
    for width, height in (WIDTHS["desktop"], WIDTHS["phone"]):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"pay-bank-account-{width}")
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS["desktop"], strict=True)))

    page.locator("#pay-button").click()  # the authorization is not accepted yet: nothing is sent
    expect(page.locator("#pay-error")).to_have_text("Accept the debit authorization to pay from a bank account.")
    assert _calls(page, "elements.submit") == [] and stripe_recorder.recorder.requests == []

    page.locator("#mandate-accepted").check()
    page.locator("#pay-button").click()
    page.wait_for_url(f"{live_server.url}/payments/*")
    expected = ach_expected_by(clock.now().date()).strftime("%d %b %Y")
    expect(page.locator("#payment-status")).to_contain_text(f"Processing, expected by {expected}.")
    expect(page.locator("#payment-status")).to_contain_text("we'll email you when the bank confirms")
    for width, height in (WIDTHS["desktop"], WIDTHS["phone"]):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"payment-bank-processing-{width}")

    [create] = _creates(stripe_recorder)
    assert create.params["confirmation_token"].startswith("ctoken_bank_")
    assert create.params["payment_method_options"]["us_bank_account"]["verification_method"] == "automatic"
    acceptance = create.params["mandate_data"]["customer_acceptance"]
    assert acceptance["type"] == "online" and "Chrom" in acceptance["online"]["user_agent"]
    payment = payment_by_public_id(db, page.url.rsplit("/", 1)[1])
    assert (payment.status, payment.method) == ("processing", "us_bank_account")
    debit = db.get(BankDebit, payment.id)
    assert debit.user_agent == acceptance["online"]["user_agent"] and "authorize" in debit.mandate_text
    assert [balance(db, invoice) for invoice in shopper.invoices] == [12_500, 8_000]
    assert problems == [] and _stand_in_problems(page) == []
