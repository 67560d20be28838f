"""What follow-ups email: the clerk who reported one when staff answer (matched, not found and
what to send, a question, closed), and the assignee when the clerk answers.

The clerk's email carries the plain portal address of the follow-up's page (like receipts: it
grants nothing by itself; a recipient without a session signs in and lands there), the
company's AP mailboxes on CC. Staff text is quoted as the customer's would be (`payer_text`
keeps it one line). Each message is queued once per step (`dedupe_key` names the event).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock
from portal.domain.customers.models import Contact, Customer
from portal.domain.followups.models import Followup, FollowupInvoice
from portal.domain.followups.states import KIND_LABELS, STAFF_KIND_LABELS, FollowupKind
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import enqueue
from portal.domain.staff.models import StaffMember

log = logging.getLogger(__name__)

CUSTOMER_PAGE = "problems/{public_id}"
STAFF_PAGE = "admin/followups/{public_id}"

# What each staff step tells the clerk, as the subject's verb.
UPDATE_SUBJECTS = {
    "matched": "We found your payment",
    "question": "We need something from you",
    "dismissed": "We closed your report",
}


@dataclass(frozen=True)
class FollowupMail:
    supplier: SupplierDetails


def _invoice_numbers(db: Session, followup: Followup) -> list[str]:
    return list(db.scalars(select(Invoice.number).join(FollowupInvoice, FollowupInvoice.invoice_id == Invoice.id)
                           .where(FollowupInvoice.followup_id == followup.id).order_by(Invoice.number)))


def queue_customer_update(db: Session, clock: Clock, mail: FollowupMail, followup: Followup, what: str, *,
                          text: str) -> bool:
    """Tell the clerk who reported it what staff did (`what`: matched, question, dismissed)."""
    contacts = db.scalars(select(Contact).where(Contact.customer_id == followup.customer_id)).all()
    reporter = next((c for c in contacts if c.id == followup.reported_by_contact_id), None)
    if reporter is None:
        log.warning("follow-up %s: nobody to tell", followup.public_id)
        return False
    email = render_email(
        "followup_update", supplier=mail.supplier, contact=reporter, customer=db.get(Customer, followup.customer_id),
        subject_line=UPDATE_SUBJECTS[what], what=what, text=text, kind=str(followup.kind),
        report=KIND_LABELS[FollowupKind(followup.kind)],
        invoice_numbers=_invoice_numbers(db, followup),
        url=mail.supplier.url(CUSTOMER_PAGE.format(public_id=followup.public_id)),
    )
    enqueue(db, clock, kind="followup_update", to=reporter.email, email=email,
            cc=[c.email for c in contacts if c.is_ap_mailbox and c.email != reporter.email],
            dedupe_key=f"followup_{what}:{followup.public_id}:{len(followup.events)}")
    return True


def queue_staff_answer(db: Session, clock: Clock, mail: FollowupMail, followup: Followup) -> bool:
    """Tell the assignee the customer answered (nobody assigned: the queue shows it reopened)."""
    if followup.assignee_id is None:
        return False
    member = db.get(StaffMember, followup.assignee_id)
    email = render_email(
        "followup_staff_answer", supplier=mail.supplier, staff=member,
        customer=db.get(Customer, followup.customer_id), work=STAFF_KIND_LABELS[FollowupKind(followup.kind)],
        invoice_numbers=_invoice_numbers(db, followup),
        url=mail.supplier.url(STAFF_PAGE.format(public_id=followup.public_id)),
    )
    enqueue(db, clock, kind="followup_staff_answer", to=member.email, email=email,
            dedupe_key=f"followup_answer:{followup.public_id}:{len(followup.events)}")
    return True
