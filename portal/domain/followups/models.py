"""A follow-up, the invoices it is about, its thread and its files.

`details` holds what the kind needs, as the kind's parser in `policy` produced it (plain JSON
values: strings, integers in minor units, ISO dates); it is written once when the follow-up is
raised and never edited, so it is what the clerk said. What staff did is in the events.
`request_key` is the clerk's form token (a double submit finds the first follow-up);
`dedupe_key` names the event a system follow-up is raised for ("promise_broken:<public id>"),
so raising it twice raises it once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base, PublicIdMixin
from portal.domain.followups.states import FollowupKind, FollowupQueue, FollowupSource, FollowupStatus

MAX_TEXT_LENGTH = 2000


class Followup(PublicIdMixin, Base):
    __tablename__ = "followups"
    __table_args__ = (
        CheckConstraint(sql_in("kind", FollowupKind), name="kind_known"),
        CheckConstraint(sql_in("queue", FollowupQueue), name="queue_known"),
        CheckConstraint(sql_in("source", FollowupSource), name="source_known"),
        CheckConstraint(sql_in("status", FollowupStatus), name="status_known"),
        CheckConstraint("source = 'system' OR reported_by_contact_id IS NOT NULL", name="customer_reports_name_contact"),
        UniqueConstraint("customer_id", "request_key"),
        Index("uq_followups_dedupe_key", "dedupe_key", unique=True,
              sqlite_where=text("dedupe_key IS NOT NULL"), postgresql_where=text("dedupe_key IS NOT NULL")),
        Index("ix_followups_customer_status", "customer_id", "status"),
        # The staff queues: active follow-ups of a queue (or a team, or a person) by due time.
        Index("ix_followups_queue_status_due", "queue", "status", "due_at"),
        Index("ix_followups_active_assignee_due", "assignee_id", "due_at",
              sqlite_where=text("status IN ('open', 'waiting')"),
              postgresql_where=text("status IN ('open', 'waiting')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(30))
    queue: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default=FollowupStatus.OPEN)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    reported_by_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    # The invoice link it was reported through, if any (a forwarded link's holder).
    link_id: Mapped[int | None] = mapped_column(ForeignKey("access_links.id"))
    request_key: Mapped[str | None] = mapped_column(String(64))
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    # How it ended ("matched", "not_found", "reissued", ...; the kind's policy names them).
    outcome: Mapped[str] = mapped_column(String(30), default="")
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]

    invoices: Mapped[list[FollowupInvoice]] = relationship(
        back_populates="followup", order_by="FollowupInvoice.id", cascade="all, delete-orphan",
    )
    events: Mapped[list[FollowupEvent]] = relationship(
        back_populates="followup", order_by="FollowupEvent.id", cascade="all, delete-orphan",
    )


class FollowupInvoice(Base):
    __tablename__ = "followup_invoices"
    __table_args__ = (
        UniqueConstraint("followup_id", "invoice_id"),
        Index("ix_followup_invoices_invoice", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    followup_id: Mapped[int] = mapped_column(ForeignKey("followups.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))

    followup: Mapped[Followup] = relationship(back_populates="invoices")


class FollowupEvent(Base):
    """One step in a follow-up's life: raised, assigned, a question or answer, resolved.

    `for_customer` events are shown to the customer (staff's answers, "not found, please
    send ..."); the others are the staff's record. Exactly one of `staff_id` and `contact_id`
    names a person, or neither for the system.
    """

    __tablename__ = "followup_events"
    __table_args__ = (
        CheckConstraint("staff_id IS NULL OR contact_id IS NULL", name="one_author"),
        Index("ix_followup_events_followup", "followup_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    followup_id: Mapped[int] = mapped_column(ForeignKey("followups.id"))
    action: Mapped[str] = mapped_column(String(30))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    for_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    followup: Mapped[Followup] = relationship(back_populates="events")


class FollowupFile(Base):
    """A stored file sent with a follow-up (a remittance advice) or one of its events."""

    __tablename__ = "followup_files"
    __table_args__ = (UniqueConstraint("followup_id", "file_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    followup_id: Mapped[int] = mapped_column(ForeignKey("followups.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("followup_events.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))
    created_at: Mapped[datetime]
