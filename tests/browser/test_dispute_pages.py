"""Disputing two lines of an invoice in real Chromium, then seeing only the rest payable.

invoice page → "Dispute this invoice" → choose two lines (a quantity and an amount) and attach
a delivery note → the dispute page (status, "Not yet assigned", the lines, the file, which
downloads) → a message with a photo → the invoice shows the disputed amount → the pay page
offers only the undisputed part. Screenshots at 1280 and 390 px wide land in
test-artifacts/ for a person to look at.
"""

from __future__ import annotations


import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.domain.invoicing.models import Invoice
from tests.browser.page_checks import screenshot
from tests.support import attachment_files as files
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.fixtures.browser import sign_in_browser

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1280, "phone": 390}


def _shot(page: Page, name: str) -> None:
    screenshot(page, name)


@pytest.mark.parametrize("width", WIDTHS)
def test_dispute_two_lines_and_pay_the_rest(page: Page, app, db, clock, live_server, width):
    page.set_viewport_size({"width": WIDTHS[width], "height": 900})
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="ap.clerk@acme.example", name="Robin Ledger")
    invoice = make_invoice(db, clock, customer, number="INV-7001", po_number="PO-7781", lines=[
        ("Pallet racking, 2.4 m", 10, 12_500), ("Installation", 4, 9_000), ("Freight", 1, 6_000)])
    sign_in_browser(app, db, clock, page, live_server, clerk)

    page.goto(f"{live_server.url}/invoices/{invoice.public_id}")
    page.get_by_role("link", name="Dispute this invoice").click()
    expect(page.get_by_role("heading", name="Raise a dispute")).to_be_visible()
    page.get_by_label("Chosen lines").check()
    page.locator(f"#line-{invoice.public_id}-1").check()
    page.locator(f"#quantity-{invoice.public_id}-1").fill("2")
    page.locator(f"#line-{invoice.public_id}-3").check()
    page.locator(f"#line-amount-{invoice.public_id}-3").fill("60.00")
    page.get_by_label("Reason").select_option("quantity_short")
    page.get_by_label("What is wrong?").fill("Only 8 of the 10 racks arrived, and freight was free on this order.")
    page.get_by_label("Attach files").set_input_files(
        [{"name": "delivery note.pdf", "mimeType": "application/pdf", "buffer": files.tiny_pdf()}])
    _shot(page, f"dispute-raise-{width}")
    page.get_by_role("button", name="Raise the dispute").click()

    expect(page.get_by_role("heading", name="Dispute")).to_be_visible()
    expect(page.get_by_text("Not yet assigned")).to_be_visible()
    expect(page.locator("dl.facts").get_by_text("$310.00")).to_be_visible()  # 2 × 125.00 + 60.00
    with page.expect_download() as download:
        page.get_by_role("link", name="delivery note.pdf").click()
    assert download.value.suggested_filename == "delivery note.pdf"
    page.get_by_label("Write to us").fill("A photo of the delivery, as it arrived.")
    page.get_by_label("Attach files").set_input_files(
        [{"name": "pallet.png", "mimeType": "image/png", "buffer": files.png(40, 30)}])
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".thread").get_by_text("A photo of the delivery")).to_be_visible()
    expect(page.locator(".thread").get_by_role("link", name="pallet.png")).to_be_visible()
    _shot(page, f"dispute-page-{width}")

    page.goto(f"{live_server.url}/invoices/{invoice.public_id}")
    expect(page.get_by_role("link", name="Pay $1,360.00")).to_be_visible()  # 1,670.00 − 310.00
    _shot(page, f"dispute-invoice-{width}")
    page.get_by_role("link", name="Pay $1,360.00").click()
    expect(page.get_by_text("$310.00 disputed, held until resolved")).to_be_visible()
    expect(page.locator(f"#amount-{invoice.public_id}")).to_have_value("1,360.00")  # formatted as on the page
    db.expire_all()
    assert db.scalar(select(Invoice.held_minor).where(Invoice.id == invoice.id)) == 31_000
