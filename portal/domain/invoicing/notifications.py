"""Emails about invoices given their PO number: the re-issued invoice's PDF to the company's
AP contacts (the first as addressee, the others and the shared AP mailbox on CC, as reminders
go, `reminders.notifications.recipients`), and a declined request to the clerk who made it.

The PDF is the portal's own invoice document (`PoMail.render_pdf`, built by the web glue from
the same template the download uses), stored with the outbox message and attached when it is
sent. The addressee's invoice link opens the invoices that now carry the PO.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access.service import issue_invoice_link
from portal.domain.access.tokens import LinkSigner
from portal.domain.core.clock import Clock
from portal.domain.customers.models import Contact, Customer
from portal.domain.customers.policy import receives_email
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import FileToSend, enqueue
from portal.domain.reminders.notifications import recipients

PDF_TYPE = "application/pdf"


@dataclass(frozen=True)
class PoMail:
    """Who we are, the signer links are made with, and the invoice PDF renderer."""

    supplier: SupplierDetails
    signer: LinkSigner
    render_pdf: Callable[[Session, Invoice], bytes]


def pdf_filename(number: str) -> str:
    stem = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in number).strip("-")
    return f"invoice-{stem[:80] or 'document'}.pdf"


def queue_reissued_invoices(db: Session, clock: Clock, mail: PoMail, *, followup, reissues: Sequence,
                            po_number: str) -> bool:
    """One email with each re-issued invoice's PDF; False when nobody can be written to."""
    customer = db.get(Customer, followup.customer_id)
    contacts = db.scalars(select(Contact).where(Contact.customer_id == customer.id).order_by(Contact.id)).all()
    found = recipients(contacts)
    if found is None:
        return False
    to, cc = found
    reporter = db.get(Contact, followup.reported_by_contact_id) if followup.reported_by_contact_id else None
    if reporter is not None and receives_email(reporter) and reporter.email not in (to.email, *cc):
        cc.append(reporter.email)
    invoices = [reissue.invoice for reissue in reissues]
    db.flush()
    issued = issue_invoice_link(db, clock, mail.signer, contact=to, invoices=invoices,
                                next_path=f"/invoices/{invoices[0].public_id}")
    email = render_email("invoice_reissued", supplier=mail.supplier, contact=to, customer=customer,
                         reissues=reissues, po_number=po_number, url=issued.url)
    files = [FileToSend(pdf_filename(invoice.number), PDF_TYPE, mail.render_pdf(db, invoice)) for invoice in invoices]
    enqueue(db, clock, kind="invoice_reissued", to=to.email, cc=cc, email=email, attachments=files,
            dedupe_key=f"invoice_reissued:{followup.public_id}")
    return True


def queue_po_declined(db: Session, clock: Clock, mail: PoMail, *, followup, reason: str) -> bool:
    """Tell the clerk who asked that the invoice is not re-issued, and why."""
    reporter = db.get(Contact, followup.reported_by_contact_id) if followup.reported_by_contact_id else None
    if reporter is None or not receives_email(reporter):
        return False
    invoices = db.scalars(select(Invoice).where(Invoice.id.in_([item.invoice_id for item in followup.invoices]))
                          .order_by(Invoice.number)).all()
    email = render_email("po_declined", supplier=mail.supplier, contact=reporter, customer=reporter.customer,
                         invoices=invoices, reason=reason)
    enqueue(db, clock, kind="po_declined", to=reporter.email, email=email,
            dedupe_key=f"po_declined:{followup.public_id}")
    return True
