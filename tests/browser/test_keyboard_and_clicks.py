"""The clerk's path with the keyboard alone, and counted in clicks, in Chromium.

Keyboard: from the link in the email to "Paid" using only Tab, Shift+Tab, Space and Enter,
through a declined card and a failed 3-D Secure step, asserting where the focus is after each
error (the error summary, then its links back to the card or to Pay). The real dialect runs
against the Stripe.js stand-in and the recording Stripe-shaped server; the webhook that
settles the payment is signed and sent like Stripe's.

Clicks: from each kind of link to the card form in at most two clicks, at 1280 and 390 px.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from portal.domain.access.service import issue_invoice_link, issue_sign_in_link
from portal.domain.access.tokens import LinkSigner
from tests.browser.page_checks import WIDTHS
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.fixtures.browser import real_stripe_dialect, sign_in_browser
from tests.support.fixtures.stripe import intent_object, stripe_event
from tests.support.paying import make_company, payment_by_public_id, post_event

pytestmark = pytest.mark.browser

AUTHENTICATION_FAILED = ("We are unable to authenticate your payment method. Please choose a different payment "
                         "method and try again.")
ALLOWED_KEYS = ("Tab", "Shift+Tab", "Space", "Enter")


settings, gateway = real_stripe_dialect()


def _local(url: str, live_server) -> str:
    parts = urlsplit(url)
    return f"{live_server.url}{parts.path}{'?' + parts.query if parts.query else ''}"


class Keyboard:
    """The only keys the clerk uses; every press is kept for the assertion at the end."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.pressed: list[str] = []

    def press(self, key: str) -> None:
        assert key in ALLOWED_KEYS
        self.pressed.append(key)
        self.page.keyboard.press(key)

    def tab_to(self, selector: str, *, limit: int = 40, key: str = "Tab") -> int:
        """Press Tab (or Shift+Tab) until the element matching `selector` has the focus."""
        target = self.page.locator(selector)
        for presses in range(1, limit + 1):
            self.press(key)
            if target.evaluate("element => element === document.activeElement"):
                return presses
        raise AssertionError(f"{selector} never got the focus in {limit} presses of {key}")


def test_from_the_link_to_paid_with_the_keyboard_alone(page: Page, app, db, clock, settings, live_server,
                                                       stripe_recorder):
    company = make_company(db, clock, 12_500, 8_000)
    link = issue_invoice_link(db, clock, LinkSigner.from_settings(settings), contact=company.clerk,
                              invoices=company.invoices)
    db.commit()
    page.add_init_script("window.STRIPE_STANDIN_SCRIPT = ['declined', '3ds_fail', 'ok'];")
    keys = Keyboard(page)

    page.goto(_local(link.url, live_server))
    keys.tab_to("main button[type=submit]")
    expect(page.locator(":focus")).to_have_text("View and pay")
    keys.press("Enter")

    # Landed on the pay page with exactly the link's invoices, at their full balance.
    expect(page.locator("#card-element [data-standin=payment-element]")).to_be_visible()
    expect(page.locator("#pay-button")).to_have_text("Pay $205.00")
    assert keys.tab_to("a.skip-link", key="Shift+Tab") >= 1  # the first stop of the page...
    keys.press("Enter")
    expect(page.locator("#content")).to_be_focused()  # ...skips the header
    keys.tab_to("#pay-button")
    keys.press("Enter")

    # 1. Declined: the summary takes the focus; its link leads back to Pay.
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(page.locator("#pay-error")).to_have_text("Your card was declined.")
    keys.press("Tab")
    expect(page.get_by_role("link", name="Back to Pay")).to_be_focused()
    keys.press("Enter")
    expect(page.locator("#pay-button")).to_be_focused()
    expect(page.locator("#pay-button")).to_have_text("Pay $205.00")
    keys.press("Enter")

    # 2. 3-D Secure failed: the summary again, linking to the card and back to Pay.
    expect(summary).to_be_focused()
    expect(page.locator("#pay-error")).to_have_text(AUTHENTICATION_FAILED)
    keys.press("Tab")
    expect(page.get_by_role("link", name="Use another card")).to_be_focused()
    keys.press("Tab")
    expect(page.get_by_role("link", name="Back to Pay")).to_be_focused()
    keys.press("Shift+Tab")
    expect(page.get_by_role("link", name="Use another card")).to_be_focused()
    keys.press("Enter")
    expect(page.locator("#card-element")).to_be_focused()
    keys.tab_to("#pay-button")
    keys.press("Space")

    # 3. Paid: the status page, then the webhook; the page changes in place.
    page.wait_for_url(f"{live_server.url}/payments/*")
    status = page.locator("#payment-status")
    expect(status).to_contain_text("Processing — confirming with your bank.")
    page.evaluate("window.notReloaded = true")
    keys.tab_to("a.skip-link")
    payment = payment_by_public_id(db, urlsplit(page.url).path.rsplit("/", 1)[1])
    payload = stripe_event("payment_intent.succeeded", intent_object(
        payment.stripe_payment_intent_id, "succeeded", payment.amount_minor, payment.currency))
    assert post_event(app.test_client(), payload, int(clock.now().timestamp())).status_code == 200
    expect(status).to_contain_text("Paid.", timeout=15_000)
    expect(page).to_have_title("Paid – Payment of $205.00 · Northwind Supplies billing")
    assert page.evaluate("window.notReloaded") is True  # swapped in place, no reload
    expect(page.locator("a.skip-link")).to_be_focused()  # the focus stayed where it was
    assert page.locator("#payment-live").get_attribute("aria-live") == "polite"
    assert set(keys.pressed) <= set(ALLOWED_KEYS)


def test_a_short_payment_without_a_reason_says_reason_required_under_the_field(page: Page, app, db, clock,
                                                                               live_server, stripe_recorder):
    company = make_company(db, clock, 12_500, 8_000)
    sign_in_browser(app, db, clock, page, live_server, company.clerk)
    first = company.invoices[0]
    page.goto(f"{live_server.url}/pay?invoice={first.public_id}")
    page.locator(f"#amount-{first.public_id}").fill("100.00")
    expect(page.locator("#pay-button")).to_have_text("Pay $100.00")
    page.locator("#pay-button").click()

    expect(page.locator("#error-summary")).to_be_focused()
    link = page.get_by_role("link", name=f"{first.number}: Reason required")
    link.click()
    reason = page.locator(f"#reason-{first.public_id}")
    expect(reason).to_be_focused()
    expect(reason).to_have_attribute("aria-invalid", "true")
    described = page.locator(f"#{reason.get_attribute('aria-describedby')}")
    expect(described).to_have_text("Reason required")
    expect(described).to_be_visible()
    assert stripe_recorder.recorder.requests == []  # nothing was sent anywhere


def _clicks_to_card_form(page: Page, first_link: str, second_click) -> int:
    """Open the link, then click until the card form shows; the number of clicks."""
    page.goto(first_link)
    clicks = 0
    page.get_by_role("button", name="View and pay").click()
    clicks += 1
    if second_click is not None:
        second_click(page)
        clicks += 1
    expect(page.locator("#card-element [data-standin=payment-element]")).to_be_visible()
    return clicks


@pytest.mark.parametrize("width", WIDTHS)
def test_each_kind_of_link_reaches_the_card_form_in_two_clicks(page: Page, db, clock, settings, live_server, width):
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    today = clock.now().date()
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="ap@acme.example")
    overdue = [make_invoice(db, clock, customer, total_minor=total, issue_date=today - timedelta(days=days + 30),
                            due_date=today - timedelta(days=days)) for total, days in ((300_000, 40), (240_295, 8))]
    make_invoice(db, clock, customer, total_minor=99_000)  # not yet due: not in "Pay all overdue"
    signer = LinkSigner.from_settings(settings)
    invoice_link = issue_invoice_link(db, clock, signer, contact=clerk, invoices=overdue[1:])
    sign_in_link = issue_sign_in_link(db, clock, signer, contact=clerk)
    db.commit()

    # An invoice link: "View and pay", and the card form is there with its invoice.
    assert _clicks_to_card_form(page, _local(invoice_link.url, live_server), None) <= 2
    expect(page.locator(".pay-row")).to_have_count(1)
    expect(page.locator("#pay-button")).to_have_text("Pay $2,402.95")

    # A sign-in link: "View and pay", then the overview's "Pay all overdue ($5,402.95)".
    page.context.clear_cookies()
    page.goto(_local(sign_in_link.url, live_server))
    expect(page.locator("h1")).to_have_text("Northwind Supplies: 2 overdue invoices, $5,402.95")

    def pay_all_overdue(page: Page) -> None:
        page.get_by_role("link", name="Pay all overdue ($5,402.95)").click()

    assert _clicks_to_card_form(page, _local(sign_in_link.url, live_server), pay_all_overdue) <= 2
    expect(page.locator(".pay-row")).to_have_count(2)
    expect(page.locator("#pay-total")).to_have_text("$5,402.95")


def _pending_pay_requests(page: Page) -> list:
    """Hold every POST /pay the page sends until the test lets it go."""
    held: list = []
    page.route("**/pay", lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    return held


def test_while_paying_the_button_reads_paying_with_aria_busy(page: Page, app, db, clock, live_server,
                                                             stripe_recorder):
    company = make_company(db, clock, 12_500)
    sign_in_browser(app, db, clock, page, live_server, company.clerk)
    page.add_init_script("window.STRIPE_STANDIN_SCRIPT = ['declined'];")
    held = _pending_pay_requests(page)
    page.goto(f"{live_server.url}/pay?invoice={company.invoices[0].public_id}")
    button = page.locator("#pay-button")
    button.click()
    expect(button).to_have_text("Paying…")
    expect(button).to_have_attribute("aria-busy", "true")
    expect(button).to_be_disabled()
    for _ in range(200):  # the request reaches the route after Stripe.js made its token
        if held:
            break
        page.wait_for_timeout(25)
    [request] = held
    request.continue_()
    expect(page.locator("#pay-error")).to_have_text("Your card was declined.")
    expect(button).to_have_text("Pay $125.00")
    assert button.get_attribute("aria-busy") is None


@pytest.mark.parametrize(("answer", "says", "not_says"), [
    ("abort", "The connection failed.", "Enter your card details"),
    ("server_error", "The payment was not made.", "connection"),
])
def test_the_connection_failed_only_when_the_network_did(page: Page, app, db, clock, live_server, stripe_recorder,
                                                         answer, says, not_says):
    company = make_company(db, clock, 12_500)
    sign_in_browser(app, db, clock, page, live_server, company.clerk)
    page.add_init_script("window.STRIPE_STANDIN_SCRIPT = ['ok'];")

    def respond(route):
        if route.request.method != "POST":
            route.continue_()
        elif answer == "abort":
            route.abort("connectionreset")
        else:
            route.fulfill(status=500, content_type="text/html", body="<h1>Something went wrong</h1>")

    page.route("**/pay", respond)
    page.goto(f"{live_server.url}/pay?invoice={company.invoices[0].public_id}")
    page.locator("#pay-button").click()
    expect(page.locator("#error-summary")).to_be_focused()
    error = page.locator("#pay-error")
    expect(error).to_contain_text(says)
    assert not_says not in error.text_content()
    expect(page.get_by_role("link", name="Back to Pay")).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_one_click_ticks_each_checkbox_even_just_above_the_pay_bar(page: Page, app, db, clock, live_server, width):
    """Focus comes with the mouse press; a row scrolled into view then would move the box from
    under the pointer before the release, and the click would tick nothing. Each box is
    clicked where a clerk scrolling down meets it: just above the bar, its row under it."""
    company = make_company(db, clock, *range(10_000, 16_000, 1_000))
    db.commit()
    page.set_viewport_size({"width": WIDTHS[width][0], "height": 700})
    sign_in_browser(app, db, clock, page, live_server, company.clerk)
    page.goto(f"{live_server.url}/invoices")
    bar_top = page.locator(".paybar").bounding_box()["y"]
    boxes = page.locator("input[type=checkbox][name=invoice]").all()
    for clicked, box in enumerate(boxes, start=1):
        where = box.bounding_box()
        page.evaluate("by => window.scrollBy(0, by)", where["y"] + where["height"] - (bar_top - 4))
        where = box.bounding_box()
        page.mouse.click(where["x"] + where["width"] / 2, where["y"] + where["height"] / 2)
        assert box.is_checked(), (clicked, where, bar_top)
    expect(page.locator("#selection-summary")).to_contain_text(f"{len(boxes)} invoices selected")
