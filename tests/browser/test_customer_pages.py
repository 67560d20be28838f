"""Every customer page in Chromium at 1280 and 390 px: no sideways scrolling, no serious or
critical axe-core finding, and a screenshot in test-artifacts/screenshots/ for a person.

The account behind the pages has what makes pages wide or busy: two currencies, long PO
numbers, overdue, partly paid, paid and credited invoices, a payment processing, one paid and
a run of declined attempts. The pay page runs the real dialect against the Stripe.js stand-in.
axe-core is injected with `add_script_tag`, which the pages' CSP would refuse: these tests
bypass the CSP (the other browser tests keep it and assert it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from portal.domain.access.service import issue_invoice_link, issue_sign_in_link
from portal.domain.access.tokens import LinkSigner
from portal.domain.customers.models import Contact
from portal.domain.invoicing.models import Invoice
from portal.domain.payments.models import Payment
from tests.browser.page_checks import WIDTHS, axe_path, check_page, horizontal_overflow, screenshot, wide_elements
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice,
)
from tests.support.fixtures.browser import sign_in_browser
from tests.support.paying import make_company

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}


@pytest.fixture
def settings(settings, stripe_js_standin):
    return settings.with_changes(stripe_dialect="real", stripe_js_url=stripe_js_standin)


@dataclass
class Account:
    clerk: Contact
    overdue: list[Invoice]
    not_due: list[Invoice]
    euro: Invoice
    paid: Invoice
    processing: Payment
    succeeded: Payment
    declined: Payment


@pytest.fixture
def account(db, clock) -> Account:
    today = clock.now().date()
    customer = make_customer(db, clock, name="Acme Corporation International Holdings")
    clerk = make_contact(db, clock, customer, email="accounts.payable.clerk@acme-corporation.example", name="Robin Ledger")
    overdue = [
        make_invoice(db, clock, customer, total_minor=125_000, number="INV-2026-004711",
                     po_number="PO-2026-000771-WAREHOUSE-EAST", **_dates(today, -45),
                     lines=[("Pallet racking, galvanised steel, 2.4 m uprights with cross bracing", 10, 9_500),
                            ("Installation and safety inspection", 1, 30_000)]),
        make_invoice(db, clock, customer, total_minor=48_050, number="INV-2026-004712", po_number="PO-7790",
                     **_dates(today, -12)),
        make_invoice(db, clock, customer, total_minor=367_245, number="INV-2026-004713",
                     **_dates(today, -95)),
    ]
    add_invoice_entry(db, clock, overdue[2], "credit_note", -67_245, reference="CN-2026-0042")
    not_due = [make_invoice(db, clock, customer, total_minor=99_999, number="INV-2026-004720",
                            **_dates(today, +20)),
               make_invoice(db, clock, customer, total_minor=12_000, number="INV-2026-004721",
                            **_dates(today, +5))]
    euro = make_invoice(db, clock, customer, total_minor=1_234_567, currency="EUR", number="INV-2026-004730",
                        **_dates(today, -3))
    paid = make_invoice(db, clock, customer, total_minor=20_000, number="INV-2026-004700",
                        **_dates(today, -60))
    succeeded = make_allocated_payment(db, clock, customer, [(paid, 20_000)], status="succeeded")
    succeeded.settled_at = clock.now()
    succeeded.po_number = "REMIT-88231"
    add_invoice_entry(db, clock, paid, "payment", -20_000, payment_id=succeeded.id, reference="ch_x")
    declined = None
    for _ in range(3):
        declined = make_allocated_payment(db, clock, customer, [(overdue[1], 48_050)], status="failed")
        declined.failure_message = "Your card was declined."
    processing = make_allocated_payment(db, clock, customer, [(not_due[1], 12_000)], status="processing")
    db.flush()
    return Account(clerk, overdue, not_due, euro, paid, processing, succeeded, declined)


def _dates(today, days: int) -> dict:
    """Due `days` from today (negative: overdue), issued 30 days before that."""
    due = today + timedelta(days=days)
    return {"due_date": due, "issue_date": due - timedelta(days=30)}


def _local(url: str, live_server) -> str:
    parts = urlsplit(url)
    return f"{live_server.url}{parts.path}{'?' + parts.query if parts.query else ''}"


def _pages(db, clock, settings, live_server, account: Account) -> dict[str, str]:
    """Each customer page's URL, by the name its screenshot gets."""
    signer = LinkSigner.from_settings(settings)
    sign_in = issue_sign_in_link(db, clock, signer, contact=account.clerk)
    invoice_link = issue_invoice_link(db, clock, signer, contact=account.clerk, invoices=account.overdue[:2])
    db.commit()
    pay = "&".join(f"invoice={invoice.public_id}" for invoice in account.overdue)
    base = live_server.url
    return {
        "confirm-sign-in-link": _local(sign_in.url, live_server),
        "confirm-invoice-link": _local(invoice_link.url, live_server),
        "sign-in": f"{base}/sign-in",
        "overview": f"{base}/account",
        "invoices": f"{base}/invoices",
        "invoice": f"{base}/invoices/{account.overdue[0].public_id}",
        "pay": f"{base}/pay?{pay}",
        "payments": f"{base}/payments",
        "payment-processing": f"{base}/payments/{account.processing.public_id}",
        "payment-paid": f"{base}/payments/{account.succeeded.public_id}",
        "payment-declined": f"{base}/payments/{account.declined.public_id}",
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_every_customer_page_fits_the_screen_and_passes_axe(page: Page, app, db, clock, settings, live_server,
                                                              account, width):
    axe_path()
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    urls = _pages(db, clock, settings, live_server, account)
    sign_in_browser(app, db, clock, page, live_server, account.clerk)
    problems: dict[str, str] = {}
    for name, url in urls.items():
        response = page.goto(url)
        assert response.status == 200, (name, response.status)
        if name == "pay":
            expect(page.locator("#card-element [data-standin=payment-element]")).to_be_visible()
        try:
            check_page(page, f"{name}-{width}")
        except AssertionError as failure:
            problems[name] = str(failure)
    assert problems == {}
    assert errors == []


def test_phone_rows_are_stacked_cards_with_number_amount_status_and_checkbox(page: Page, app, db, clock, live_server,
                                                                            account):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_browser(app, db, clock, page, live_server, account.clerk)
    page.goto(f"{live_server.url}/invoices")
    row = page.locator("tr", has_text="INV-2026-004711")
    box = row.bounding_box()
    assert box["width"] <= 390 and box["height"] > 150  # one card, its cells one under the other
    for label in ("Invoice", "Balance due", "Status", "Pay"):
        assert row.locator(f"td[data-label='{label}']").is_visible()
    checkbox = row.locator("input[type=checkbox]").bounding_box()
    assert checkbox["width"] >= 24 and checkbox["height"] >= 24


def test_pay_bar_stays_on_screen_compact_at_200_percent_and_clear_of_the_focused_row(
        page: Page, app, db, clock, live_server, account):
    # 200% zoom of a 1280 x 900 window: the page lays out in 640 x 450 CSS pixels.
    page.set_viewport_size({"width": 640, "height": 450})
    sign_in_browser(app, db, clock, page, live_server, account.clerk)
    page.goto(f"{live_server.url}/invoices")
    bar = page.locator(".paybar")
    height = page.evaluate("window.innerHeight")
    bar_box = bar.bounding_box()
    assert bar_box["y"] + bar_box["height"] <= height + 0.5  # sticky at the bottom, on screen
    assert bar_box["height"] <= height * 0.25, bar_box  # compact
    assert horizontal_overflow(page) <= 0

    # Tab through every checkbox: each one lands above the bar, never under it.
    boxes = page.locator("input[type=checkbox][name=invoice]")
    page.locator("#select-all").focus()
    for index in range(boxes.count()):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.name")
        while focused != "invoice":  # the invoice links and sort headers between the boxes
            page.keyboard.press("Tab")
            focused = page.evaluate("document.activeElement.name")
        row = page.evaluate("""() => { const r = document.activeElement.closest('tr').getBoundingClientRect();
                                       return {top: r.top, bottom: r.bottom}; }""")
        bar_top = bar.bounding_box()["y"]
        assert row["bottom"] <= bar_top + 0.5, (index, row, bar_top)
    screenshot(page, "invoices-zoom-200")


def test_on_a_phone_a_long_pay_button_goes_under_the_summary_not_beside_a_squeezed_one(
        page: Page, app, db, clock, live_server):
    """French: "Payer les factures sélectionnées" beside the summary left it a 110 px column,
    four lines with the colon alone at the start of one."""
    company = make_company(db, clock, 12_500, 8_000)
    company.clerk.language = "fr"
    db.commit()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_browser(app, db, clock, page, live_server, company.clerk)
    page.goto(f"{live_server.url}/invoices")
    for box in page.locator("input[type=checkbox][name=invoice]").all():
        box.check()
    summary = page.locator("#selection-summary")
    expect(summary).to_have_text("2 factures sélectionnées\u00a0: 205,00 $US à payer.")
    words, button, bar = (page.locator(selector).bounding_box() for selector in
                          ("#selection-summary", "#pay-selected", ".paybar"))
    assert words["width"] >= 300, words  # the width of the bar, on one or two lines
    assert words["height"] <= 2 * 1.45 * 15 + 1, words
    assert button["y"] >= words["y"] + words["height"] - 0.5 and button["x"] + button["width"] <= 390, button
    assert bar["height"] <= 844 * 0.15 and horizontal_overflow(page) <= 0, bar
    screenshot(page, "invoices-fr-390-selected")


def test_select_all_never_selects_two_currencies_and_both_pay_buttons_follow(page: Page, app, db, clock, live_server,
                                                                             account):
    sign_in_browser(app, db, clock, page, live_server, account.clerk)
    page.goto(f"{live_server.url}/invoices")
    buttons = page.get_by_role("button", name=re.compile("^Pay selected"))
    expect(buttons).to_have_count(2)  # above the table and in the pay bar
    for index in range(2):
        expect(buttons.nth(index)).to_be_disabled()

    page.locator("#select-all").check()
    ticked = page.locator("input[name=invoice]:checked")
    currencies = {ticked.nth(i).get_attribute("data-currency") for i in range(ticked.count())}
    assert currencies == {"USD"} and ticked.count() == 4  # every payable USD row, no EUR one
    expect(page.locator("#selection-summary")).to_have_text("4 invoices selected: $5,730.49 to pay.")
    for index in range(2):
        expect(buttons.nth(index)).to_be_enabled()

    # Starting from a EUR invoice, "select all" takes the EUR ones.
    page.locator("#select-all").uncheck()
    page.locator(f"#select-{account.euro.public_id}").check()
    page.locator("#select-all").check()
    expect(page.locator("input[name=invoice]:checked")).to_have_count(1)
    expect(page.locator("#selection-summary")).to_have_text("1 invoice selected: €12,345.67 to pay.")
    buttons.first.click()
    expect(page.locator("#pay-total")).to_have_text("€12,345.67")


CONTRAST = """input => {
  const rgb = text => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  let behind = input.parentElement;
  while (behind && getComputedStyle(behind).backgroundColor.replace(/\\s/g, '') === 'rgba(0,0,0,0)') {
    behind = behind.parentElement;
  }
  const back = behind ? getComputedStyle(behind).backgroundColor : 'rgb(255, 255, 255)';
  const [a, b] = [luminance(rgb(getComputedStyle(input).borderTopColor)), luminance(rgb(back))].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def test_input_borders_reach_3_to_1_against_what_is_behind_them(page: Page, app, db, clock, live_server, account):
    sign_in_browser(app, db, clock, page, live_server, account.clerk)
    page.goto(f"{live_server.url}/invoices")
    ratios = {selector: page.locator(selector).evaluate(CONTRAST) for selector in ("#q", "#currency", "#per_page")}
    page.goto(f"{live_server.url}/pay?invoice={account.overdue[0].public_id}")
    for selector in (f"#amount-{account.overdue[0].public_id}", f"#reason-{account.overdue[0].public_id}",
                     "#po_number", "#memo", "#card-element"):
        ratios[selector] = page.locator(selector).evaluate(CONTRAST)
    assert all(ratio >= 3 for ratio in ratios.values()), ratios


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_from_a_tablet_to_a_laptop_no_page_scrolls_sideways_and_the_invoice_table_fits(
        page: Page, app, db, clock, live_server, account, language):
    """At 768 px (a tablet upright) the invoice list's nine columns overflowed by 340 px in
    English, and at 1280 px by 50 to 110 in French and German: the page scrolled sideways.
    Now the rows are cards up to 960 px and a table above it, where every status is one pill
    and the table fits its box."""
    account.clerk.language = language
    db.commit()
    sign_in_browser(app, db, clock, page, live_server, account.clerk)
    for width in (768, 1024, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        for path in ("/account", "/payments", "/disputes", "/invoices"):
            page.goto(f"{live_server.url}{path}")
            assert horizontal_overflow(page) <= 0, (width, path, wide_elements(page))
        row = page.locator("table.invoices tbody tr").first
        shape = page.evaluate("""() => {
            const box = document.querySelector('.table-scroll'), row = document.querySelector('table.invoices tbody tr');
            const badges = [...document.querySelectorAll('table.invoices .badge')].map(b => b.getBoundingClientRect().height);
            return {row: getComputedStyle(row).display, spare: box.clientWidth - box.scrollWidth,
                    badges: [Math.min(...badges), Math.max(...badges)]}; }""")
        if width <= 960:
            assert shape["row"] != "table-row", (width, shape)  # a card
            assert row.locator("td[data-label]").first.is_visible()
        else:
            assert shape["row"] == "table-row", (width, shape)
            assert shape["spare"] >= 0, (width, shape)  # the table is not wider than its box
            low, high = shape["badges"]
            assert high < low * 1.5, (width, shape)  # no badge on two lines
            assert page.locator("table.invoices td.nowrap", has_text="PO-7790").count() == 1
        screenshot(page, f"invoices-{language}-{width}")
