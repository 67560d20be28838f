"""Customer sessions on the server (SECURITY.md A3, A9, A13): started by a link, checked on
every request, ended by signing out, by staff revoking the contact's access, or by time.

The cookie names a session by a random id (256 bits); the row keeps only its SHA-256, like
links. A session is live while its row has no `ended_at`, it is younger than
`ABSOLUTE_TIMEOUT`, and it was seen within `IDLE_TIMEOUT`. The web glue keeps its own cookie
checks as well (timestamps, the contact's session version); this row is what makes a copied
cookie die with its original.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from portal.domain.access.models import AccessLink, CustomerSession
from portal.domain.core.clock import Clock
from portal.domain.customers.models import Contact

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)


def session_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class StartedSession:
    """`token` goes into the cookie and exists only here; the row keeps its hash."""

    row: CustomerSession
    token: str


def start_session(db: Session, clock: Clock, *, contact: Contact, scope: str,
                  link: AccessLink | None = None) -> StartedSession:
    """A new session for `contact`; the caller commits and puts `token` in the cookie."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    row = CustomerSession(
        token_hash=session_token_hash(token), contact_id=contact.id, scope=scope,
        link_id=link.id if link is not None else None, created_at=now, last_seen_at=now,
        ended_at=None, end_reason="",
    )
    db.add(row)
    db.flush()
    return StartedSession(row, token)


def find_live_session(db: Session, now: datetime, token: str, contact_public_id: str) -> tuple[CustomerSession, str]:
    """The session named by `token`, with its contact and company loaded in the same query,
    and "" when it is live, else why not ("revoked", "signed_out", "idle", "expired")."""
    row = db.scalar(
        select(CustomerSession)
        .join(CustomerSession.contact)
        .options(joinedload(CustomerSession.contact).joinedload(Contact.customer))
        .where(CustomerSession.token_hash == session_token_hash(token), Contact.public_id == contact_public_id)
    )
    if row is None:
        return None, "revoked"
    if row.ended_at is not None:
        return row, row.end_reason or "revoked"
    if now - row.created_at > ABSOLUTE_TIMEOUT:
        return row, "expired"
    if now - row.last_seen_at > IDLE_TIMEOUT:
        return row, "idle"
    return row, ""


def mark_seen(db: Session, row: CustomerSession, now: datetime) -> None:
    db.execute(update(CustomerSession).where(CustomerSession.id == row.id).values(last_seen_at=now)
               .execution_options(synchronize_session=False))
    row.last_seen_at = now


def end_session(db: Session, clock: Clock, token: str, reason: str = "signed_out") -> int:
    """End the session named by `token` (signing out). Returns how many rows ended (0 or 1)."""
    return db.execute(
        update(CustomerSession)
        .where(CustomerSession.token_hash == session_token_hash(token), CustomerSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason)
    ).rowcount


def end_contact_sessions(db: Session, clock: Clock, contact_id: int, reason: str = "revoked") -> int:
    """End every live session of a contact (staff revocation). Returns how many ended."""
    return db.execute(
        update(CustomerSession)
        .where(CustomerSession.contact_id == contact_id, CustomerSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason)
    ).rowcount
