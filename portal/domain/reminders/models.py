"""The reminder policy's steps, the supplier's holidays, the per-customer overrides and the
(invoice, step) rows that make `send-reminders` send each step once.

A step is known by its `offset_days` (days after the due date; negative is before it), unique
in the policy: a reminder sent records that offset, so editing a step's wording or tone, or
removing and adding it again, never sends it a second time for the same invoice.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base
from portal.domain.reminders.states import Tone

MAX_SUBJECT_LENGTH = 200
MAX_BODY_LENGTH = 4000
MIN_OFFSET_DAYS = -60
MAX_OFFSET_DAYS = 365


class ReminderStep(Base):
    __tablename__ = "reminder_steps"
    __table_args__ = (
        CheckConstraint(sql_in("tone", Tone), name="tone_known"),
        CheckConstraint(f"offset_days BETWEEN {MIN_OFFSET_DAYS} AND {MAX_OFFSET_DAYS}", name="offset_in_range"),
        UniqueConstraint("offset_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offset_days: Mapped[int] = mapped_column(Integer)
    tone: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class ReminderHoliday(Base):
    """A day the supplier does not chase anyone (in each customer's own calendar)."""

    __tablename__ = "reminder_holidays"

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class CustomerReminderSettings(Base):
    """Staff overrides for one customer: reminders paused, and a minimum amount worth chasing
    (an invoice in `minimum_currency` owing less than `minimum_minor` is left out)."""

    __tablename__ = "customer_reminder_settings"
    __table_args__ = (CheckConstraint("minimum_minor >= 0", name="minimum_not_negative"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    minimum_minor: Mapped[int] = mapped_column(Integer, default=0)
    minimum_currency: Mapped[str | None] = mapped_column(String(3))
    updated_at: Mapped[datetime]


class ReminderSent(Base):
    """One invoice reminded at one step. Written (and flushed) before the email is queued: the
    unique (invoice, step) pair is what makes two runs at once send each step once."""

    __tablename__ = "reminders_sent"
    __table_args__ = (
        UniqueConstraint("invoice_id", "offset_days"),
        Index("ix_reminders_sent_customer", "customer_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    offset_days: Mapped[int] = mapped_column(Integer)
    tone: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime]
    dedupe_key: Mapped[str] = mapped_column(String(120))
