"""Webhook endpoints the admins configure, and the deliveries queued for them (an outbox).

A delivery is written in the same transaction as the ledger entry it announces: a rolled-back
change announces nothing. A cash event's JSON body is built when a sender first claims it,
from the committed rows (the export's row, ERP ids included: an import writes those last),
and kept, so every attempt sends the same bytes (only the signature's timestamp changes).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base, PublicIdMixin
from portal.domain.webhooks.states import DeliveryStatus

MAX_URL_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 120


class WebhookEndpoint(PublicIdMixin, Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("length(url) > 0", name="url_not_empty"),
        Index("ix_webhook_endpoints_enabled", "enabled"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    description: Mapped[str] = mapped_column(String(MAX_DESCRIPTION_LENGTH), default="")
    # The HMAC key deliveries are signed with. Stored as it is, like the staff's TOTP secrets:
    # the sender must be able to sign with it (docs/erp-webhooks.md, "Security"). Shown once,
    # when the endpoint is added; never in a page, an audit row or a log afterwards.
    secret: Mapped[str] = mapped_column(String(100))
    # The event types it receives, space separated (`cash.payment cash.refund`).
    event_types: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def subscribed(self) -> tuple[str, ...]:
        return tuple(self.event_types.split())


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(sql_in("status", DeliveryStatus), name="status_known"),
        # One delivery of an event per endpoint, however often it is enqueued.
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_recent", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # The receiver's idempotency key (`Portal-Event-Id`): the cash row's reference and kind.
    event_id: Mapped[str] = mapped_column(String(80))
    event_type: Mapped[str] = mapped_column(String(40))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_entries.id"))
    body: Mapped[str | None] = mapped_column(Text)  # None until first claimed (cash events)
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    # A sender that claimed the delivery holds it until then; a crashed sender's claim lapses.
    lease_until: Mapped[datetime | None]
    last_status: Mapped[int | None]  # the endpoint's last HTTP status; None: no answer
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]
