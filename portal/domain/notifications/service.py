"""The transactional outbox: `enqueue` writes a message in the caller's transaction, so a
rolled-back change never emails anyone. `notifications.jobs.deliver_due` sends it after commit.
`retry_dead_message` gives a message the sender gave up on another full set of attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core import audit
from portal.domain.core.clock import Clock
from portal.domain.core.context import Context
from portal.domain.core.errors import NotFound
from portal.domain.notifications.models import OutboxAttachment, OutboxMessage
from portal.domain.notifications.rendering import RenderedEmail
from portal.domain.notifications.states import OUTBOX_TRANSITIONS, OutboxStatus


@dataclass(frozen=True)
class FileToSend:
    """A file attached to an email: its name (ASCII, no path), MIME type and bytes."""

    filename: str
    content_type: str
    content: bytes


def enqueue(
    db: Session,
    clock: Clock,
    *,
    kind: str,
    to: str,
    email: RenderedEmail,
    cc: list[str] | tuple[str, ...] = (),
    dedupe_key: str | None = None,
    attachments: Sequence[FileToSend] = (),
) -> OutboxMessage:
    """Queue one email (with `attachments`, stored beside it). With a `dedupe_key`, queuing the
    same message twice is a no-op."""
    if dedupe_key is not None:
        existing = db.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    now = clock.now()
    message = OutboxMessage(
        kind=kind, dedupe_key=dedupe_key, to_address=to,
        cc_addresses=", ".join(address for address in cc if address and address != to),
        subject=email.subject, body_text=email.text, body_html=email.html,
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now,
    )
    message.attachments = [OutboxAttachment(filename=item.filename, content_type=item.content_type,
                                            content=item.content) for item in attachments]
    db.add(message)
    return message


def revive_dead(row, pending: str, now) -> dict:
    """Make a dead outbox row (an email, a webhook delivery) pending and due at `now`, its
    attempts counted from zero so the sender tries it the full number of times. Returns what it
    was, for the audit."""
    before = {"status": row.status, "attempts": row.attempts, "last_error": row.last_error[:200]}
    row.status = pending
    row.attempts = 0
    row.next_attempt_at = now
    row.lease_until = None
    row.dead_at = None
    row.last_error = ""
    return before


def retry_dead_message(ctx: Context, message_id: int) -> OutboxMessage:
    """Staff send a dead message again: pending, due now, its attempts counted from zero, so
    the sender tries it the full number of times. Audited with the error it died of."""
    message = ctx.db.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update())
    if message is None:
        raise NotFound("No such message.")
    OUTBOX_TRANSITIONS.check(message.status, OutboxStatus.PENDING, str(message.id))
    before = revive_dead(message, OutboxStatus.PENDING, ctx.clock.now())
    audit.record(ctx.db, ctx.clock, ctx.actor, "outbox.retried", "outbox_message", str(message.id),
                 before=before, after={"status": message.status, "attempts": 0})
    return message
