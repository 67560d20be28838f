"""Delivering webhooks: `deliver_due` sends what `webhooks.service` queued, after commit.

The same shape as the email outbox (`notifications.jobs`):

1. **Claim** (one short transaction): `UPDATE ... SET lease_until = now + lease, attempts =
   attempts + 1 WHERE id IN (SELECT due ... LIMIT n) RETURNING id`, only for endpoints still
   enabled; a cash event claimed for the first time gets its body (the export's row) here. On PostgreSQL the inner SELECT takes `FOR UPDATE SKIP LOCKED`, so concurrent
   senders pick disjoint deliveries; on SQLite the UPDATE holds the database's one write lock,
   so claims are serialized. The claim is committed before anything is sent.
2. **POST** each with no transaction open (an endpoint may take its whole timeout), signed
   `Portal-Signature: t=<now>,v1=<HMAC-SHA256 of "t.body">`, with `Portal-Event-Id`.
3. **Record** each outcome in its own short transaction: delivered on 2xx; otherwise retried
   with exponential backoff, and dead after `max_attempts` (at once for an address the portal
   does not send to). Staff retry dead ones from /admin/webhooks.

Delivery is at least once (a sender that dies after the endpoint answered sends it again when
its lease lapses): receivers apply each `Portal-Event-Id` once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock
from portal.domain.core.database import claimable, commit_before_outside_call
from portal.domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from portal.domain.webhooks.policy import (
    EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, DeliveryPolicy, signature_header,
)
from portal.domain.webhooks.service import cash_event_bodies
from portal.domain.webhooks.states import DELIVERY_TRANSITIONS, DeliveryStatus
from portal.domain.webhooks.transport import SendFailed, SendRefused, WebhookTransport

MAX_ERROR_LENGTH = 1000
DEFAULT_POLICY = DeliveryPolicy()


@dataclass
class DeliveryReport:
    """What one `deliver_due` run did."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def handled(self) -> int:
        return self.delivered + self.retrying + self.dead

    def __str__(self) -> str:
        return f"{self.delivered} delivered, {self.retrying} to retry, {self.dead} dead"


@dataclass(frozen=True)
class _Claimed:
    delivery_id: int
    attempts: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes


def deliver_due(db: Session, clock: Clock, transport: WebhookTransport, *,
                policy: DeliveryPolicy = DEFAULT_POLICY) -> DeliveryReport:
    """Send one batch of due deliveries and record each outcome. Safe to run in parallel."""
    report = DeliveryReport()
    report.dead += _bury_abandoned(db, clock.now(), policy)
    for item in _claim_due(db, clock.now(), policy):
        timestamp = int(clock.now().timestamp())
        headers = {SIGNATURE_HEADER: signature_header(item.secret, timestamp, item.body),
                   EVENT_ID_HEADER: item.event_id, EVENT_TYPE_HEADER: item.event_type}
        try:
            answer = transport.post(item.url, headers, item.body)
        except SendRefused as refused:
            _record_dead(db, clock.now(), item.delivery_id, None, str(refused))
            report.dead += 1
            continue
        except SendFailed as failed:
            status, error = None, str(failed) or type(failed).__name__
        else:
            if answer.ok:
                _record(db, item.delivery_id, status=DeliveryStatus.DELIVERED, delivered_at=clock.now(),
                        lease_until=None, last_status=answer.status, last_error="")
                report.delivered += 1
                continue
            status, error = answer.status, f"HTTP {answer.status}: {answer.text[:300]}".strip()
        if item.attempts >= policy.max_attempts:
            _record_dead(db, clock.now(), item.delivery_id, status, error)
            report.dead += 1
        else:
            _record(db, item.delivery_id, next_attempt_at=clock.now() + policy.retry_delay(item.attempts),
                    lease_until=None, last_status=status, last_error=error[:MAX_ERROR_LENGTH])
            report.retrying += 1
    return report


def _due(now: datetime):
    """Pending, due, and not held by a live lease."""
    return and_(
        WebhookDelivery.status == DeliveryStatus.PENDING,
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now),
    )


def _bury_abandoned(db: Session, now: datetime, policy: DeliveryPolicy) -> int:
    """Mark dead the deliveries whose last allowed attempt ended with no outcome (the sender
    died mid-delivery): they would otherwise stay pending for ever."""
    result = db.execute(
        update(WebhookDelivery)
        .where(_due(now), WebhookDelivery.attempts >= policy.max_attempts)
        .values(status=DeliveryStatus.DEAD, lease_until=None, dead_at=now,
                last_error=f"no outcome recorded after {policy.max_attempts} attempts")
        .execution_options(synchronize_session=False)
    )
    commit_before_outside_call(db)
    return result.rowcount or 0


def _claim_due(db: Session, now: datetime, policy: DeliveryPolicy) -> list[_Claimed]:
    enabled = select(WebhookEndpoint.id).where(WebhookEndpoint.enabled.is_(True))
    due_ids = (
        select(WebhookDelivery.id)
        .where(_due(now), WebhookDelivery.attempts < policy.max_attempts,
               WebhookDelivery.endpoint_id.in_(enabled.scalar_subquery()))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(policy.batch_size)
    )
    claimed_ids = db.scalars(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(claimable(db, due_ids)))
        .values(lease_until=now + policy.lease, attempts=WebhookDelivery.attempts + 1)
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    claimed = []
    if claimed_ids:
        found = db.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id.in_(claimed_ids))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .execution_options(populate_existing=True)
        ).all()
        cash_event_bodies(db, found)  # written with the claim, before anything is sent
        endpoints = {endpoint_id: (url, secret) for endpoint_id, url, secret in db.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.secret)
            .where(WebhookEndpoint.id.in_({delivery.endpoint_id for delivery in found})))}
        claimed = [_Claimed(delivery.id, delivery.attempts, *endpoints[delivery.endpoint_id], delivery.event_id,
                            delivery.event_type, delivery.body.encode()) for delivery in found]
    commit_before_outside_call(db)
    return claimed


def _record(db: Session, delivery_id: int, **values) -> None:
    if "status" in values:
        DELIVERY_TRANSITIONS.check(DeliveryStatus.PENDING, values["status"], str(delivery_id))
    # A sender whose lease lapsed may record late; never undo what another sender recorded.
    db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == DeliveryStatus.PENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    commit_before_outside_call(db)


def _record_dead(db: Session, now: datetime, delivery_id: int, status: int | None, error: str) -> None:
    _record(db, delivery_id, status=DeliveryStatus.DEAD, dead_at=now, lease_until=None, last_status=status,
            last_error=error[:MAX_ERROR_LENGTH])
