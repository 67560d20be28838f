"""An installment plan in real Chromium against localstripe: the clerk saves the test card on
the saved cards page, proposes a 3-part monthly plan inside the policy with autopay, sees the
schedule and the terms, accepts; the collector (`collect_installments`) charges the first
installment off-session; localstripe's signed webhook settles it and the plan's page shows it
paid. Screenshots at 390 and 1280 px land in test-artifacts/."""

from __future__ import annotations


import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.domain.core.clock import FixedClock
from portal.domain.core.context import Context
from portal.domain.invoicing.models import Invoice
from portal.domain.payments.models import Payment
from portal.domain.core.database import writing_session
from portal.domain.plans.jobs import JOB_ACTOR, collect_installments
from portal.domain.plans.models import Plan
from tests.browser.page_checks import screenshots_at_widths
from tests.support import localstripe_app
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.fixtures.browser import fill_test_card, sign_in_browser
from tests.support.fixtures.stripe import CARD_OK
from tests.support.plans import POLICY

gateway, settings = localstripe_app.gateway, localstripe_app.settings
real_time_clock, webhooks_to_app = localstripe_app.real_time_clock, localstripe_app.webhooks_to_app

pytestmark = pytest.mark.browser



@pytest.fixture
def clock(real_time_clock) -> FixedClock:
    return real_time_clock


def _shot(page: Page, name: str) -> None:
    screenshots_at_widths(page, f"plan-{name}")


def _collect(session_factory, clock, gateway, supplier):
    """Run the collector as its command does: a session that takes SQLite's write lock when
    it begins, so the live server's requests meanwhile make it wait rather than fail."""
    with writing_session(session_factory) as session:
        report = collect_installments(Context(session, clock, JOB_ACTOR), gateway, supplier, POLICY)
        session.commit()
    return report


def test_propose_a_three_part_plan_with_autopay_and_see_the_first_installment_paid(
        app, page: Page, db, session_factory, clock, live_server, gateway, supplier, webhooks_to_app):
    customer = make_customer(db, clock, name="Acme Corp")
    invoice = make_invoice(db, clock, customer, total_minor=90_000, number="INV-8001")
    clerk = make_contact(db, clock, customer, email="ap.clerk@acme.example")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in_browser(app, db, clock, page, live_server, clerk)

    page.goto(f"{live_server.url}/payment-methods/new")
    fill_test_card(page, CARD_OK)
    page.get_by_role("button", name="Agree and save the card").click()
    page.wait_for_url(f"{live_server.url}/payment-methods")

    page.goto(f"{live_server.url}/plans/new?invoice={invoice.public_id}")
    page.select_option("#count", "3")
    page.select_option("#cadence", "monthly")
    _shot(page, "new")
    page.get_by_role("button", name="See the schedule").click()
    expect(page.locator("#schedule tbody tr")).to_have_count(3)
    expect(page.locator("#terms")).to_contain_text("charged on its date to the saved card visa ending 4242")
    _shot(page, "schedule")
    page.get_by_role("button", name="I accept these terms").click()
    page.wait_for_url(lambda url: "/plans/" in url and not url.endswith("/new"))
    expect(page.locator("#plan-status")).to_have_text("Active")

    db.expire_all()
    plan = db.scalar(select(Plan))
    report = _collect(session_factory, clock, gateway, supplier)
    assert report.charged == 1
    first = page.locator("#installments tbody tr").first
    for _ in range(30):  # localstripe's webhook lands about a second later
        page.reload()
        if first.locator(".badge").inner_text() == "paid":
            break
        page.wait_for_timeout(500)
    expect(first.locator(".badge")).to_have_text("Paid")
    expect(page.locator("#installments tbody tr").nth(1).locator(".badge")).to_have_text("Scheduled")
    _shot(page, "paid")

    _collect(session_factory, clock, gateway, supplier)
    db.commit()
    db.expire_all()
    plan = db.get(Plan, plan.id)
    assert [i.status for i in plan.installments] == ["paid", "scheduled", "scheduled"]
    payment = db.get(Payment, plan.installments[0].payment_id)
    assert payment.status == "succeeded" and payment.amount_minor == 30_000
    assert db.get(Invoice, invoice.id).balance_minor == 60_000
    assert errors == []
