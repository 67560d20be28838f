"""Reading the outbox for staff: the dead letters (messages the sender gave up on), paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.states import OutboxStatus

DEAD_PAGE_SIZE = 50
# Paging stops here: a list this long is a problem to fix at its cause, not to page through.
MAX_DEAD_PAGE = 200


@dataclass(frozen=True)
class DeadLetter:
    id: int
    kind: str
    to_address: str
    subject: str
    attempts: int
    last_error: str
    created_at: datetime
    dead_at: datetime | None  # None for messages that died before the outbox stamped it


@dataclass(frozen=True)
class DeadLetters:
    items: tuple[DeadLetter, ...]
    total: int
    page: int
    pages: int


def dead_message_count(db: Session) -> int:
    """One statement (the dashboard shows it)."""
    return int(db.scalar(select(func.count()).select_from(OutboxMessage)
                         .where(OutboxMessage.status == OutboxStatus.DEAD)) or 0)


def dead_letters(db: Session, page: int = 1) -> DeadLetters:
    """One page of dead messages, newest first: two statements whatever their number."""
    page = min(max(page, 1), MAX_DEAD_PAGE)
    total = dead_message_count(db)
    rows = db.execute(
        select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.to_address, OutboxMessage.subject,
               OutboxMessage.attempts, OutboxMessage.last_error, OutboxMessage.created_at,
               OutboxMessage.dead_at)
        .where(OutboxMessage.status == OutboxStatus.DEAD)
        .order_by(OutboxMessage.id.desc())
        .limit(DEAD_PAGE_SIZE).offset((page - 1) * DEAD_PAGE_SIZE)
    ).all()
    return DeadLetters(items=tuple(DeadLetter(*row) for row in rows), total=total, page=page,
                       pages=min(max((total + DEAD_PAGE_SIZE - 1) // DEAD_PAGE_SIZE, 1), MAX_DEAD_PAGE))
