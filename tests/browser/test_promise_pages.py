"""A promise to pay in real Chromium: the clerk ticks two invoices on the list, chooses
"Promise to pay", names a date, ACH and a note, and sees the promise on its page and both
invoices "Promised for ..." on the list; a collector then finds it in /admin/promises. Each page
fits the width with nothing serious for axe; screenshots at 1280 and 390 px wide land in
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.domain.promises.models import Promise
from portal.domain.staff.states import StaffRole
from tests.browser.page_checks import check_page, screenshot
from tests.support.factories import STAFF_PASSWORD, make_contact, make_customer, make_invoice, make_staff
from tests.support.fixtures.browser import sign_in_browser
from tests.support.promises import customer_today

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture
def browser_context_args(browser_context_args):
    # axe-core is injected as a script tag; the CSP (no inline scripts) is tested elsewhere.
    return {**browser_context_args, "bypass_csp": True}


@pytest.mark.parametrize("width", WIDTHS)
def test_promise_two_invoices_then_staff_see_it(page: Page, app, db, clock, live_server, width):
    page.set_viewport_size({"width": WIDTHS[width], "height": 900})
    page.set_default_timeout(10_000)
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="ap.clerk@acme.example", name="Robin Ledger")
    first = make_invoice(db, clock, customer, number="INV-8101", total_minor=145_000)
    second = make_invoice(db, clock, customer, number="INV-8102", total_minor=32_050)
    make_invoice(db, clock, customer, number="INV-8103", total_minor=9_900)
    collector = make_staff(db, clock, role=StaffRole.COLLECTOR, name="Cole Collector", email="cole@northwind.example")
    promised = customer_today(db, clock, clerk) + timedelta(days=9)
    sign_in_browser(app, db, clock, page, live_server, clerk)

    page.goto(f"{live_server.url}/invoices")
    page.get_by_label("Select invoice INV-8101").check()
    page.get_by_label("Select invoice INV-8102").check()
    page.get_by_role("button", name="Promise to pay").click()

    expect(page.get_by_role("heading", name="Promise to pay")).to_be_visible()
    expect(page.locator("#promise-total")).to_have_text("$1,770.50")
    page.get_by_label("Date you will pay").fill(promised.isoformat())
    page.get_by_label("How you will pay").select_option("ach")
    page.get_by_label("Note").fill("Approved in Thursday's payment run")
    check_page(page, f"promise-form-{width}")
    page.get_by_role("button", name="Promise to pay").click()

    expect(page.get_by_role("heading", name="Promise to pay $1,770.50")).to_be_visible()
    expect(page.get_by_text(f"Promised for {promised:%d %b %Y}")).to_be_visible()
    expect(page.get_by_text("We do not send reminders for these invoices")).to_be_visible()
    check_page(page, f"promise-page-{width}")

    page.get_by_role("link", name="Invoices", exact=True).click()
    expect(page.get_by_text(f"Promised for {promised:%d %b}")).to_have_count(2)
    check_page(page, f"promise-invoices-{width}")
    db.expire_all()
    made = db.scalar(select(Promise).where(Promise.customer_id == customer.id))
    assert made.method == "ach" and {row.invoice_id for row in made.invoices} == {first.id, second.id}

    staff = page.context.new_page()
    staff.set_viewport_size({"width": WIDTHS[width], "height": 900})
    staff.goto(f"{live_server.url}/admin/promises")
    staff.get_by_label("Email address").fill(collector.email)
    staff.get_by_label("Password").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    expect(staff.get_by_role("heading", name="Promises to pay")).to_be_visible()
    row = staff.locator("tbody tr").filter(has_text="INV-8101, INV-8102")
    expect(row).to_contain_text("Acme Corp")
    expect(row).to_contain_text("$1,770.50")
    expect(row).to_contain_text("ACH bank transfer")
    screenshot(staff, f"promise-staff-{width}")
