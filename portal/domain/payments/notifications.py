"""What the payments area sends: the receipt, once a payment has settled."""

from __future__ import annotations

import logging

from sqlalchemy import select

from portal.domain.core.context import Context
from portal.domain.customers.models import Contact
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import enqueue
from portal.domain.payments.models import Payment
from portal.domain.payments.queries import receipt_of

log = logging.getLogger(__name__)


def queue_receipt(ctx: Context, supplier: SupplierDetails, payment: Payment) -> None:
    """The receipt email to the paying contact, the company's AP mailboxes on CC (once)."""
    db = ctx.db
    contacts = db.scalars(select(Contact).where(Contact.customer_id == payment.customer_id)).all()
    payer = next((c for c in contacts if c.id == payment.contact_id), None)
    mailboxes = [c.email for c in contacts if c.is_ap_mailbox]
    to = payer.email if payer is not None else (mailboxes[0] if mailboxes else None)
    if to is None:
        log.warning("payment %s: no contact to send the receipt to", payment.public_id)
        return
    receipt = receipt_of(db, ctx.clock, payment)
    # Plain portal addresses: a recipient without a session signs in first and lands there
    # (like every link in our emails, these grant nothing by themselves).
    email = render_email(
        "payment_receipt", supplier=supplier, receipt=receipt, payment=receipt.summary,
        customer=receipt.customer, payer=payer,
        payment_url=supplier.url(f"payments/{payment.public_id}"),
        receipt_pdf_url=supplier.url(f"payments/{payment.public_id}/receipt.pdf"),
    )
    enqueue(db, ctx.clock, kind="payment_receipt", to=to, email=email,
            cc=[m for m in mailboxes if m != to], dedupe_key=f"payment_receipt:{payment.public_id}")
