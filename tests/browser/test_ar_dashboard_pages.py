"""A supervisor in Chromium: the AR dashboard, a customer's timeline found through the search,
and the dead letters with "Send again", each at 1280 and 390 px, checked by axe-core and
without sideways scrolling. Screenshots land in test-artifacts/ for a person to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from portal.domain.staff.states import StaffRole
from tests.browser.page_checks import check_at_both_widths
from tests.integration.reports.test_ar_dashboard import ledger  # noqa: F401  (the known ledger)
from tests.support.factories import STAFF_PASSWORD, make_staff
from tests.support.promises import make_test_promise
from tests.web.customers.test_customer_pages import _history
from tests.web.notifications.test_dead_letter_pages import _bury

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}  # lets axe's script into the pages


def test_a_supervisor_reads_the_dashboard_a_timeline_and_the_dead_letters(page: Page, db, clock, live_server,
                                                                          ledger):  # noqa: F811
    customer, contact, invoices = ledger
    make_test_promise(db, clock, contact, [invoices["b"]], days=3)
    _history(db, clock, customer, contact, "ACME")
    [dead] = _bury(db, clock, 1, to="old-ap{}@acme.invalid")
    supervisor = make_staff(db, clock, role=StaffRole.SUPERVISOR, name="Sam Supervisor", email="sam@northwind.example")
    db.commit()
    page.set_default_timeout(10_000)

    page.goto(f"{live_server.url}/admin/ar")
    page.get_by_label("Email address").fill(supervisor.email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Receivables")).to_be_visible()
    expect(page.locator("#dso-USD")).to_contain_text(" days")
    expect(page.get_by_role("img", name="Open balance by days overdue, USD")).to_be_visible()
    check_at_both_widths(page, "staff-ar")

    page.get_by_role("link", name="Customers").click()
    page.get_by_label("Name or account number").fill(customer.account_number)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=customer.name).click()
    expect(page.locator("#timeline")).to_contain_text("PAY-ACME")
    check_at_both_widths(page, "staff-customer")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Dead letters").click()
    expect(page.locator("#dead-letters")).to_contain_text(dead.to_address)
    check_at_both_widths(page, "staff-dead-letters")
    page.get_by_role("button", name=f"Send again: {dead.subject} to {dead.to_address}").click()
    expect(page.get_by_text("The message is queued again")).to_be_visible()
    expect(page.locator("#dead-letters")).to_contain_text("No dead emails")
