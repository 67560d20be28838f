"""Test data builders. They commit: the app under test reads through its own connections."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from portal.domain.access import ACCOUNT, INVOICES
from portal.domain.clock import Clock
from portal.domain.models import Contact, Customer, Invoice, InvoiceEntry, InvoiceLine
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
    """Put a signed-in session for `contact` into the test client's cookie jar."""
    with client.session_transaction() as session:
        session[SESSION_KEY] = session_payload(contact, scope if link is None else INVOICES, link, clock.now())
        session.permanent = True
