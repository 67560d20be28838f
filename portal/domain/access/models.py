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
