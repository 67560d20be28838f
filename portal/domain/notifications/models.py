"""Transactional outbox: messages written with the change that causes them, sent after commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base
from portal.domain.notifications.states import OutboxStatus


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(sql_in("status", OutboxStatus), name="status_known"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        # A customer's timeline lists the emails sent to its contacts' addresses.
        Index("ix_outbox_messages_to_address", "to_address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    # Makes enqueueing idempotent: the same receipt for the same payment is queued once.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    to_address: Mapped[str] = mapped_column(String(254))
    cc_addresses: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    # A worker that claimed the message holds it until then; a crashed worker's claim lapses.
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]  # when the sender gave up on it (cleared by a retry)

    attachments: Mapped[list[OutboxAttachment]] = relationship(order_by="OutboxAttachment.id",
                                                               cascade="all, delete-orphan")


class OutboxAttachment(Base):
    """A file sent with an outbox message (a re-issued invoice's PDF), stored with it so the
    sender needs nothing but the row (migration 0022)."""

    __tablename__ = "outbox_attachments"
    __table_args__ = (Index("ix_outbox_attachments_message", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"))
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
