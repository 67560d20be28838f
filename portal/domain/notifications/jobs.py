"""Delivering the outbox: `deliver_due` sends what `notifications.service.enqueue` queued, after commit.

A rolled-back change therefore never emails anyone, and a crashed sender never loses a
message. Delivery is *at least once*: a sender that dies after the SMTP server accepted a
message but before the row was marked sent leaves it to be sent again when its lease lapses.
(The Message-ID stays the same, so mail clients fold such a duplicate away.)

How several senders share the work without sending a message twice:

1. **Claim** (one short transaction): a single `UPDATE ... SET lease_until = now + lease,
   attempts = attempts + 1 WHERE id IN (SELECT due ... LIMIT n) RETURNING id`. On PostgreSQL
   the inner SELECT takes `FOR UPDATE SKIP LOCKED`, so concurrent senders pick disjoint rows
   without waiting for each other; on SQLite the UPDATE holds the database's one write lock, so
   claims are serialized. A claimed row is invisible to other senders until its lease lapses.
2. **Send** with no transaction open (SMTP may be slow; a database lock must not wait on it).
3. **Record** each outcome in its own short transaction: sent; retry later with exponential
   backoff; or dead after `max_attempts` (or at once when the server refused it for good).

Attempts are counted when claimed, so a message that kills its sender every time still ends
up `dead` instead of being retried forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, selectinload

from portal.domain.core.clock import Clock
from portal.domain.core.database import claimable, commit_before_outside_call
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.states import OUTBOX_TRANSITIONS, OutboxStatus
from portal.domain.notifications.transport import MailTransport, PermanentDeliveryError, compose_email

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class DeliveryPolicy:
    """How many messages a sender takes at once, how long it holds them, how it retries.

    The lease must outlast sending a whole batch (batch_size x the SMTP timeout), or a slow
    sender's messages could be claimed by a second one and sent twice.
    """

    batch_size: int = 20
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 10
    first_retry: timedelta = timedelta(minutes=1)
    longest_retry: timedelta = timedelta(hours=6)

    def retry_delay(self, attempts: int) -> timedelta:
        """1, 2, 4, 8 ... minutes after the 1st, 2nd, 3rd, 4th ... failed attempt, capped."""
        return min(self.first_retry * (2 ** max(attempts - 1, 0)), self.longest_retry)


@dataclass
class DeliveryReport:
    """What one `deliver_due` run did."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.dead

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retrying} to retry, {self.dead} dead"


@dataclass(frozen=True)
class _Claimed:
    message_id: int
    attempts: int
    email: EmailMessage


def deliver_due(
    db: Session,
    clock: Clock,
    transport: MailTransport,
    *,
    mail_from: str,
    policy: DeliveryPolicy = DeliveryPolicy(),
) -> DeliveryReport:
    """Send one batch of due messages and record each outcome. Safe to run in parallel."""
    report = DeliveryReport()
    report.dead += _bury_abandoned(db, clock.now(), policy)
    claimed = _claim_due(db, clock.now(), policy, mail_from)
    try:
        for item in claimed:
            try:
                transport.send(item.email)
            except PermanentDeliveryError as error:
                _record_dead(db, clock.now(), item.message_id, error)
                report.dead += 1
            except Exception as error:  # noqa: BLE001 - one bad message must not stop the rest
                if item.attempts >= policy.max_attempts:
                    _record_dead(db, clock.now(), item.message_id, error)
                    report.dead += 1
                else:
                    _record_retry(db, clock.now() + policy.retry_delay(item.attempts), item.message_id, error)
                    report.retrying += 1
            else:
                _record_sent(db, clock.now(), item.message_id)
                report.sent += 1
    finally:
        transport.close()
    return report


def _due(now: datetime):
    """Pending, due, and not held by a live lease."""
    return and_(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now),
    )


def _bury_abandoned(db: Session, now: datetime, policy: DeliveryPolicy) -> int:
    """Mark dead the messages whose last allowed attempt ended with no outcome (the sender
    died mid-delivery): they would otherwise never be claimed again nor leave `pending`."""
    result = db.execute(
        update(OutboxMessage)
        .where(_due(now), OutboxMessage.attempts >= policy.max_attempts)
        .values(status=OutboxStatus.DEAD, lease_until=None, dead_at=now,
                last_error=f"no outcome recorded after {policy.max_attempts} attempts")
        .execution_options(synchronize_session=False)
    )
    commit_before_outside_call(db)
    return result.rowcount or 0


def _claim_due(db: Session, now: datetime, policy: DeliveryPolicy, mail_from: str) -> list[_Claimed]:
    due_ids = (
        select(OutboxMessage.id)
        .where(_due(now), OutboxMessage.attempts < policy.max_attempts)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(policy.batch_size)
    )
    claimed_ids = db.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(claimable(db, due_ids)))
        .values(lease_until=now + policy.lease, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    if not claimed_ids:
        commit_before_outside_call(db)
        return []
    messages = db.scalars(
        select(OutboxMessage)
        .options(selectinload(OutboxMessage.attachments))
        .where(OutboxMessage.id.in_(claimed_ids))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .execution_options(populate_existing=True)
    ).all()
    claimed = [
        _Claimed(
            message_id=message.id,
            attempts=message.attempts,
            email=compose_email(
                message_id=message.id, created_at=message.created_at, to=message.to_address,
                cc=message.cc_addresses, subject=message.subject, text=message.body_text,
                html=message.body_html, mail_from=mail_from, date=now,
                attachments=[(item.filename, item.content_type, item.content) for item in message.attachments],
            ),
        )
        for message in messages
    ]
    commit_before_outside_call(db)
    return claimed


def _still_pending(message_id: int):
    # A sender whose lease lapsed may record late; never undo what another sender recorded.
    return and_(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING)


def _record(db: Session, message_id: int, **values) -> None:
    if "status" in values:
        OUTBOX_TRANSITIONS.check(OutboxStatus.PENDING, values["status"], str(message_id))
    db.execute(
        update(OutboxMessage).where(_still_pending(message_id)).values(**values)
        .execution_options(synchronize_session=False)
    )
    commit_before_outside_call(db)


def _describe(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:MAX_ERROR_LENGTH]


def _record_sent(db: Session, now: datetime, message_id: int) -> None:
    _record(db, message_id, status=OutboxStatus.SENT, sent_at=now, lease_until=None, last_error="")


def _record_retry(db: Session, next_attempt_at: datetime, message_id: int, error: Exception) -> None:
    _record(db, message_id, next_attempt_at=next_attempt_at, lease_until=None, last_error=_describe(error))


def _record_dead(db: Session, now: datetime, message_id: int, error: Exception) -> None:
    _record(db, message_id, status=OutboxStatus.DEAD, lease_until=None, dead_at=now, last_error=_describe(error))
