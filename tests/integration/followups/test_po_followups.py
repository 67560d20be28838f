"""The "we need a PO" follow-up as a sequence of events, on both databases: the clerk reports
→ billing has it → staff apply the PO (or the portal does, when the supplier allows) → the
invoice carries the PO (in place, or credited and replaced) → the new PDF reaches the AP
contacts through the real SMTP sink, and what is owed does not change. Staff may decline it;
the clerk is told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.domain.access.policy import ACCOUNT, INVOICES, Access
from portal.domain.account.queries import invoice_detail
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.errors import NotFound
from portal.domain.core.models import AuditEntry
from portal.domain.followups.states import FollowupStatus as S
from portal.domain.invoicing.models import Invoice, InvoiceReissue
from portal.domain.invoicing.notifications import PoMail
from portal.domain.invoicing.po_followups import apply_po, decline_po, report_needs_po
from portal.domain.invoicing.policy import DueDateRule, PoRefused, PoRequest, PoSettings
from portal.domain.ledger.jobs import check_ledger
from portal.domain.ledger.models import AccountTotal
from portal.domain.ledger.states import EntryKind
from portal.domain.notifications.jobs import deliver_due
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.transport import SmtpTransport
from portal.domain.reminders.jobs import send_reminders
from portal.domain.reminders.models import ReminderSent
from portal.domain.reminders.notifications import ReminderMail
from portal.web.documents import invoice_pdf
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice, make_staff,
)

KEY = "k" * 24
KEEP = PoSettings(DueDateRule.KEEP, auto_reissue=False)
GIVEN_PO = PoRequest(po_number="PO-4471")


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp", timezone="UTC")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example", name="Pat Clerk")
    make_contact(db, clock, customer, email="ap@acme.example", name="AP mailbox", is_ap_mailbox=True)
    today = clock.now().date()
    invoice = make_invoice(db, clock, customer, number="INV-7", total_minor=30_000, issue_date=today - timedelta(days=40),
                           due_date=today - timedelta(days=10),
                           lines=[("Widgets", 2, 10_000), ("Freight", 1, 10_000)])
    return customer, clerk, invoice


@pytest.fixture
def mail(app, link_signer, supplier):
    def render_pdf(db, invoice):
        with app.app_context():  # the portal's own invoice PDF, as the web glue renders it
            return invoice_pdf(db, invoice)

    return PoMail(supplier=supplier, signer=link_signer, render_pdf=render_pdf)


@pytest.fixture
def clerk_ctx(db, clock, acme):
    return Context(db, clock, Actor("contact", acme[1].public_id))


@pytest.fixture
def staff(db, clock):
    return make_staff(db, clock)


def _access(acme, scope=ACCOUNT, invoices=()):
    customer, clerk, _ = acme
    return Access(customer_id=customer.id, contact_id=clerk.id, scope=scope, invoice_ids=frozenset(invoices))


def _report(db, clock, acme, mail, settings=KEEP, request=GIVEN_PO, key=KEY):
    ctx = Context(db, clock, Actor("contact", acme[1].public_id))
    return report_needs_po(ctx, _access(acme), mail, settings, invoice_public_ids=[acme[2].public_id],
                           request=request, note="", request_key=key, today=clock.now().date())


def _staff_ctx(db, clock, staff):
    return Context(db, clock, Actor("staff", staff.public_id))


def _owed(db, customer) -> int:
    db.expire_all()
    return db.scalar(select(func.sum(AccountTotal.open_minor)).where(AccountTotal.customer_id == customer.id))


def _deliver(db, clock, sink):
    db.commit()
    report = deliver_due(db, clock, SmtpTransport(sink.host, sink.port), mail_from="billing@northwind.example")
    assert report.dead == 0
    return sink.wait_for(report.sent)


def test_untouched_invoice_takes_the_po_in_place_and_the_pdf_reaches_the_ap_contacts(
        app, db, clock, acme, mail, staff, smtp_sink):
    customer, clerk, invoice = acme
    followup = _report(db, clock, acme, mail)
    assert (followup.kind, followup.queue, followup.status) == ("needs_po", "billing", S.OPEN)
    assert followup.details == {"po_number": "PO-4471"}
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # staff act first
    owed_before = _owed(db, customer)

    [reissue] = apply_po(_staff_ctx(db, clock, staff), mail, KEEP, followup.public_id, po_number="PO-4471",
                         staff_id=staff.id, today=clock.now().date())
    assert reissue.replaced is None and reissue.invoice.id == invoice.id
    db.expire_all()
    invoice = db.get(Invoice, invoice.id)
    assert (invoice.po_number, invoice.balance_minor) == ("PO-4471", 30_000)
    assert invoice.due_date == clock.now().date() - timedelta(days=10)  # "keep": the original due date
    assert (followup.status, followup.outcome) == (S.RESOLVED, "reissued")
    assert followup.events[-1].for_customer and "PO-4471" in followup.events[-1].text
    assert _owed(db, customer) == owed_before
    detail = invoice_detail(db, _access(acme), invoice.public_id, clock.now().date())
    assert [str(row.label) for row in detail.history if row.kind == "po_updated"] == ["PO number set to PO-4471"]
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "invoice.po_updated")) == 1

    [caught] = _deliver(db, clock, smtp_sink)
    assert caught.to == "clerk@acme.example" and "ap@acme.example" in caught.cc
    assert "PO-4471" in caught.subject and "INV-7 now carries the PO" in caught.text
    [(filename, content_type, pdf)] = caught.attachments
    assert (filename, content_type) == ("invoice-INV-7.pdf", "application/pdf") and pdf.startswith(b"%PDF")


def test_a_partly_paid_invoice_is_credited_and_replaced_by_one_for_what_is_open(
        app, db, clock, acme, mail, staff, smtp_sink):
    customer, clerk, invoice = acme
    add_invoice_entry(db, clock, invoice, EntryKind.PAYMENT, -12_345, reference="wire")
    owed_before = _owed(db, customer)
    followup = _report(db, clock, acme, mail)
    [reissue] = apply_po(_staff_ctx(db, clock, staff), mail, KEEP, followup.public_id, po_number="PO-9",
                         staff_id=staff.id, today=clock.now().date())
    db.expire_all()
    old, new = db.get(Invoice, invoice.id), db.get(Invoice, reissue.invoice.id)
    assert (old.balance_minor, old.po_number) == (0, None)
    assert (new.number, new.po_number, new.balance_minor, new.total_minor) == ("INV-7-R1", "PO-9", 17_655, 17_655)
    assert new.due_date == new.issue_date == clock.now().date()  # overdue: cannot fall due before its issue
    assert [line.description for line in new.lines] == ["Balance of invoice INV-7"]
    record = db.scalar(select(InvoiceReissue))
    assert (record.invoice_id, record.replacement_invoice_id, record.credit_minor) == (old.id, new.id, 17_655)
    assert _owed(db, customer) == owed_before
    assert check_ledger(db).is_consistent
    old_detail = invoice_detail(db, _access(acme), old.public_id, clock.now().date())
    assert "Re-issued as INV-7-R1 with PO PO-9" in [str(row.label) for row in old_detail.history]
    assert (old_detail.replaces, old_detail.replaced_by.number) == (None, "INV-7-R1")
    # The credit's reference is the replacement's number: no English sentence in the ledger.
    assert [row.reference for row in old_detail.history if row.kind == "credit_note"] == ["INV-7-R1"]
    new_detail = invoice_detail(db, _access(acme), new.public_id, clock.now().date())
    assert "Replaces invoice INV-7, with PO PO-9" in [str(row.label) for row in new_detail.history]
    assert (new_detail.replaces.public_id, new_detail.replaced_by) == (old.public_id, None)
    assert new.notes == ""  # the page says what it replaces, in the reader's words
    [caught] = _deliver(db, clock, smtp_sink)
    assert "INV-7 was credited $176.55 and re-issued as invoice INV-7-R1" in caught.text
    assert [name for name, _, _ in caught.attachments] == ["invoice-INV-7-R1.pdf"]


@pytest.mark.parametrize(("language", "line"), [
    (None, "Balance of invoice INV-7"), ("fr", "Solde de la facture INV-7"), ("de", "Restbetrag der Rechnung INV-7"),
])
def test_the_balance_line_is_written_in_the_language_of_the_contact_the_invoice_went_to(
        app, db, clock, acme, mail, staff, language, line):
    """The line is part of the replacement invoice as kept and sent: it was English for a
    French or German customer, on their page and in the PDF."""
    _, clerk, invoice = acme
    clerk.language, invoice.sent_to_contact_id = language, clerk.id
    add_invoice_entry(db, clock, invoice, EntryKind.PAYMENT, -12_345, reference="wire")
    followup = _report(db, clock, acme, mail)
    [reissue] = apply_po(_staff_ctx(db, clock, staff), mail, KEEP, followup.public_id, po_number="PO-9",
                         staff_id=staff.id, today=clock.now().date())
    assert [item.description for item in db.get(Invoice, reissue.invoice.id).lines] == [line]


def test_a_whole_open_credited_invoice_copies_its_lines_and_restart_runs_the_terms_again(
        app, db, clock, acme, mail, staff):
    customer, clerk, invoice = acme
    add_invoice_entry(db, clock, invoice, EntryKind.CREDIT_NOTE, -1_000)
    add_invoice_entry(db, clock, invoice, EntryKind.PAYMENT_REVERSAL, 1_000)
    followup = _report(db, clock, acme, mail)
    restart = PoSettings(DueDateRule.RESTART)
    [reissue] = apply_po(_staff_ctx(db, clock, staff), mail, restart, followup.public_id, po_number="PO-1",
                         staff_id=staff.id, today=clock.now().date())
    assert [(line.description, line.amount_minor) for line in reissue.invoice.lines] == [
        ("Widgets", 20_000), ("Freight", 10_000)]
    assert reissue.invoice.due_date == clock.now().date() + timedelta(days=30)


def test_auto_reissue_when_the_supplier_allows_it_and_the_clerk_gave_the_number(app, db, clock, acme, mail):
    followup = _report(db, clock, acme, mail, settings=PoSettings(auto_reissue=True))
    assert (followup.status, followup.outcome) == (S.RESOLVED, "reissued")
    assert followup.events[-1].staff_id is None
    assert db.get(Invoice, acme[2].id).po_number == "PO-4471"
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "invoice_reissued")) == 1


def test_auto_reissue_leaves_a_disputed_invoice_to_staff_and_writes_nothing_on_it(app, db, clock, acme, mail):
    customer, clerk, invoice = acme
    make_allocated_payment(db, clock, customer, [(invoice, 5_000)], status="processing")
    followup = _report(db, clock, acme, mail, settings=PoSettings(auto_reissue=True))
    db.expire_all()
    assert followup.status == S.OPEN and db.get(Invoice, invoice.id).po_number is None
    assert "processing" in followup.events[-1].text
    assert db.scalar(select(func.count()).select_from(InvoiceReissue)) == 0


def test_who_issues_it_goes_to_staff_who_type_the_po(app, db, clock, acme, mail, staff):
    followup = _report(db, clock, acme, mail, settings=PoSettings(auto_reissue=True),
                       request=PoRequest(issuer_name="Dana Buyer", issuer_email="dana@acme.example"))
    assert followup.status == S.OPEN
    assert followup.details == {"issuer_name": "Dana Buyer", "issuer_email": "dana@acme.example"}
    apply_po(_staff_ctx(db, clock, staff), mail, KEEP, followup.public_id, po_number="PO-FROM-DANA",
             staff_id=staff.id, today=clock.now().date())
    assert db.get(Invoice, acme[2].id).po_number == "PO-FROM-DANA"


def test_staff_decline_with_a_reason_and_the_clerk_is_told(app, db, clock, acme, mail, staff, smtp_sink):
    followup = _report(db, clock, acme, mail)
    decline_po(_staff_ctx(db, clock, staff), mail, followup.public_id, reason="Your PO 4471 is for another order.",
               staff_id=staff.id)
    assert (followup.status, followup.outcome) == (S.DISMISSED, "declined")
    assert db.get(Invoice, acme[2].id).po_number is None
    [caught] = _deliver(db, clock, smtp_sink)
    assert caught.to == "clerk@acme.example" and '"Your PO 4471 is for another order."' in caught.text
    with pytest.raises(PoRefused, match="closed"):
        apply_po(_staff_ctx(db, clock, staff), mail, KEEP, followup.public_id, po_number="PO-1", staff_id=staff.id,
                 today=clock.now().date())


def test_the_same_form_token_reports_once(app, db, clock, acme, mail):
    first = _report(db, clock, acme, mail)
    again = _report(db, clock, acme, mail, request=PoRequest(po_number="OTHER"))
    assert again.id == first.id and again.details == {"po_number": "PO-4471"}


def test_a_link_holder_cannot_name_an_invoice_outside_the_link(app, db, clock, acme, mail):
    customer, clerk, invoice = acme
    other = make_invoice(db, clock, customer, number="INV-8")
    ctx = Context(db, clock, Actor("contact", clerk.public_id))
    with pytest.raises(NotFound):
        report_needs_po(ctx, _access(acme, INVOICES, [invoice.id]), mail, KEEP, invoice_public_ids=[other.public_id],
                        request=PoRequest(po_number="PO-1"), note="", request_key=KEY, today=clock.now().date())


@pytest.mark.parametrize("held", ["dispute", "processing", "paid"])
def test_staff_cannot_reissue_while_money_is_held_in_flight_or_nothing_is_open(
        app, db, clock, acme, mail, staff, held):
    customer, clerk, invoice = acme
    followup = _report(db, clock, acme, mail)
    if held == "processing":
        make_allocated_payment(db, clock, customer, [(invoice, 100)], status="processing")
    elif held == "paid":
        add_invoice_entry(db, clock, invoice, EntryKind.PAYMENT, -30_000)
    else:
        db.execute(Invoice.__table__.update().where(Invoice.id == invoice.id).values(held_minor=500))
    with pytest.raises(PoRefused, match={"dispute": "disputed", "processing": "processing", "paid": "paid"}[held]):
        apply_po(_staff_ctx(db, clock, staff), mail, KEEP, followup.public_id, po_number="PO-1", staff_id=staff.id,
                 today=clock.now().date())


def test_reminders_follow_the_replacement_and_leave_the_credited_invoice(app, db, clock, acme, mail, staff,
                                                                         link_signer, supplier):
    customer, clerk, invoice = acme
    add_invoice_entry(db, clock, invoice, EntryKind.PAYMENT, -10_000)
    followup = _report(db, clock, acme, mail)
    [reissue] = apply_po(_staff_ctx(db, clock, staff), mail, KEEP, followup.public_id, po_number="PO-9",
                         staff_id=staff.id, today=clock.now().date())
    report = send_reminders(db, clock, ReminderMail(supplier, link_signer))
    [reminder] = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")).all()
    assert report.invoices == 1 and "INV-7-R1" in reminder.body_text and "INV-7," not in reminder.body_text
    assert db.scalar(select(ReminderSent.invoice_id)) == reissue.invoice.id
