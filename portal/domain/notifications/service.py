"""The transactional outbox: `enqueue` writes a message in the caller's transaction, so a
rolled-back change never emails anyone. `notifications.jobs.deliver_due` sends it after commit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.rendering import RenderedEmail
from portal.domain.notifications.states import OutboxStatus


def enqueue(
    db: Session,
    clock: Clock,
    *,
    kind: str,
    to: str,
    email: RenderedEmail,
    cc: list[str] | tuple[str, ...] = (),
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue one email. With a `dedupe_key`, queuing the same message twice is a no-op."""
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
    db.add(message)
    return message
