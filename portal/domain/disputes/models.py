"""Disputes and what hangs off them: the invoices (and lines) they cover, the thread, the
history, the SLA clock's pauses and the links to attached files.

`team_id` and `assignee_id` (set by routing) name the staff area's `teams` and `staff_members`,
as a staff author's `staff_id` does. `DisputeAttachment` links a stored file of the
attachments area (`stored_files`) to the dispute, or to one of its messages; what a file may be
seen by follows from where it is linked (an internal note's files are staff-only).

Each covered invoice (`DisputeInvoice`) records what was disputed on it (`disputed_minor`,
never above what could still be paid when it was raised), what it holds right now
(`held_minor`: the disputed amount while the dispute is active, 0 once it ended) and what was
credited. The invoice's own `held_minor` is the sum of its active holds, kept by the dispute
service in the same transaction (`disputes.service._move_hold`) and proved by
`disputes.jobs.check_holds`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base, PublicIdMixin
from portal.domain.disputes.states import ACTIVE, AuthorKind, DisputeStatus, EventKind

MAX_DESCRIPTION_LENGTH = 4000
MAX_MESSAGE_LENGTH = 4000
MAX_EVENT_DETAIL_LENGTH = 500
PRIORITIES = ("low", "normal", "high", "urgent")
ACTIVE_SQL = sql_in("status", ACTIVE)


class DisputeReason(Base):
    """The supplier's list of reasons a customer can choose from (seeded with the defaults)."""

    __tablename__ = "dispute_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Dispute(PublicIdMixin, Base):
    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint(sql_in("status", DisputeStatus), name="status_known"),
        CheckConstraint(sql_in("priority", PRIORITIES), name="priority_known"),
        CheckConstraint("length(currency) = 3", name="currency_code"),
        # The raise form's token: a double submit finds the dispute it already made.
        UniqueConstraint("customer_id", "request_key"),
        Index("ix_disputes_customer_created", "customer_id", "created_at"),
        # The SLA warnings, the "at risk" queue and the numbers read active disputes by due date.
        Index("ix_disputes_status_resolution_due", "status", "resolution_due_at"),
        # The staff queues: a member's or a team's active disputes in the queue's order.
        Index("ix_disputes_active_assignee_due", "assignee_id", "resolution_due_at", "created_at", "id",
              sqlite_where=text(ACTIVE_SQL), postgresql_where=text(ACTIVE_SQL)),
        Index("ix_disputes_active_team_due", "team_id", "resolution_due_at", "created_at", "id",
              sqlite_where=text(ACTIVE_SQL), postgresql_where=text(ACTIVE_SQL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    raised_by_contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    # The invoice link it was raised through, if any (a forwarded link's holder).
    link_id: Mapped[int | None] = mapped_column(ForeignKey("access_links.id"))
    reason_id: Mapped[int] = mapped_column(ForeignKey("dispute_reasons.id"))
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30))
    request_key: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    # Set by routing (and reassigning): the owning team and person.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"), index=True)
    first_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    first_responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    # What the customer will read with a credit that waits for approval (awaiting_approval).
    proposed_explanation: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    reason: Mapped[DisputeReason] = relationship()
    invoices: Mapped[list[DisputeInvoice]] = relationship(
        back_populates="dispute", order_by="DisputeInvoice.id", cascade="all, delete-orphan",
    )


REBILLED_SQL = "rebilled_invoice_id IS NOT NULL"


class DisputeInvoice(Base):
    """One invoice a dispute covers, and the money it disputes, holds and was credited."""

    __tablename__ = "dispute_invoices"
    __table_args__ = (
        UniqueConstraint("dispute_id", "invoice_id"),
        CheckConstraint("disputed_minor > 0", name="disputed_positive"),
        CheckConstraint("held_minor >= 0 AND held_minor <= disputed_minor", name="held_in_range"),
        CheckConstraint("credited_minor >= 0 AND credited_minor <= disputed_minor", name="credited_in_range"),
        CheckConstraint("proposed_credit_minor IS NULL OR (proposed_credit_minor >= 0"
                        " AND proposed_credit_minor <= disputed_minor)", name="proposed_in_range"),
        Index("ix_dispute_invoices_invoice", "invoice_id"),
        # The invoice page finds what a corrected invoice replaced (`account.queries`).
        Index("ix_dispute_invoices_rebilled", "rebilled_invoice_id", postgresql_where=text(REBILLED_SQL),
              sqlite_where=text(REBILLED_SQL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    disputed_minor: Mapped[int] = mapped_column(Integer)
    held_minor: Mapped[int] = mapped_column(Integer)
    credited_minor: Mapped[int] = mapped_column(Integer, default=0)
    # A credit waiting for approval (awaiting_approval): what will be credited when approved.
    proposed_credit_minor: Mapped[int | None] = mapped_column(Integer)
    # The corrected invoice that replaced it (re-bill).
    rebilled_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))

    dispute: Mapped[Dispute] = relationship(back_populates="invoices")
    lines: Mapped[list[DisputeLine]] = relationship(
        back_populates="dispute_invoice", order_by="DisputeLine.id", cascade="all, delete-orphan",
    )


class DisputeLine(Base):
    """One chosen line of a disputed invoice: the quantity or the amount disputed on it."""

    __tablename__ = "dispute_lines"
    __table_args__ = (
        UniqueConstraint("dispute_invoice_id", "invoice_line_id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("quantity IS NULL OR quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_invoice_id: Mapped[int] = mapped_column(ForeignKey("dispute_invoices.id"))
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"))
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    amount_minor: Mapped[int] = mapped_column(Integer)

    dispute_invoice: Mapped[DisputeInvoice] = relationship(back_populates="lines")


class DisputeMessage(Base):
    """One message of the thread. `internal` notes are staff-only: never shown to the customer."""

    __tablename__ = "dispute_messages"
    __table_args__ = (
        CheckConstraint(sql_in("author_kind", AuthorKind), name="author_kind_known"),
        CheckConstraint("author_kind = 'staff' OR NOT internal", name="only_staff_notes_internal"),
        Index("ix_dispute_messages_dispute", "dispute_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"))
    author_kind: Mapped[str] = mapped_column(String(10))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))  # a staff author
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class DisputeEvent(Base):
    """One step of the dispute's history (who did what, and the status it moved between)."""

    __tablename__ = "dispute_events"
    __table_args__ = (
        CheckConstraint(sql_in("kind", EventKind), name="kind_known"),
        Index("ix_dispute_events_dispute", "dispute_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(30))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(64), default="")
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str | None] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(MAX_EVENT_DETAIL_LENGTH), default="")


class DisputeSlaPause(Base):
    """A stretch of time the SLA clock stood still (we waited for the customer)."""

    __tablename__ = "dispute_sla_pauses"
    __table_args__ = (
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
        Index("ix_dispute_sla_pauses_dispute", "dispute_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class DisputeAttachment(Base):
    """A stored file attached to a dispute (`message_id` NULL: sent when it was raised), or to
    one of its messages. Linked once per dispute; the unique index also serves the lookups by
    dispute."""

    __tablename__ = "dispute_attachments"
    __table_args__ = (UniqueConstraint("dispute_id", "file_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("dispute_messages.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))
    created_at: Mapped[datetime]
