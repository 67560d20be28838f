"""Test data builders. They commit: the app under test reads through its own connections."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session, object_session

from portal.domain.access.policy import ACCOUNT, INVOICES
from portal.domain.access.sessions import start_session
from portal.domain.core.clock import Clock
from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.ledger.models import InvoiceEntry
from portal.web.customer_session import SESSION_KEY, session_payload

_seq = itertools.count(1)


def make_customer(db: Session, clock: Clock, name: str | None = None, timezone: str = "America/New_York") -> Customer:
    n = next(_seq)
    customer = Customer(
        account_number=f"C-{n:05d}", name=name or f"Customer {n} Ltd", timezone=timezone,
        created_at=clock.now(),
    )
    db.add(customer)
    db.commit()
    return customer


def make_contact(db: Session, clock: Clock, customer: Customer, email: str | None = None, name: str = "Pat Clerk", is_ap_mailbox: bool = False) -> Contact:
    n = next(_seq)
    contact = Contact(
        customer_id=customer.id, email=(email or f"clerk{n}@example.com").lower(), name=name,
        is_ap_mailbox=is_ap_mailbox, created_at=clock.now(),
    )
    db.add(contact)
    db.commit()
    return contact


def make_invoice(
    db: Session,
    clock: Clock,
    customer: Customer,
    *,
    total_minor: int = 12_500,
    currency: str = "USD",
    issue_date: date | None = None,
    due_date: date | None = None,
    po_number: str | None = None,
    number: str | None = None,
    lines: list[tuple[str, Decimal | int, int]] | None = None,
) -> Invoice:
    """An issued invoice. `lines` are (description, quantity, unit price minor); by default one
    line for the whole total."""
    n = next(_seq)
    today = clock.now().date()
    issue_date = issue_date or today - timedelta(days=10)
    due_date = due_date or issue_date + timedelta(days=30)
    if lines is None:
        lines = [("Consulting services", 1, total_minor)]
    total = sum(int(Decimal(q) * p) for _, q, p in lines)
    invoice = Invoice(
        customer_id=customer.id, number=number or f"INV-{n:06d}", po_number=po_number,
        currency=currency, issue_date=issue_date, due_date=due_date, terms="Net 30",
        total_minor=total, created_at=clock.now(),
    )
    db.add(invoice)
    db.flush()
    for position, (description, quantity, unit) in enumerate(lines, start=1):
        db.add(InvoiceLine(
            invoice_id=invoice.id, position=position, description=description,
            quantity=Decimal(quantity), unit_price_minor=unit, amount_minor=int(Decimal(quantity) * unit),
        ))
    db.add(InvoiceEntry(invoice_id=invoice.id, kind="issued", amount_minor=total,
                        reference=invoice.number, created_at=clock.now()))
    db.commit()
    return invoice


def sign_in(client, contact: Contact, clock: Clock, *, scope: str = ACCOUNT, link=None) -> None:
    """Start a server-side session for `contact` (committed) and put it into the test client's
    cookie jar, as redeeming a link would."""
    scope = scope if link is None else INVOICES
    db = object_session(contact)
    db.commit()  # end any read snapshot first: on SQLite a stale one cannot turn into a write
    started = start_session(db, clock, contact=contact, scope=scope, link=link)
    db.commit()
    with client.session_transaction() as session:
        session[SESSION_KEY] = session_payload(contact, scope, link, clock.now(), started.token)
        session.permanent = True


def add_invoice_entry(db: Session, clock: Clock, invoice: Invoice, kind: str, amount_minor: int,
                      *, payment_id: int | None = None, reference: str = "") -> InvoiceEntry:
    """Append one history entry (credit note, settled payment, reversal...) to an invoice."""
    entry = InvoiceEntry(invoice_id=invoice.id, kind=kind, amount_minor=amount_minor,
                         payment_id=payment_id, reference=reference, created_at=clock.now())
    db.add(entry)
    db.commit()
    return entry


def make_allocated_payment(db: Session, clock: Clock, customer: Customer,
                           allocations: list[tuple[Invoice, int]], *, status: str = "processing",
                           method: str = "card"):
    """A payment attempt in `status` allocating (invoice, amount minor) pairs; no entries."""
    from portal.domain.payments.models import Payment, PaymentAllocation

    n = next(_seq)
    payment = Payment(
        customer_id=customer.id, currency=allocations[0][0].currency,
        amount_minor=sum(amount for _, amount in allocations), method=method, status=status,
        request_key=f"request-{n}", idempotency_key=f"idempotency-{n}",
        created_at=clock.now(), updated_at=clock.now(),
    )
    db.add(payment)
    db.flush()
    for invoice, amount in allocations:
        db.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount_minor=amount))
    db.commit()
    return payment


def make_invoice_link(db: Session, clock: Clock, contact: Contact, invoices: list[Invoice], *, days: int = 30):
    """An invoice-scoped access link row (no token: for signing in with `sign_in(link=...)`)."""
    from portal.domain.access.models import AccessLink

    link = AccessLink(
        token_hash=f"test-{next(_seq):058d}", purpose="invoice", customer_id=contact.customer_id,
        contact_id=contact.id, created_at=clock.now(), expires_at=clock.now() + timedelta(days=days),
    )
    link.invoices = list(invoices)
    db.add(link)
    db.commit()
    return link
