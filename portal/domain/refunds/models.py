"""Refunds of settled card payments, how each is split over the payment's invoices, and card
chargebacks (Stripe Disputes) as staff cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base, PublicIdMixin
from portal.domain.payments import models as payments_models  # noqa: F401  (payments.id, a foreign key target)
from portal.domain.refunds.states import ChargebackStatus, RefundStatus
from portal.domain.staff import models as staff_models  # noqa: F401  (staff_members.id, a foreign key target)

MAX_REASON_LENGTH = 500


class Refund(PublicIdMixin, Base):
    """One staff request to give money back on a settled payment."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(sql_in("status", RefundStatus), name="status_known"),
        # One refund per submitted form: a double submit finds this row (P14).
        # Leads with payment_id: also the index of a payment's refunds.
        UniqueConstraint("payment_id", "request_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=RefundStatus.REQUESTED)
    reason: Mapped[str] = mapped_column(String(MAX_REASON_LENGTH))
    # The refund form's token: "this request" across double submits and retries.
    request_key: Mapped[str] = mapped_column(String(64))
    # Committed before Stripe is called and reused on every retry of that call.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    failure_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Set while a request calls Stripe for this refund with no transaction open (as
    # `payments.gateway_call_until`): a second submit meanwhile is told "in progress".
    gateway_call_until: Mapped[datetime | None]

    allocations: Mapped[list[RefundAllocation]] = relationship(order_by="RefundAllocation.id")


class RefundAllocation(Base):
    """The part of a refund given back on one of the payment's invoices (it reopens it)."""

    __tablename__ = "refund_allocations"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        UniqueConstraint("refund_id", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    amount_minor: Mapped[int] = mapped_column(Integer)


class Chargeback(PublicIdMixin, Base):
    """A card chargeback on one of our payments: the staff case, from `charge.dispute.created`.

    Its money is on the ledger as one `chargeback` entry per invoice of the payment (the
    entries name the payment; Stripe allows one dispute per charge, and the ledger's unique
    (payment, invoice, kind) holds it to that); a won case reverses exactly those entries."""

    __tablename__ = "chargebacks"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(sql_in("status", ChargebackStatus), name="status_known"),
        Index("ix_chargebacks_status_due", "status", "evidence_due_at"),
        Index("ix_chargebacks_payment", "payment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=ChargebackStatus.OPEN)
    stripe_status: Mapped[str] = mapped_column(String(40))  # Stripe's own word, as last reported
    reason: Mapped[str] = mapped_column(String(60), default="")  # Stripe's (fraudulent, product_not_received ...)
    evidence_due_at: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
