"""Saved payment methods: the Stripe Customer each portal customer has, the setups a contact
started (a SetupIntent for off-session use), and the cards and US bank accounts they saved."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.core.types import Base, PublicIdMixin


class StripeCustomer(Base):
    """The Stripe Customer of one portal customer: created once, on the first save, with an
    idempotency key derived from our customer's id (`policy.customer_key`)."""

    __tablename__ = "stripe_customers"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime]


class MethodSetup(PublicIdMixin, Base):
    """One "save a card" attempt: the SetupIntent created for it, and the consent the contact
    gave (the words shown, who, when, from where), kept before Stripe is called."""

    __tablename__ = "method_setups"
    __table_args__ = (Index("ix_method_setups_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    # Saved (committed) before the SetupIntent is created and reused on every retry of that call.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    stripe_setup_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(255))
    consent_text: Mapped[str] = mapped_column(Text)
    # The ACH debit mandate shown beside the card words when a bank account may be saved too
    # (the real dialect's Payment Element); kept with a bank account saved from this setup.
    mandate_text: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class SavedMethod(PublicIdMixin, Base):
    """A card or US bank account saved for later off-session charges. Removing one detaches it
    at Stripe and stamps `removed_at`; the row stays (the consent it was saved with is evidence).

    A bank account Stripe verifies by microdeposits is kept as `pending_verification` and can
    be neither the default nor charged until Stripe reports the SetupIntent succeeded
    (SECURITY.md P12); `states.VERIFICATION_TRANSITIONS` says how it may move."""

    __tablename__ = "saved_methods"
    __table_args__ = (
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="exp_month_valid"),
        CheckConstraint("method_type IN ('card', 'us_bank_account')", name="method_type_valid"),
        CheckConstraint("method_type <> 'card' OR (exp_month IS NOT NULL AND exp_year IS NOT NULL)",
                        name="card_has_expiry"),
        CheckConstraint("verification_status IN ('verified', 'pending_verification', 'failed')",
                        name="verification_status_valid"),
        CheckConstraint("verification_status = 'verified' OR NOT is_default", name="default_is_verified"),
        # At most one default among a customer's methods still saved.
        Index("uq_saved_methods_default", "customer_id", unique=True,
              postgresql_where=text("is_default AND removed_at IS NULL"),
              sqlite_where=text("is_default AND removed_at IS NULL")),
        Index("ix_saved_methods_customer", "customer_id", "removed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    setup_id: Mapped[int] = mapped_column(ForeignKey("method_setups.id"), unique=True)
    # One row per Stripe PaymentMethod, whoever saved it and however often the page was reloaded.
    stripe_payment_method_id: Mapped[str] = mapped_column(String(255), unique=True)
    method_type: Mapped[str] = mapped_column(String(30), default="card", server_default="card")
    brand: Mapped[str] = mapped_column(String(20), default="")
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)  # cards only
    exp_year: Mapped[int | None] = mapped_column(Integer)
    # US bank accounts only: what Stripe tells us (never the account or routing number).
    bank_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    account_type: Mapped[str] = mapped_column(String(20), default="", server_default="")  # checking, savings
    verification_status: Mapped[str] = mapped_column(String(30), default="verified", server_default="verified")
    verified_at: Mapped[datetime | None]
    # The ACH mandate Stripe made from the acceptance we recorded (who, when, IP, user agent below).
    stripe_mandate_id: Mapped[str | None] = mapped_column(String(255))
    mandate_accepted_at: Mapped[datetime | None]
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # The consent, copied from the setup: the exact words shown, who, when, from where.
    consent_text: Mapped[str] = mapped_column(Text)
    saved_by_contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    saved_at: Mapped[datetime]
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    removed_at: Mapped[datetime | None]
    removed_by_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
