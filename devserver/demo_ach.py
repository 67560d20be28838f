"""The demo's US bank account payments (ACH Direct Debit) of Acme Corp (the demo clerk's): one
still processing (started yesterday: the invoice, the payments list and the status page show
"processing, expected by ..."), and one returned by the bank after it had settled (R01,
insufficient funds: the settlement reversed, the invoice open again, the account marked
unusable). Written as history, as Stripe's events would have left them; no email is queued.

Acme Corp also has two saved US bank accounts on its payment methods page: one verified (the
default: saved a week ago through Financial Connections) and one saved yesterday, waiting for
its microdeposits (shown "Waiting for verification"; it cannot be made the default or charged).
Their Stripe ids are made up: the demo's localstripe knows neither (it has no bank accounts).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock
from portal.domain.customers.models import Customer
from portal.domain.ledger.service import post_entry
from portal.domain.methods.models import MethodSetup, SavedMethod
from portal.domain.methods.policy import bank_mandate_text, consent_text
from portal.domain.methods.states import Verification
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


def _saved_bank_account(db: Session, customer: Customer, saved: datetime, last4: str, bank_name: str,
                        verification: Verification, default: bool) -> SavedMethod:
    contact = _contact(db, customer.id)
    mandate = bank_mandate_text(DEMO_SUPPLIER, customer.name)
    setup = MethodSetup(customer_id=customer.id, contact_id=contact.id, idempotency_key=secrets.token_hex(32),
                        stripe_setup_intent_id=f"seti_demo_{secrets.token_hex(6)}",
                        consent_text=consent_text(DEMO_SUPPLIER, customer.name), mandate_text=mandate,
                        ip="203.0.113.24", user_agent=DEMO_USER_AGENT, created_at=saved, completed_at=saved)
    db.add(setup)
    db.flush()
    method = SavedMethod(
        customer_id=customer.id, setup_id=setup.id, stripe_payment_method_id=f"pm_demo_bank_{secrets.token_hex(6)}",
        method_type=BANK_ACCOUNT, bank_name=bank_name, account_type="checking", last4=last4,
        verification_status=verification, verified_at=saved if verification == Verification.VERIFIED else None,
        stripe_mandate_id=f"mandate_demo_{secrets.token_hex(6)}", mandate_accepted_at=saved,
        is_default=default, consent_text=mandate, saved_by_contact_id=contact.id, saved_at=saved,
        ip=setup.ip, user_agent=setup.user_agent,
    )
    db.add(method)
    db.flush()
    return method


def write_demo_bank_methods(db: Session, clock: Clock, customer: Customer) -> list[str]:
    """A verified saved bank account (the default when the customer has none) and one waiting
    for microdeposits."""
    now = clock.now()
    has_default = db.scalar(select(SavedMethod.id).where(
        SavedMethod.customer_id == customer.id, SavedMethod.is_default.is_(True))) is not None
    _saved_bank_account(db, customer, now - timedelta(days=7), "6789", "STRIPE TEST BANK", Verification.VERIFIED,
                        default=not has_default)
    _saved_bank_account(db, customer, now - timedelta(days=1), "1116", "FIRST DEMO CREDIT UNION",
                        Verification.PENDING, default=False)
    return ["bank account verified", "bank account pending verification"]


def _returned_debit_days(issued: datetime, now: datetime) -> tuple[datetime, datetime, datetime]:
    """When the returned debit started, settled and came back: twelve, eight and five days
    ago, or as much later, in proportion, as the invoice it pays was issued."""
    span = min(timedelta(days=12), now - issued - timedelta(hours=1))
    started = now - span
    return started, started + span / 3, started + span * 7 / 12


def write_demo_ach(db: Session, clock: Clock) -> list[str]:
    """Make the demo's bank payments (the caller commits). Returns what was made."""
    now = clock.now()
    acme = db.scalar(select(Customer).where(Customer.name == ACME))
    if acme is None:
        return []
    # Each payment pays an invoice issued before it started: the returned one the oldest
    # issued (it started up to twelve days back), the processing one the next.
    started_by = now - timedelta(days=1)
    invoices = sorted((i for i in _open_invoices(db, acme.id, 6, issued_by=started_by) if i.currency == "USD"),
                      key=lambda invoice: invoice.created_at)[:2]
    made: list[str] = []
    if len(invoices) > 1:
        _bank_payment(db, acme, invoices[1], PaymentStatus.PROCESSING, started_by)
        made.append("processing")
    if invoices:
        invoice = invoices[0]
        started, settled, returned = _returned_debit_days(invoice.created_at, now)
        payment = _bank_payment(db, acme, invoice, PaymentStatus.SUCCEEDED, started)
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
    made += write_demo_bank_methods(db, clock, acme)
    return made
