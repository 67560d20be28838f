"""Staff changing a running plan, and the customer's answer, in real Chromium: a collector
opens an active plan whose customer is on hold (the hold shows), proposes a new schedule for
what remains, reads the plan policy page; the clerk sees the proposal with its exact terms on
the plan's page and accepts it, and the new installments replace the unpaid ones. Each page
fits both widths with nothing serious for axe; screenshots land in test-artifacts/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.customers.service import set_on_hold
from portal.domain.plans.models import Plan
from portal.domain.staff.states import StaffRole
from tests.browser.page_checks import check_at_both_widths
from tests.support.factories import STAFF_PASSWORD, make_contact, make_customer, make_invoice, make_staff
from tests.support.fixtures.browser import sign_in_browser
from tests.support.plans import customer_today, make_test_plan

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}  # lets axe's script into the pages


def test_a_collector_proposes_a_new_schedule_and_the_clerk_accepts_it(app, page: Page, db, clock, live_server):
    collector = make_staff(db, clock, role=StaffRole.COLLECTOR, name="Cole Collector", email="cole@northwind.example")
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="ap.clerk@acme.example")
    plan = make_test_plan(db, clock, clerk, [make_invoice(db, clock, customer, total_minor=90_000, number="INV-8101")])
    set_on_hold(Context(db, clock, Actor("staff", "supervisor-1")), customer, on_hold=True,
                reason="Two ACH debits returned this quarter")
    first = customer_today(db, clock, clerk) + timedelta(days=7)
    db.commit()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(10_000)

    page.goto(f"{live_server.url}/admin/plans/{plan.public_id}")
    page.get_by_label("Email address").fill(collector.email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#on-hold")).to_contain_text("Two ACH debits returned this quarter")
    form = page.locator("#amend-form")
    form.get_by_label("Installments").fill("4")
    form.get_by_label("How often").select_option("biweekly")
    form.get_by_label("First installment").fill(first.isoformat())
    form.get_by_label("Why (the customer reads it)").fill("Smaller payments while the warehouse is rebuilt.")
    form.get_by_role("button", name="Send to the customer").click()
    expect(page.locator("#amendment")).to_contain_text("4 × biweekly")
    check_at_both_widths(page, "plan-admin-new-schedule")
    page.goto(f"{live_server.url}/admin/plan-policy")
    expect(page.locator("#policy-source")).to_contain_text("PLAN_* settings")
    check_at_both_widths(page, "plan-policy")

    sign_in_browser(app, db, clock, page, live_server, clerk)
    page.goto(f"{live_server.url}/plans/{plan.public_id}")
    expect(page.locator("#amendment-terms")).to_contain_text("what remains unpaid, $900.00, is paid in 4 installments")
    expect(page.locator("#amendment")).to_contain_text("Smaller payments while the warehouse is rebuilt.")
    check_at_both_widths(page, "plan-new-schedule")
    page.get_by_role("button", name="I accept the new schedule").click()
    expect(page.locator("#amendment")).to_have_count(0)
    expect(page.locator("#installments tbody tr")).to_have_count(7)
    expect(page.locator("#installments tbody tr").nth(3)).to_contain_text("$225.00")
    db.expire_all()
    assert [(i.number, i.due_on, i.status) for i in db.get(Plan, plan.id).installments][3:] == [
        (4, first, "scheduled"), (5, first + timedelta(days=14), "scheduled"),
        (6, first + timedelta(days=28), "scheduled"), (7, first + timedelta(days=42), "scheduled")]
    assert errors == []
