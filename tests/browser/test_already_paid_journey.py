""""We already paid it" from a reminder email to the closed invoice, in real Chromium.

A reminder goes out for Acme's overdue invoice (`send_reminders`, as its command runs); the
clerk follows the email's "We already paid it" link (the same invoice-scoped token as the
email's main link, confirmed with a click), reports the wire with the remittance advice as a
PDF and sees the report and the invoice "being matched"; the collector finds it in the
cash-application queue with the details and the file, and matches it, which records the payment
through the ledger; the clerk's invoice shows paid; a week later the next reminder run chases
another customer's invoice but sends nothing for Acme's. Every page is checked at 1280 and
390 px (no sideways scrolling, nothing serious for axe), screenshots in test-artifacts/.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.database import writing_session
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.models import Payment
from portal.domain.reminders.jobs import send_reminders
from portal.domain.reminders.notifications import ReminderMail
from portal.domain.staff.service import TeamDetails, create_team
from portal.domain.staff.states import StaffRole
from tests.browser.page_checks import check_at_both_widths
from tests.support.attachment_files import tiny_pdf
from tests.support.factories import STAFF_PASSWORD, make_contact, make_customer, make_invoice, make_staff
from tests.support.promises import customer_today

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}  # lets axe's script into the pages


def _remind(session_factory, clock, supplier, link_signer):
    """The reminder run as its command does it: its own writing session, one commit."""
    with writing_session(session_factory) as session:
        report = send_reminders(session, clock, ReminderMail(supplier, link_signer))
        session.commit()
    return report


def _reminders_to(db, address: str) -> list[OutboxMessage]:
    db.commit()  # a fresh transaction sees what the live server and the command committed
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder",
                                                       OutboxMessage.to_address == address)))


def test_report_a_payment_from_a_reminder_staff_match_it_and_no_reminder_follows(
        page: Page, browser, app, db, session_factory, clock, live_server, supplier, link_signer, tmp_path):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_default_timeout(10_000)
    collector = make_staff(db, clock, role=StaffRole.COLLECTOR, name="Cole Collector", email="cole@northwind.example")
    create_team(Context(db, clock, Actor.system("test")),
                TeamDetails("Cash desk", "UTC", "1234567", 0, 24 * 60, followup_queues=("cash_application",)),
                [collector.id])
    acme = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, acme, email="ap.clerk@acme.example", name="Robin Ledger")
    today = customer_today(db, clock, clerk)
    invoice = make_invoice(db, clock, acme, number="INV-5001", total_minor=125_000, due_date=today - timedelta(days=8),
                           issue_date=today - timedelta(days=38))
    globex = make_customer(db, clock, name="Globex")
    make_contact(db, clock, globex, email="ap@globex.example")
    make_invoice(db, clock, globex, number="GLX-77", total_minor=40_000, due_date=today - timedelta(days=8),
                 issue_date=today - timedelta(days=38))
    db.commit()
    remittance = tmp_path / "remittance-advice.pdf"
    remittance.write_bytes(tiny_pdf("Remittance advice: wire FW-4412, INV-5001, $1,250.00"))

    # The reminder, and its "We already paid it" link (the app is served on the live server's port).
    assert _remind(session_factory, clock, supplier, link_signer).emails == 2
    [email] = _reminders_to(db, clerk.email)
    link = re.search(r"^- We already paid it: (\S+)$", email.body_text, re.M).group(1)
    page.goto(link.replace("http://localhost", live_server.url))
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="We already paid it")).to_be_visible()
    expect(page.locator("#report-invoices")).to_contain_text("INV-5001")
    page.get_by_label("Date you paid").fill((today - timedelta(days=2)).isoformat())
    page.get_by_label("Amount paid, in USD").fill("1,250.00")
    page.get_by_label("How you paid").select_option("wire")
    page.get_by_label("Reference").fill("FW-4412")
    page.locator("input[type=file][name=files]").set_input_files(str(remittance))
    check_at_both_widths(page, "already-paid-1-form")
    page.get_by_role("button", name="Tell us").click()

    expect(page.locator("#report-status")).to_have_text("We're on it")
    expect(page.get_by_role("link", name="remittance-advice.pdf")).to_be_visible()
    check_at_both_widths(page, "already-paid-2-reported")
    page.get_by_role("link", name="INV-5001").click()
    expect(page.locator("#payment-reported")).to_be_visible()
    check_at_both_widths(page, "already-paid-3-invoice-being-matched")

    # The collector finds it in their queue, with the details and the file, and matches it.
    staff = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
    staff.set_default_timeout(10_000)
    staff.goto(f"{live_server.url}/admin/followups")
    staff.get_by_label("Email address").fill(collector.email)
    staff.get_by_label("Password").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    expect(staff.locator("#followup-queue")).to_contain_text("Acme Corp")
    check_at_both_widths(staff, "already-paid-4-queue")
    staff.get_by_role("link", name="Payment reported: match it").click()
    expect(staff.locator("#followup-details")).to_contain_text("FW-4412")
    expect(staff.locator("#followup-details")).to_contain_text("$1,250.00")
    with staff.expect_download() as download:
        staff.get_by_role("link", name="remittance-advice.pdf").click()
    assert download.value.suggested_filename == "remittance-advice.pdf"
    check_at_both_widths(staff, "already-paid-5-followup")
    staff.get_by_label("Bank reference").fill("BOA 2026-06-13 FW-4412")
    staff.get_by_role("button", name="Match and record the payment").click()
    expect(staff.locator("#followup-status")).to_have_text("Resolved")
    expect(staff.locator("#matched-payment")).to_have_text(re.compile(r"PAY-\d{4}-\d{6}"))
    check_at_both_widths(staff, "already-paid-6-matched")

    # The clerk's invoice is paid, by the payment staff recorded.
    page.reload()
    expect(page.locator("h1 .badge")).to_have_text("Paid")
    db.commit()
    payment = db.scalar(select(Payment))
    assert (payment.method, payment.amount_minor, payment.status) == ("offline_wire", 125_000, "succeeded")
    db.refresh(invoice)
    assert invoice.balance_minor == 0
    expect(page.get_by_text(payment.reference)).to_be_visible()
    check_at_both_widths(page, "already-paid-7-invoice-paid")

    # A week on, the next step: Globex is chased again, Acme's paid invoice is not.
    clock.advance(days=7)
    report = _remind(session_factory, clock, supplier, link_signer)
    assert report.emails == 1
    assert len(_reminders_to(db, clerk.email)) == 1
    assert len(_reminders_to(db, "ap@globex.example")) == 2
