"""Debtor companies and the people (AP contacts) who act for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.types import Base, PublicIdMixin


class Customer(PublicIdMixin, Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_number: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Bumped as the first write of any transaction that creates payments for this customer:
    # a portable row lock (PostgreSQL row lock, SQLite database write lock).
    payment_lock: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    # On hold (staff decide, with a reason): no installment plan is approved at once.
    on_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    hold_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    hold_changed_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    hold_changed_at: Mapped[datetime | None]

    contacts: Mapped[list[Contact]] = relationship(back_populates="customer", order_by="Contact.id")
    tags: Mapped[list[CustomerTag]] = relationship(order_by="CustomerTag.tag", cascade="all, delete-orphan")


class CustomerTag(Base):
    """A label staff give a customer ("key-account", "public-sector"); routing rules match them."""

    __tablename__ = "customer_tags"
    __table_args__ = (CheckConstraint("tag = lower(tag) AND length(tag) > 0", name="tag_lowercase"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)


class Contact(PublicIdMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("customer_id", "email"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("session_version >= 1", name="session_version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # A shared AP mailbox (ap@...) that is copied on the customer's emails.
    is_ap_mailbox: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sessions remember the version they started with; staff revocation bumps it.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    # Set when the contact has left the company (they said so, or staff did): no reminders go
    # to them and they cannot sign in; staff can undo it (migration 0022).
    left_at: Mapped[datetime | None]
    # Set when an email to the address bounced: reminders skip it until staff clear it.
    email_failing_at: Mapped[datetime | None]
    email_failure: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # The language the contact reads the portal, its emails and PDFs in (`core.locales`): set
    # by the ERP import or by the contact on a page; NULL until chosen (migration 0027).
    language: Mapped[str | None] = mapped_column(String(8))

    customer: Mapped[Customer] = relationship(back_populates="contacts")
