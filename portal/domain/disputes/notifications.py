"""What the disputes area emails the customer: staff replied, asked for information,
reassigned the dispute, or it ended (accepted, in part, rejected, re-billed).

The email carries an invoice-scoped link (`access.service.issue_invoice_link`) to the
dispute's invoices that lands on the dispute page: safe to forward, since whoever holds it
sees those invoices and their disputes only. It goes to the contact who raised the dispute,
the company's AP mailboxes on CC. Internal staff notes are never emailed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

from portal.domain.access.service import issue_invoice_link
from portal.domain.access.tokens import LinkSigner
from portal.domain.core.context import Context
from portal.domain.customers.models import Contact, Customer
from portal.domain.disputes.models import Dispute, DisputeInvoice
from portal.domain.disputes.queries import covered_figures
from portal.domain.disputes.states import STATUS_LABELS, DisputeStatus
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import enqueue

log = logging.getLogger(__name__)


class DisputeNotice(StrEnum):
    REPLY = "reply"
    INFORMATION_REQUESTED = "information_requested"
    REASSIGNED = "reassigned"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class DisputeMail:
    """What a dispute email needs: who we are, and the signer the dispute link is made with."""

    supplier: SupplierDetails
    signer: LinkSigner


def dispute_path(dispute: Dispute) -> str:
    return f"/disputes/{dispute.public_id}"


def queue_dispute_notice(ctx: Context, mail: DisputeMail | None, dispute: Dispute, notice: DisputeNotice,
                         *, message: str = "", owner: str = "") -> None:
    """Queue the email for `notice`; `message` is what staff wrote to the customer (quoted),
    `owner` who handles the dispute now (REASSIGNED). A resolution's email says what was
    credited on each invoice, in the customer's language, from the dispute's invoices.

    `mail=None` sends nothing: only for history written after the fact (the demo's data).
    """
    if mail is None:
        return
    db = ctx.db
    contacts = db.scalars(select(Contact).where(Contact.customer_id == dispute.customer_id)).all()
    raiser = next((c for c in contacts if c.id == dispute.raised_by_contact_id), None)
    mailboxes = [c.email for c in contacts if c.is_ap_mailbox]
    if raiser is None:
        log.warning("dispute %s: no contact to notify", dispute.public_id)
        return
    invoices = db.scalars(
        select(Invoice).join(DisputeInvoice, DisputeInvoice.invoice_id == Invoice.id)
        .where(DisputeInvoice.dispute_id == dispute.id).order_by(Invoice.number)
    ).all()
    issued = issue_invoice_link(db, ctx.clock, mail.signer, contact=raiser, invoices=invoices,
                                next_path=dispute_path(dispute))
    customer = db.get(Customer, dispute.customer_id)
    credited = covered_figures(db, dispute)[1] if notice is DisputeNotice.RESOLVED else ()
    email = render_email(
        "dispute_update", supplier=mail.supplier, notice=str(notice), dispute=dispute, contact=raiser,
        customer=customer, invoices=invoices, message=message, owner=owner, credited=credited, url=issued.url,
        status_label=STATUS_LABELS[DisputeStatus(dispute.status)],
    )
    enqueue(db, ctx.clock, kind=f"dispute_{notice}", to=raiser.email, email=email,
            cc=[m for m in mailboxes if m != raiser.email])
