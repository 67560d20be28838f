"""Staff sessions on the server (SECURITY.md A9, A13), built like the customers'
(`access.sessions`): the cookie names a session by a random id (256 bits) and the row keeps
only its SHA-256. A session is live while its row has no `ended_at`, its member is active,
it is younger than `ABSOLUTE_TIMEOUT` and was seen within `IDLE_TIMEOUT`.

Crediting and refunding also need a *recent* sign-in: the password (and code) given within
`RECENT_SIGN_IN`, on this session (`recently_authenticated`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from portal.domain.core.clock import Clock
from portal.domain.core.ids import new_session_token, token_hash
from portal.domain.staff.models import StaffMember, StaffSession

IDLE_TIMEOUT = timedelta(minutes=15)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
RECENT_SIGN_IN = timedelta(minutes=10)



@dataclass(frozen=True)
class StartedStaffSession:
    """`token` goes into the cookie and exists only here; the row keeps its hash."""

    row: StaffSession
    token: str


def start_staff_session(db: Session, clock: Clock, staff: StaffMember, *, ip: str = "") -> StartedStaffSession:
    token = new_session_token()
    now = clock.now()
    row = StaffSession(token_hash=token_hash(token), staff_id=staff.id, created_at=now, authenticated_at=now,
                       last_seen_at=now, ended_at=None, end_reason="", ip=ip[:64])
    db.add(row)
    db.flush()
    return StartedStaffSession(row, token)


def find_live_staff_session(db: Session, now: datetime, token: str) -> tuple[StaffSession | None, str]:
    """The session named by `token` with its member loaded in the same query, and "" when it
    is live, else why not ("revoked", "signed_out", "idle", "expired", "deactivated")."""
    row = db.scalar(
        select(StaffSession).options(joinedload(StaffSession.staff))
        .where(StaffSession.token_hash == token_hash(token))
    )
    if row is None:
        return None, "revoked"
    if row.ended_at is not None:
        return row, row.end_reason or "revoked"
    if not row.staff.is_active:
        return row, "deactivated"
    if now - row.created_at > ABSOLUTE_TIMEOUT:
        return row, "expired"
    if now - row.last_seen_at > IDLE_TIMEOUT:
        return row, "idle"
    return row, ""


def mark_staff_seen(db: Session, row: StaffSession, now: datetime) -> None:
    db.execute(update(StaffSession).where(StaffSession.id == row.id).values(last_seen_at=now)
               .execution_options(synchronize_session=False))
    set_committed_value(row, "last_seen_at", now)  # as written: the row is not changed a second time


def recently_authenticated(row: StaffSession, now: datetime) -> bool:
    return now - row.authenticated_at <= RECENT_SIGN_IN


def end_staff_session(db: Session, clock: Clock, token: str, reason: str = "signed_out") -> StaffSession | None:
    """End the session named by `token`; the ended row, or None when it was not live."""
    row = db.scalar(select(StaffSession).where(StaffSession.token_hash == token_hash(token),
                                               StaffSession.ended_at.is_(None)))
    if row is not None:
        row.ended_at = clock.now()
        row.end_reason = reason
        db.flush()
    return row


def end_sessions_of(db: Session, clock: Clock, staff_id: int, reason: str = "revoked") -> int:
    """End every live session of a staff member (revocation, deactivation). How many ended."""
    return db.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
