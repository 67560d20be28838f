"""A promise to pay and the invoices it covers.

`promised_date` is a calendar date in the customer's own time zone; `original_date` is the date
first promised (`move_count` says how often it moved since). `request_key` is the form's token:
a double submit finds the promise the first one made. Each covered invoice records what was
payable on it when the promise was made (`promised_minor`), the amount the promise is about.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base, PublicIdMixin
from portal.domain.promises.states import PaymentMethod, PromiseStatus

MAX_NOTE_LENGTH = 500


class Promise(PublicIdMixin, Base):
    __tablename__ = "promises"
    __table_args__ = (
        CheckConstraint(sql_in("status", PromiseStatus), name="status_known"),
        CheckConstraint(sql_in("method", PaymentMethod), name="method_known"),
        CheckConstraint("length(currency) = 3", name="currency_code"),
        CheckConstraint("total_minor > 0", name="total_positive"),
        CheckConstraint("move_count >= 0", name="move_count_not_negative"),
        UniqueConstraint("customer_id", "request_key"),
        Index("ix_promises_customer_status", "customer_id", "status"),
        # check-promises reads the open promises by date; the staff list by status.
        Index("ix_promises_status_promised_date", "status", "promised_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    made_by_contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    # The invoice link it was made through, if any (a forwarded link's holder).
    link_id: Mapped[int | None] = mapped_column(ForeignKey("access_links.id"))
    request_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(Integer)
    promised_date: Mapped[date] = mapped_column(Date)
    original_date: Mapped[date] = mapped_column(Date)
    move_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]

    invoices: Mapped[list[PromiseInvoice]] = relationship(
        back_populates="promise", order_by="PromiseInvoice.id", cascade="all, delete-orphan",
    )


class PromiseInvoice(Base):
    __tablename__ = "promise_invoices"
    __table_args__ = (
        UniqueConstraint("promise_id", "invoice_id"),
        CheckConstraint("promised_minor > 0", name="promised_positive"),
        Index("ix_promise_invoices_invoice", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    promise_id: Mapped[int] = mapped_column(ForeignKey("promises.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    promised_minor: Mapped[int] = mapped_column(Integer)

    promise: Mapped[Promise] = relationship(back_populates="invoices")
