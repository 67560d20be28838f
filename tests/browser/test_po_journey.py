""""We need a PO" in real Chromium, end to end: the clerk opens the form from the portal,
types the PO number and sends it; an analyst signs in, finds the clerk's PO on the
follow-up and re-issues the invoice with it; the outbox sender delivers the new PDF through
the real SMTP sink, and the PDF carries the PO; the invoice's page shows the change in its
history. The customer's pages fit both widths with nothing serious for axe; screenshots land
in test-artifacts/."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from portal.domain.followups.models import Followup
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.jobs import deliver_due
from portal.domain.notifications.transport import SmtpTransport
from tests.browser.page_checks import check_at_both_widths, screenshot
from tests.support.factories import STAFF_PASSWORD, make_contact, make_customer, make_invoice, make_staff
from tests.support.fixtures.browser import sign_in_browser

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args):
    # axe-core is injected as a script tag; the CSP (no inline scripts) is tested elsewhere.
    return {**browser_context_args, "bypass_csp": True}


def test_the_clerk_gives_the_po_staff_apply_it_and_the_new_pdf_arrives(page: Page, app, db, clock, live_server,
                                                                       smtp_sink):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="ap.clerk@acme.example", name="Robin Ledger")
    make_contact(db, clock, customer, email="ap@acme.example", name="Accounts payable", is_ap_mailbox=True)
    invoice = make_invoice(db, clock, customer, number="INV-5521", total_minor=48_000)
    analyst = make_staff(db, clock, name="Ana Analyst", email="ana@northwind.example")
    sign_in_browser(app, db, clock, page, live_server, clerk)

    page.goto(f"{live_server.url}/problems/new/po?invoices={invoice.public_id}")
    expect(page.get_by_role("heading", name="We need a PO number, or the PO is wrong")).to_be_visible()
    check_at_both_widths(page, "po-form")
    page.get_by_label("PO number").fill("PO-88123")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Thank you: our billing team has it")).to_be_visible()
    check_at_both_widths(page, "po-sent")

    db.expire_all()
    followup = db.scalar(select(Followup).where(Followup.customer_id == customer.id))
    staff = page.context.browser.new_context(base_url=live_server.url).new_page()
    staff.set_default_timeout(10_000)
    staff.goto(f"/admin/followups/{followup.public_id}/actions")
    staff.get_by_label("Email address").fill(analyst.email)
    staff.get_by_label("Password").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    expect(staff.locator("#given-po")).to_have_text("PO-88123")
    screenshot(staff, "po-staff-followup")
    staff.get_by_role("button", name="Re-issue with this PO").click()
    expect(staff.locator("#followup-status")).to_have_text("Resolved")
    expect(staff.locator("#followup-invoices")).to_contain_text("PO-88123")
    screenshot(staff, "po-staff-resolved")

    db.rollback()
    report = deliver_due(db, clock, SmtpTransport(smtp_sink.host, smtp_sink.port), mail_from="billing@northwind.example")
    assert report.sent == 1
    [mail] = smtp_sink.wait_for(1)
    assert mail.to == "ap.clerk@acme.example" and mail.cc == "ap@acme.example"
    assert "PO-88123" in mail.subject and "INV-5521 now carries the PO" in mail.text
    [(filename, content_type, pdf)] = mail.attachments
    assert (filename, content_type) == ("invoice-INV-5521.pdf", "application/pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "PO-88123" in text and "INV-5521" in text
    assert db.get(Invoice, invoice.id).po_number == "PO-88123"

    page.goto(f"{live_server.url}/invoices/{invoice.public_id}")
    expect(page.locator("table.history")).to_contain_text("PO number set to PO-88123")
    check_at_both_widths(page, "po-invoice-history")
