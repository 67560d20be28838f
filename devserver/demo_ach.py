"""The demo's US bank account payments (ACH Direct Debit) of Acme Corp (the demo clerk's): one
still processing (started yesterday: the invoice, the payments list and the status page show
"processing, expected by ..."), and one returned by the bank after it had settled (R01,
insufficient funds: the settlement reversed, the invoice open again, the account marked
unusable). Written as history, as Stripe's events would have left them; no email is queued.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock
from portal.domain.customers.models import Customer
from portal.domain.ledger.service import post_entry
from portal.domain.ledger.states import EntryKind
from portal.domain.payments.models import BankDebit, Payment, PaymentAllocation
from portal.domain.payments.policy import BANK_ACCOUNT, ach_return_reason, mandate_text
from portal.domain.payments.service import next_payment_reference
from portal.domain.payments.states import PaymentStatus

from devserver.demo_promises import ACME, _contact, _open_invoices

DEMO_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) demo"
DEMO_SUPPLIER = "Northwind Supplies"


def _bank_payment(db: Session, customer: Customer, invoice, status: str, started: datetime) -> Payment:
    contact = _contact(db, customer.id)
    payment = Payment(
        reference=next_payment_reference(db, started.year), customer_id=customer.id, contact_id=contact.id,
        currency=invoice.currency, amount_minor=invoice.balance_minor, method=BANK_ACCOUNT, status=status,
        request_key=secrets.token_hex(32), idempotency_key=secrets.token_hex(32),
        stripe_payment_intent_id=f"pi_demo_ach_{secrets.token_hex(6)}", po_number="", memo="",
        failure_code="", failure_message="", created_at=started, updated_at=started,
    )
    db.add(payment)
    db.flush()
    db.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount_minor=invoice.balance_minor))
    db.add(BankDebit(payment_id=payment.id, contact_id=contact.id, mandate_text=mandate_text(DEMO_SUPPLIER),
                     accepted_at=started, ip="203.0.113.24", user_agent=DEMO_USER_AGENT, return_code=""))
    db.flush()
    return payment


def write_demo_ach(db: Session, clock: Clock) -> list[str]:
    """Make the demo's bank payments (the caller commits). Returns what was made."""
    now = clock.now()
    acme = db.scalar(select(Customer).where(Customer.name == ACME))
    if acme is None:
        return []
    invoices = [i for i in _open_invoices(db, acme.id, 6) if i.currency == "USD"][:2]
    made: list[str] = []
    if invoices:
        _bank_payment(db, acme, invoices[0], PaymentStatus.PROCESSING, now - timedelta(days=1))
        made.append("processing")
    if len(invoices) > 1:
        invoice = invoices[1]
        started = now - timedelta(days=12)
        payment = _bank_payment(db, acme, invoice, PaymentStatus.SUCCEEDED, started)
        settled, returned = started + timedelta(days=4), started + timedelta(days=7)
        post_entry(db, invoice_id=invoice.id, kind=EntryKind.PAYMENT, amount_minor=-payment.amount_minor,
                   payment_id=payment.id, reference=f"ch_demo_{payment.public_id}", at=settled)
        post_entry(db, invoice_id=invoice.id, kind=EntryKind.PAYMENT_REVERSAL, amount_minor=payment.amount_minor,
                   payment_id=payment.id, reference="dp_demo_return", at=returned)
        payment.settled_at = settled
        payment.failure_code = "R01"
        payment.failure_message = ach_return_reason("R01")
        debit = db.get(BankDebit, payment.id)
        debit.return_code, debit.returned_at, debit.unusable_at = "R01", returned, returned
        db.flush()
        made.append("returned")
    return made
