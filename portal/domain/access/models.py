"""Signed links into the customer portal, backed by a row each.

The token itself is never stored: only its SHA-256. A link has a purpose ("invoice": view and
pay the invoices it names, reusable until it expires; "sign_in": the whole account, single
use, short-lived), an expiry, a use and a revocation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Table, Column
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.types import Base, PublicIdMixin
from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice

link_invoices = Table(
    "access_link_invoices",
    Base.metadata,
    Column("link_id", ForeignKey("access_links.id"), primary_key=True),
    Column("invoice_id", ForeignKey("invoices.id"), primary_key=True),
)


class AccessLink(PublicIdMixin, Base):
    __tablename__ = "access_links"
    __table_args__ = (
        CheckConstraint("purpose IN ('invoice', 'sign_in')", name="purpose_known"),
        Index("ix_access_links_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship()
    contact: Mapped[Contact] = relationship()
    invoices: Mapped[list[Invoice]] = relationship(secondary=link_invoices, order_by="Invoice.id")


class RateLimitHit(Base):
    """One counted request in a rate-limit bucket (used when no Redis is configured)."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_bucket_at", "bucket", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]


class CustomerSession(Base):
    """A signed-in customer's session, checked on every request (SECURITY.md A3, A9, A13).

    The cookie carries a random session id; only its SHA-256 is stored. Signing out, staff
    revoking the contact's access, and the idle and absolute timeouts end the row, so a copy of
    the cookie stops working everywhere at once.
    """

    __tablename__ = "customer_sessions"
    __table_args__ = (
        CheckConstraint("scope IN ('account', 'invoices')", name="scope_known"),
        Index("ix_customer_sessions_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    scope: Mapped[str] = mapped_column(String(20))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("access_links.id"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str] = mapped_column(String(20), default="")

    contact: Mapped[Contact] = relationship()


class SignInLinkRequest(Base):
    """One "email me a sign-in link" request, for any address, known or not (SECURITY.md A5,
    A15). The request only writes this row, so known and unknown addresses take the same path
    and time; `access.jobs.resolve_sign_in_link_requests` later looks the address up and
    queues the emails, in the contact's language, else the one the visitor who asked read the
    portal in (`language`), else English."""

    __tablename__ = "sign_in_link_requests"
    __table_args__ = (Index("ix_sign_in_link_requests_pending", "resolved_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    next_path: Mapped[str | None] = mapped_column(String(2000))
    # The language the visitor read the portal in when asking (`core.locales`); NULL when the
    # request predates it (migration 0028).
    language: Mapped[str | None] = mapped_column(String(8))
    requested_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
