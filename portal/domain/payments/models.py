"""Payment attempts, their allocation to invoices, and the Stripe events already processed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base, PublicIdMixin
from portal.domain.payments.states import IN_FLIGHT, PaymentStatus

# Kept as plain tuples for queries (`Payment.status.in_(IN_FLIGHT_STATUSES)`).
PAYMENT_STATUSES = tuple(str(status) for status in PaymentStatus)
IN_FLIGHT_STATUSES = tuple(str(status) for status in IN_FLIGHT)


class Payment(PublicIdMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(sql_in("status", PaymentStatus), name="status_known"),
        # One open attempt per customer and request: double clicks and concurrent posts of
        # the same form find this row instead of creating a second PaymentIntent.
        Index(
            "uq_payments_open_request", "customer_id", "request_key", unique=True,
            postgresql_where=text(sql_in("status", IN_FLIGHT)), sqlite_where=text(sql_in("status", IN_FLIGHT)),
        ),
        Index("ix_payments_customer_created", "customer_id", "created_at"),
        Index("uq_payments_reference", "reference", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    # The invoice link the attempt was made through (None: a signed-in whole-account session).
    # Only counted (card-testing pause), never joined: no foreign key, which SQLite could not
    # add to the existing table without copying it (and losing its triggers).
    link_id: Mapped[int | None] = mapped_column(Integer)
    # "PAY-2026-000123" (policy.payment_reference): what customers see, quote and file. Given
    # when the attempt is created (service.next_payment_reference), never changed. The server
    # default only exists so the column could be added to a table with rows (migration 0007);
    # a row written without a reference would collide with the next one on the unique index.
    reference: Mapped[str] = mapped_column(String(20), server_default=text("''"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(20), default="card")
    status: Mapped[str] = mapped_column(String(20), default="new")
    # Identifies "the same request" (form nonce + allocations): repeated posts share a row.
    request_key: Mapped[str] = mapped_column(String(64))
    # Saved (committed) before the Stripe call and reused on every retry of that call.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(255))
    # What Stripe.js made for the first call ("ctoken_..." or "tok_..."): every retry of that
    # call sends it again, so Stripe's idempotency check sees the same parameters.
    payment_token: Mapped[str | None] = mapped_column(String(255))
    po_number: Mapped[str] = mapped_column(String(60), default="")
    memo: Mapped[str] = mapped_column(String(500), default="")
    failure_code: Mapped[str] = mapped_column(String(80), default="")
    failure_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]
    # The card as the processor reported it ("visa", "4242"), for the receipt: recorded from
    # the create answer or, at the latest, when the payment settles.
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    # Set while a request is calling Stripe for this attempt, with no transaction open: a
    # concurrent post of the same form answers "in progress" instead of calling again. A
    # request that died mid-call leaves it to lapse, after which a retry may call again with
    # the same idempotency key.
    gateway_call_until: Mapped[datetime | None]

    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", order_by="PaymentAllocation.id"
    )


class PaymentAllocation(Base):
    __tablename__ = "payment_allocations"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        UniqueConstraint("payment_id", "invoice_id"),
        Index("ix_payment_allocations_invoice", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    amount_minor: Mapped[int] = mapped_column(Integer)
    # Required when less than the open balance is paid ("partial payment", ...).
    short_pay_reason: Mapped[str] = mapped_column(String(200), default="")

    payment: Mapped[Payment] = relationship(back_populates="allocations")


class PaymentReferenceCounter(Base):
    """The last reference number given in one year. Incremented by one atomic upsert per new
    attempt (`service.next_payment_reference`): on PostgreSQL the row lock it takes serializes
    concurrent attempts of *all* customers for the instant until their commit, so no two get
    the same number; SQLite's writers are serialized anyway. The unique index on
    `payments.reference` backs it up."""

    __tablename__ = "payment_reference_counters"
    __table_args__ = (CheckConstraint("last_number > 0", name="last_number_positive"),)

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class StripeEvent(Base):
    """A Stripe event whose effect is committed: its id is stored in the same transaction."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    # What the event did: "applied", "ignored: <why>", "unprocessed: <why>" ...
    outcome: Mapped[str] = mapped_column(String(200), default="")
    # The verified body of an event that moves money but is not handled yet (refunds,
    # disputes): kept to be replayed by the code that will handle it. None otherwise.
    payload: Mapped[str | None] = mapped_column(Text)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    received_at: Mapped[datetime]


class BankDebit(Base):
    """What a US bank account (ACH Direct Debit) payment adds to its attempt: the mandate the
    customer accepted (the words shown, who, when, from where: sent to Stripe as mandate_data),
    the microdeposit verification page while the account waits to be verified, and what the
    bank said when the debit failed or was returned. `unusable_at` set: this account and its
    mandate are not to be debited again (SECURITY.md P11)."""

    __tablename__ = "bank_debits"

    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    mandate_text: Mapped[str] = mapped_column(Text)
    accepted_at: Mapped[datetime]
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(500))
    # Stripe's hosted page for entering the microdeposit amounts (next_action.verify_with_microdeposits).
    verification_url: Mapped[str | None] = mapped_column(String(500))
    # The bank's answer: a Stripe failure code or dispute reason, or a NACHA return code ("R01").
    return_code: Mapped[str] = mapped_column(String(80), default="")
    returned_at: Mapped[datetime | None]  # the debit was returned after it had settled
    unusable_at: Mapped[datetime | None]
