"""Benchmark data: one customer per invoice count, with invoices in every state a clerk sees.

Rows are inserted in bulk (one flush per table) so 400 invoices take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.payments.models import Payment, PaymentAllocation

@dataclass(frozen=True)
class SeededCustomer:
    invoice_count: int
    contact_public_id: str
    sample_invoice_public_id: str  # an invoice with lines, a payment and a credit note


def seed_customer(db: Session, invoice_count: int, label: str, now: datetime) -> SeededCustomer:
    """A customer with `invoice_count` invoices: open, overdue, paid, partly paid, ACH in flight.

    Issue dates spread over the 150 days before `now` (an aware datetime), so the list and the
    aging buckets look like a real account on the day the benchmark runs.
    """
    today = now.date()
    customer = Customer(account_number=f"BENCH-{label}", name=f"Bench Customer {label}",
                        timezone="America/New_York", created_at=now)
    db.add(customer)
    db.flush()
    contact = Contact(customer_id=customer.id, email=f"ap-{label.lower()}@bench.example", name="AP Clerk",
                      created_at=now)
    db.add(contact)

    invoices = []
    for n in range(invoice_count):
        issue = today - timedelta(days=n % 150)
        invoices.append(Invoice(
            customer_id=customer.id, number=f"{label}-{n:05d}", po_number=f"PO-{label}-{n % 37:03d}",
            currency="EUR" if n % 10 == 7 else "USD", issue_date=issue, due_date=issue + timedelta(days=30),
            terms="Net 30", total_minor=3_000 + 1_000 * (n % 17) + 2 * 1_250, created_at=now,
        ))
    db.add_all(invoices)
    db.flush()

    lines, entries, payments = [], [], []
    for n, invoice in enumerate(invoices):
        lines.append(InvoiceLine(invoice_id=invoice.id, position=1, description="Service hours",
                                 quantity=Decimal(1), unit_price_minor=invoice.total_minor - 2_500,
                                 amount_minor=invoice.total_minor - 2_500))
        lines.append(InvoiceLine(invoice_id=invoice.id, position=2, description="Materials", sku="MAT-1",
                                 quantity=Decimal(2), unit_price_minor=1_250, amount_minor=2_500))
        entries.append(InvoiceEntry(invoice_id=invoice.id, kind="issued", amount_minor=invoice.total_minor,
                                    reference=invoice.number, created_at=now))
        shape = n % 10
        if shape in (1, 2):  # paid
            entries.append(InvoiceEntry(invoice_id=invoice.id, kind="payment", amount_minor=-invoice.total_minor,
                                        reference=f"ch_{n}", created_at=now))
        elif shape == 3:  # partly paid and credited
            entries.append(InvoiceEntry(invoice_id=invoice.id, kind="payment", amount_minor=-1_000,
                                        reference=f"ch_{n}", created_at=now))
            entries.append(InvoiceEntry(invoice_id=invoice.id, kind="credit_note", amount_minor=-500,
                                        reference=f"CN-{n}", created_at=now))
        elif shape == 4:  # ACH debit in flight
            payments.append((invoice, Payment(
                customer_id=customer.id, contact_id=None, currency=invoice.currency,
                amount_minor=invoice.total_minor, method="us_bank_account", status="processing",
                request_key=f"bench-{label}-{n}", idempotency_key=f"bench-{label}-{n}",
                created_at=now, updated_at=now,
            )))
    db.add_all(lines)
    db.add_all(entries)
    db.add_all([payment for _, payment in payments])
    db.flush()
    db.add_all([PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount_minor=payment.amount_minor)
                for invoice, payment in payments])
    db.flush()
    sample = invoices[3] if invoice_count > 3 else invoices[0]
    return SeededCustomer(invoice_count, contact.public_id, sample.public_id)
