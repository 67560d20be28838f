"""An analyst in Chromium: the dispute queue, one dispute's page with its internal note, and a
reply with a file, at phone and desktop widths. Screenshots land in test-artifacts/ for a person to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.disputes import service
from portal.domain.staff.service import TeamDetails, create_team
from tests.browser.test_staff_sign_in_journey import _shot
from tests.support import attachment_files as files
from tests.support.disputes import raise_test_dispute, staff_context
from tests.support.factories import STAFF_PASSWORD, make_contact, make_customer, make_invoice, make_staff

pytestmark = pytest.mark.browser


def test_an_analyst_works_a_dispute_from_the_queue(page: Page, db, clock, live_server):
    analyst = make_staff(db, clock, name="Ana Analyst", email="ana@northwind.example")
    desk = create_team(Context(db, clock, Actor.system("test")),
                       TeamDetails("Pricing desk", "UTC", "12345", 540, 1020), [analyst.id])
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer)
    dispute = raise_test_dispute(db, clock, clerk, [make_invoice(db, clock, customer, number="INV-4410")])
    make_invoice(db, clock, customer, number="INV-4411")
    dispute.team_id, dispute.assignee_id = desk.id, analyst.id
    service.reply(staff_context(db, clock), None, dispute.public_id, "Check the March price list.", internal=True)
    db.commit()
    page.set_default_timeout(10_000)

    page.goto(f"{live_server.url}/admin/disputes")
    page.get_by_label("Email address").fill(analyst.email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Acme Corp")).to_be_visible()
    _shot(page, "dispute-queue")

    page.get_by_role("link", name="Acme Corp").click()
    expect(page.get_by_text("Check the March price list.")).to_be_visible()
    expect(page.get_by_text("INV-4411")).to_be_visible()
    _shot(page, "dispute")
    page.get_by_label("Reply to the customer").fill("We are checking the price list.")
    page.get_by_label("Files for the customer").set_input_files(
        [{"name": "March price list.csv", "mimeType": "text/csv", "buffer": files.CSV_TEXT}])
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("We are checking the price list.")).to_be_visible()
    expect(page.locator("#thread").get_by_role("link", name="March price list.csv")).to_be_visible()
