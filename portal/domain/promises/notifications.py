"""What the promises area emails the customer: a promise to pay was broken.

The email goes to the contact who made the promise (the company's AP mailboxes on CC) and
carries an invoice-scoped link (`access.service.issue_invoice_link`) to the promised invoices
that lands on the promise's page: safe to forward, since whoever holds it sees those invoices
only. Queued once per promise (`dedupe_key`), in the job's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access.service import issue_invoice_link
from portal.domain.access.tokens import LinkSigner
from portal.domain.core.clock import Clock
from portal.domain.core.money import Money
from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import enqueue
from portal.domain.promises.models import Promise, PromiseInvoice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromiseMail:
    """What a promise email needs: who we are, and the signer its link is made with."""

    supplier: SupplierDetails
    signer: LinkSigner


def promise_path(promise: Promise) -> str:
    return f"/promises/{promise.public_id}"


def broken_notice_key(promise: Promise) -> str:
    return f"promise-broken:{promise.public_id}"


def queue_broken_notice(db: Session, clock: Clock, mail: PromiseMail, promise: Promise) -> bool:
    """Queue the "your promise was broken" email; False when there is nobody to tell."""
    contacts = db.scalars(select(Contact).where(Contact.customer_id == promise.customer_id)).all()
    maker = next((c for c in contacts if c.id == promise.made_by_contact_id), None)
    if maker is None:
        log.warning("promise %s: no contact to notify", promise.public_id)
        return False
    invoices = db.scalars(
        select(Invoice).join(PromiseInvoice, PromiseInvoice.invoice_id == Invoice.id)
        .where(PromiseInvoice.promise_id == promise.id).order_by(Invoice.number)
    ).all()
    issued = issue_invoice_link(db, clock, mail.signer, contact=maker, invoices=invoices,
                                next_path=promise_path(promise))
    # Column reads, not the entities' attributes: the balances are kept by database triggers.
    figures = db.execute(select(Invoice.balance_minor, Invoice.held_minor)
                         .where(Invoice.id.in_([invoice.id for invoice in invoices]))).all()
    owed = Money(sum(max(balance - held, 0) for balance, held in figures), promise.currency)
    email = render_email(
        "promise_broken", supplier=mail.supplier, promise=promise, contact=maker,
        customer=db.get(Customer, promise.customer_id), invoices=invoices, owed=owed, url=issued.url,
    )
    enqueue(db, clock, kind="promise_broken", to=maker.email, email=email,
            cc=[c.email for c in contacts if c.is_ap_mailbox and c.email != maker.email],
            dedupe_key=broken_notice_key(promise))
    return True
