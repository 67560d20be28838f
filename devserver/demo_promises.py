"""The demo's promises to pay: open, kept and broken, over invoices of Acme Corp (the demo
clerk's) and a few other customers.

Open and broken promises are made through the product's own service: the open ones today
(Acme's over two open invoices, due in a week and a half), the broken ones as made three weeks
ago (a clock moved by hand) for a date that passed with the money still owed, then marked
broken as `check-promises` would. Kept promises are history written after the fact: the demo
ledger's payments are all settled before this runs, so each kept promise is recorded over an
invoice a payment settled in full in the last weeks, promised for the day after it arrived.
No email is queued: this history is written after the fact.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.core import audit
from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock, FixedClock, today_in
from portal.domain.core.context import Context
from portal.domain.customers.models import Contact, Customer
from portal.domain.disputes.models import DisputeInvoice
from portal.domain.invoicing.models import Invoice
from portal.domain.payments.models import Payment, PaymentAllocation
from portal.domain.promises.jobs import JOB_ACTOR
from portal.domain.promises.models import Promise, PromiseInvoice
from portal.domain.promises.policy import PromisePolicy
from portal.domain.promises.service import make_promise, settle_promise
from portal.domain.promises.states import PromiseStatus

ACME = "Acme Corp"
ACME_CLERK = "ap@acme.example"
POLICY = PromisePolicy()


def _contact(db: Session, customer_id: int) -> Contact:
    contacts = db.scalars(select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id)).all()
    return next((c for c in contacts if c.email == ACME_CLERK), None) or contacts[0]


def _open_invoices(db: Session, customer_id: int, count: int, *, issued_by: datetime | None = None) -> list[Invoice]:
    """Open invoices with nothing in flight, held or promised, oldest due first; with
    `issued_by`, only those issued by then (what a payment started then can pay)."""
    busy = select(DisputeInvoice.invoice_id).union(select(PromiseInvoice.invoice_id))
    query = select(Invoice).where(Invoice.customer_id == customer_id, Invoice.balance_minor > 0,
                                  Invoice.in_flight_minor == 0, Invoice.held_minor == 0, Invoice.id.not_in(busy))
    if issued_by is not None:
        query = query.where(Invoice.created_at <= issued_by)
    return list(db.scalars(
        query.order_by(Invoice.due_date, Invoice.number).limit(count).execution_options(populate_existing=True)))


def _promise(db: Session, clock: Clock, customer: Customer, invoices: list[Invoice], *, days: int, method: str,
             note: str) -> Promise:
    contact = _contact(db, customer.id)
    today = today_in(clock, customer.timezone)
    return make_promise(
        Context(db, clock, Actor("contact", contact.public_id, "127.0.0.1")),
        Access(customer.id, contact.id, ACCOUNT), POLICY, invoice_public_ids=[i.public_id for i in invoices],
        promised_date=today + timedelta(days=days), method=method, note=note,
        request_key=f"demo-promise-{invoices[0].public_id}", today=today,
    )


def _kept_history(db: Session, customer: Customer, now: datetime) -> Promise | None:
    """A kept promise over the customer's invoice most recently paid in full by one payment."""
    row = db.execute(
        select(Invoice, Payment.settled_at, Payment.contact_id)
        .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Invoice.customer_id == customer.id, Invoice.balance_minor == 0,
               PaymentAllocation.amount_minor == Invoice.total_minor, Payment.settled_at >= now - timedelta(days=45),
               Invoice.id.not_in(select(PromiseInvoice.invoice_id)))
        .order_by(Payment.settled_at.desc()).limit(1)
    ).first()
    if row is None:
        return None
    invoice, settled_at, contact_id = row
    made_at = settled_at - timedelta(days=6)
    promise = Promise(
        customer_id=customer.id, made_by_contact_id=contact_id, request_key=f"demo-kept-{invoice.public_id}",
        status=PromiseStatus.KEPT.value, method="wire", note="Wire in next week's payment run",
        currency=invoice.currency, total_minor=invoice.total_minor,
        promised_date=settled_at.date() + timedelta(days=1), original_date=settled_at.date() + timedelta(days=1),
        move_count=0, created_at=made_at, updated_at=settled_at, decided_at=settled_at,
        invoices=[PromiseInvoice(invoice_id=invoice.id, promised_minor=invoice.total_minor)],
    )
    db.add(promise)
    db.flush()
    audit.record(db, FixedClock(settled_at), JOB_ACTOR, "promise.kept", "promise", promise.public_id,
                 before={"status": "open"}, after={"status": "kept"})
    return promise


def write_demo_promises(db: Session, clock: Clock) -> list[str]:
    """Make the demo's promises (the caller commits). Returns the statuses made."""
    now = clock.now()
    customers = list(db.scalars(select(Customer).order_by(Customer.account_number)))
    acme = next((c for c in customers if c.name == ACME), None)
    others = [c for c in customers if c.name != ACME]
    made: list[str] = []
    if acme is not None:
        invoices = _open_invoices(db, acme.id, 2)
        if len(invoices) == 2:
            made.append(_promise(db, clock, acme, invoices, days=10, method="ach",
                                 note="Approved in this week's payment run").status)
        kept = _kept_history(db, acme, now)
        if kept is not None:
            made.append(kept.status)
    three_weeks_ago = FixedClock(now - timedelta(days=21))
    for customer, method, note in zip(others[:3], ("check", "wire", "ach"),
                                      ("Check to be mailed by the 10th", "", "Waiting for the CFO's approval"),
                                      strict=False):
        invoices = _open_invoices(db, customer.id, 1)
        if invoices:
            broken = _promise(db, three_weeks_ago, customer, invoices, days=12, method=method, note=note)
            settle_promise(Context(db, FixedClock(now - timedelta(days=5)), JOB_ACTOR), broken,
                           PromiseStatus.BROKEN)
            made.append(broken.status)
    for customer in others[3:6]:
        kept = _kept_history(db, customer, now)
        if kept is not None:
            made.append(kept.status)
        invoices = _open_invoices(db, customer.id, 1)
        if invoices:
            made.append(_promise(db, clock, customer, invoices, days=5 + len(made), method="wire", note="").status)
    return made


def promise_counts(db: Session) -> dict[str, int]:
    return dict(db.execute(select(Promise.status, func.count()).group_by(Promise.status)).all())
