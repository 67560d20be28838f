"""A dispute from the clerk's first click to the last payment, in real Chromium, with the staff
who route and resolve it, against the app on a real port and localstripe.

The clerk disputes two lines of an invoice with a PDF and a photo and pays the rest by card;
a routing rule gives the dispute to the pricing desk's analyst; the analyst asks a question;
the clerk answers with a spreadsheet; the analyst accepts part, above their credit limit, so
the credit waits for a supervisor, who approves it; the clerk sees the new balance and pays
it. Clerk, analyst and supervisor each have a browser context of their own. Every page is checked
at 1280 and 390 px wide (no sideways scrolling, nothing serious for axe) and photographed into
test-artifacts/screenshots/journey-*.png for a person to look at.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.core.clock import FixedClock
from portal.domain.core.context import Context
from portal.domain.disputes.models import Dispute
from portal.domain.disputes.states import DisputeStatus
from portal.domain.invoicing.models import Invoice
from portal.domain.routing.service import RuleDetails, create_rule
from portal.domain.staff.service import TeamDetails, create_team
from tests.browser.page_checks import check_at_both_widths
from tests.support import localstripe_app
from tests.support.attachment_files import jpeg, tiny_pdf
from tests.support.factories import STAFF_PASSWORD, make_contact, make_customer, make_invoice, make_staff
from tests.support.fixtures.browser import fill_test_card, sign_in_browser
from tests.support.fixtures.stripe import CARD_OK

gateway, settings = localstripe_app.gateway, localstripe_app.settings
real_time_clock, webhooks_to_app = localstripe_app.real_time_clock, localstripe_app.webhooks_to_app

pytestmark = pytest.mark.browser



@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}  # lets axe's script into the pages


@pytest.fixture
def clock(real_time_clock) -> FixedClock:
    return real_time_clock


def _shot(page: Page, name: str) -> None:
    """The page fits both widths with nothing serious for axe (screenshots in test-artifacts/)."""
    check_at_both_widths(page, f"journey-{name}")


def _staff_page(browser, live_server, staff) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/admin/disputes")
    page.get_by_label("Email address").fill(staff.email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def _pay_by_card(page: Page, amount: str) -> None:
    expect(page.locator("#pay-total")).to_have_text(amount)
    fill_test_card(page, CARD_OK)
    page.get_by_role("button", name=f"Pay {amount}", exact=True).click()
    page.wait_for_url(re.compile(r"/payments/[\w-]+$"), timeout=15_000)
    expect(page.get_by_text("Paid.")).to_be_visible(timeout=15_000)


def test_a_dispute_from_raising_to_the_last_payment(page: Page, browser, app, db, clock, live_server,
                                                   webhooks_to_app, tmp_path):
    ctx = Context(db, clock, Actor.system("test"))
    analyst = make_staff(db, clock, name="Ana Analyst", email="ana@northwind.example")
    other_analyst = make_staff(db, clock, name="Ola Other", email="ola@northwind.example")
    supervisor = make_staff(db, clock, role="supervisor", name="Sam Supervisor", email="sam@northwind.example")
    pricing = create_team(ctx, TeamDetails("Pricing desk", "UTC", "1234567", 0, 24 * 60), [analyst.id, supervisor.id])
    general = create_team(ctx, TeamDetails("General desk", "UTC", "12345", 540, 1020), [other_analyst.id])
    create_rule(ctx, RuleDetails("Price questions", pricing.id, "round_robin", "high", 4, 3, reasons=("pricing",)))
    create_rule(ctx, RuleDetails("Everything else", general.id, "round_robin", "normal", 8, 5))
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="ap.clerk@acme.example", name="Robin Ledger")
    invoice = make_invoice(db, clock, customer, number="INV-9001", po_number="PO-9001", lines=[
        ("Pallet racking, 2.4 m", 10, 12_000), ("Installation", 5, 8_000), ("Freight", 1, 15_000)])
    pdf, photo, sheet = tmp_path / "delivery-note.pdf", tmp_path / "damaged-rack.jpg", tmp_path / "price-list.csv"
    pdf.write_bytes(tiny_pdf("Delivery note 9001"))
    photo.write_bytes(jpeg(64, 48))
    sheet.write_text("item,agreed price\nPallet racking 2.4 m,60.00\n")
    sign_in_browser(app, db, clock, page, live_server, clerk)
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

    # The clerk disputes two lines ($600 of racking at the contract price, the $150 freight)
    # with a PDF and a photo.
    page.goto(f"{live_server.url}/invoices/{invoice.public_id}")
    page.get_by_role("link", name="Dispute this invoice").click()
    page.get_by_label("Chosen lines").check()
    page.locator(f"#line-{invoice.public_id}-1").check()
    page.locator(f"#line-amount-{invoice.public_id}-1").fill("600.00")
    page.locator(f"#line-{invoice.public_id}-3").check()
    page.get_by_label("Reason").select_option("pricing")
    page.get_by_label("What is wrong?").fill("The racks were billed at $120.00; our contract price is $60.00. "
                                            "Freight was free on this order.")
    page.locator("input[type=file][name=files]").set_input_files([str(pdf), str(photo)])
    _shot(page, "1-raise")
    page.get_by_role("button", name="Raise the dispute").click()

    # Routed by the rule to the pricing desk's analyst, with an expected date.
    expect(page.get_by_text("Ana Analyst")).to_be_visible()
    expect(page.get_by_text("delivery-note.pdf")).to_be_visible()
    expect(page.get_by_text("damaged-rack.jpg")).to_be_visible()
    expect(page.locator("dl.facts").get_by_text("$750.00")).to_be_visible()
    _shot(page, "2-dispute-raised")

    # The rest is payable at once: $1,750.00 − $750.00.
    page.get_by_role("link", name="Pay the rest: $1,000.00").click()
    _shot(page, "3-pay-the-rest")
    _pay_by_card(page, "$1,000.00")
    _shot(page, "4-rest-paid")

    # The analyst finds it in their queue and asks a question.
    ana = _staff_page(browser, live_server, analyst)
    expect(ana.get_by_role("link", name="Acme Corp")).to_be_visible()
    _shot(ana, "5-analyst-queue")
    ana.get_by_role("link", name="Acme Corp").click()
    expect(ana.get_by_text("delivery-note.pdf")).to_be_visible()
    ana.get_by_label("Ask the customer for information").fill("Which contract sets the $60.00 price?")
    ana.get_by_role("button", name="Ask").click()
    expect(ana.get_by_text("Waiting for the customer")).to_be_visible()
    _shot(ana, "6-analyst-asked")

    # The clerk answers with the price list.
    page.goto(f"{live_server.url}/disputes")
    page.get_by_role("link", name="INV-9001").click()
    expect(page.get_by_text("Which contract sets the $60.00 price?")).to_be_visible()
    page.get_by_label("Your answer").fill("Contract 2026-14; the price list is attached.")
    page.locator("#thread input[type=file][name=files]").set_input_files([str(sheet)])
    _shot(page, "7-clerk-answers")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("price-list.csv")).to_be_visible()

    # The analyst accepts $600.00 of the $750.00: above their $500.00 limit, so it waits.
    ana.reload()
    expect(ana.get_by_text("Contract 2026-14")).to_be_visible()
    ana.get_by_label("In part:").check()
    ana.get_by_label("INV-9001").fill("600.00")
    ana.get_by_label("Explanation to the customer", exact=True).first.fill(
        "We credit the racks at the contract price; freight stands as quoted.")
    ana.get_by_role("button", name="Accept").click()
    expect(ana.get_by_text("Awaiting approval").first).to_be_visible()
    _shot(ana, "8-analyst-proposed")
    page.reload()
    expect(page.get_by_text("Awaiting approval").first).to_be_visible()
    _shot(page, "9-clerk-awaiting-approval")

    # The supervisor approves the credit.
    sam = _staff_page(browser, live_server, supervisor)
    sam.goto(f"{live_server.url}/admin/disputes/all")
    sam.get_by_role("link", name="Acme Corp").click()
    sam.get_by_role("button", name="Approve the credit").click()
    expect(sam.get_by_text("Accepted in part").first).to_be_visible()
    _shot(sam, "10-supervisor-approved")

    # The clerk sees the new balance ($1,750.00 − $1,000.00 paid − $600.00 credited) and pays it.
    page.goto(f"{live_server.url}/invoices/{invoice.public_id}")
    expect(page.get_by_role("link", name="Pay $150.00")).to_be_visible()
    _shot(page, "11-new-balance")
    page.get_by_role("link", name="Pay $150.00").click()
    _pay_by_card(page, "$150.00")

    db.expire_all()
    assert db.scalar(select(Invoice.balance_minor).where(Invoice.id == invoice.id)) == 0
    assert db.scalar(select(Invoice.held_minor).where(Invoice.id == invoice.id)) == 0
    dispute = db.scalar(select(Dispute).where(Dispute.customer_id == customer.id))
    assert (dispute.status, dispute.team_id, dispute.assignee_id) == (
        DisputeStatus.RESOLVED_PARTIAL, pricing.id, analyst.id)
    assert console_errors == []
