"""Staff read models: one payment with its refunds and chargeback cases, and the chargeback list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.errors import NotFound
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.payments.models import Payment
from portal.domain.refunds.models import Chargeback, Refund
from portal.domain.refunds.service import blocking_chargeback, refundable, still_paid
from portal.domain.refunds.states import CHARGEBACK_LABELS, REFUND_LABELS, ChargebackStatus
from portal.domain.staff.models import StaffMember

CHARGEBACK_LIST_LIMIT = 200


@dataclass(frozen=True)
class PaidInvoice:
    number: str
    paid: Money
    still_paid: Money


@dataclass(frozen=True)
class RefundRow:
    public_id: str
    amount: Money
    status_label: str
    reason: str
    staff_name: str
    at: datetime
    failure_reason: str


@dataclass(frozen=True)
class ChargebackRow:
    public_id: str
    payment_public_id: str
    payment_reference: str
    customer_name: str
    amount: Money
    status: str
    status_label: str
    stripe_status: str
    reason: str
    evidence_due_at: datetime | None
    opened_at: datetime


@dataclass(frozen=True)
class StaffPaymentPage:
    payment: Payment
    customer_name: str
    account_number: str
    amount: Money
    invoices: list[PaidInvoice]
    refunds: list[RefundRow]
    chargebacks: list[ChargebackRow]
    refundable: Money
    refund_blocked_by: ChargebackRow | None


def staff_payment_page(db: Session, public_id: str) -> StaffPaymentPage:
    payment = db.scalar(select(Payment).where(Payment.public_id == public_id))
    if payment is None:
        raise NotFound("No such payment.")
    customer = db.get(Customer, payment.customer_id)
    numbers = dict(db.execute(select(Invoice.id, Invoice.number).where(
        Invoice.id.in_([a.invoice_id for a in payment.allocations]))).all())
    left = dict(still_paid(db, payment))
    currency = payment.currency
    invoices = [PaidInvoice(numbers[a.invoice_id], Money(a.amount_minor, currency),
                            Money(left[a.invoice_id], currency)) for a in payment.allocations]
    refunds = [
        RefundRow(r.public_id, Money(r.amount_minor, r.currency), REFUND_LABELS[r.status], r.reason, name or "—",
                  r.created_at, r.failure_reason)
        for r, name in db.execute(
            select(Refund, StaffMember.name).outerjoin(StaffMember, StaffMember.id == Refund.staff_id)
            .where(Refund.payment_id == payment.id).order_by(Refund.id)
        ).all()
    ]
    cases = _chargeback_rows(db, select(Chargeback).where(Chargeback.payment_id == payment.id))
    blocking = blocking_chargeback(db, payment.id)
    return StaffPaymentPage(
        payment=payment, customer_name=customer.name, account_number=customer.account_number,
        amount=Money(payment.amount_minor, currency), invoices=invoices, refunds=refunds, chargebacks=cases,
        refundable=refundable(db, payment),
        refund_blocked_by=next((c for c in cases if blocking and c.public_id == blocking.public_id), None),
    )


def chargeback_list(db: Session, *, open_only: bool) -> list[ChargebackRow]:
    """The cases, open ones by evidence deadline first (the soonest due on top), at most
    CHARGEBACK_LIST_LIMIT."""
    query = select(Chargeback)
    if open_only:
        query = query.where(Chargeback.status == ChargebackStatus.OPEN)
    query = query.order_by(Chargeback.status != ChargebackStatus.OPEN, Chargeback.evidence_due_at.is_(None),
                           Chargeback.evidence_due_at, Chargeback.id.desc()).limit(CHARGEBACK_LIST_LIMIT)
    return _chargeback_rows(db, query)


def _chargeback_rows(db: Session, query) -> list[ChargebackRow]:
    rows = db.execute(
        query.add_columns(Payment.public_id, Payment.reference, Customer.name)
        .join(Payment, Payment.id == Chargeback.payment_id).join(Customer, Customer.id == Payment.customer_id)
    ).all()
    return [
        ChargebackRow(c.public_id, payment_id, reference, name, Money(c.amount_minor, c.currency), c.status,
                      CHARGEBACK_LABELS[c.status], c.stripe_status, c.reason, c.evidence_due_at, c.opened_at)
        for c, payment_id, reference, name in rows
    ]
