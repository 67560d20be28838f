"""Customer sessions on the server (SECURITY.md A3, A9, A13): started by a link, checked on
every request, ended by signing out, by staff revoking the contact's access, or by time.

The cookie names a session by a random id (256 bits); the row keeps only its SHA-256, like
links. A session is live while its row has no `ended_at`, it is younger than
`ABSOLUTE_TIMEOUT`, and it was seen within `IDLE_TIMEOUT`. The web glue keeps its own cookie
checks as well (timestamps, the contact's session version); this row is what makes a copied
cookie die with its original.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from portal.domain.access.models import AccessLink, CustomerSession
from portal.domain.core.clock import Clock
from portal.domain.core.ids import new_session_token, token_hash
from portal.domain.core.database import read
from portal.domain.customers.models import Contact, Customer

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)



@dataclass(frozen=True)
class StartedSession:
    """`token` goes into the cookie and exists only here; the row keeps its hash."""

    row: CustomerSession
    token: str


def start_session(db: Session, clock: Clock, *, contact: Contact, scope: str,
                  link: AccessLink | None = None) -> StartedSession:
    """A new session for `contact`; the caller commits and puts `token` in the cookie."""
    token = new_session_token()
    now = clock.now()
    row = CustomerSession(
        token_hash=token_hash(token), contact_id=contact.id, scope=scope,
        link_id=link.id if link is not None else None, created_at=now, last_seen_at=now,
        ended_at=None, end_reason="",
    )
    db.add(row)
    db.flush()
    return StartedSession(row, token)


@dataclass(frozen=True)
class SignedInCustomer:
    id: int
    public_id: str
    account_number: str
    name: str
    timezone: str


@dataclass(frozen=True)
class SignedInContact:
    """The contact a live session belongs to, as every page of the request reads it."""

    id: int
    public_id: str
    customer_id: int
    email: str
    name: str
    is_ap_mailbox: bool
    session_version: int
    language: str | None
    customer: SignedInCustomer


@dataclass(frozen=True)
class SessionRow:
    id: int
    scope: str
    link_id: int | None
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    end_reason: str
    contact: SignedInContact


_SESSION_FIELDS = ("id", "scope", "link_id", "created_at", "last_seen_at", "ended_at", "end_reason")
_CONTACT_FIELDS = ("id", "public_id", "customer_id", "email", "name", "is_ap_mailbox", "session_version", "language")
_CUSTOMER_FIELDS = ("id", "public_id", "account_number", "name", "timezone")
_SESSION_WITH_CONTACT = (
    select(
        *[getattr(CustomerSession, name) for name in _SESSION_FIELDS],
        *[getattr(Contact, name).label(f"contact_{name}") for name in _CONTACT_FIELDS],
        *[getattr(Customer, name).label(f"customer_{name}") for name in _CUSTOMER_FIELDS],
    )
    .join(Contact, Contact.id == CustomerSession.contact_id)
    .join(Customer, Customer.id == Contact.customer_id)
    .where(CustomerSession.token_hash == bindparam("token_hash"), Contact.public_id == bindparam("contact_public_id"))
)


def find_live_session(db: Session, now: datetime, token: str, contact_public_id: str) -> tuple[SessionRow | None, str]:
    """The session named by `token`, with its contact and company read in the same query,
    and "" when it is live, else why not ("revoked", "signed_out", "idle", "expired")."""
    found = read(db, _SESSION_WITH_CONTACT, {
        "token_hash": token_hash(token), "contact_public_id": contact_public_id}).first()
    if found is None:
        return None, "revoked"
    values = found._mapping
    customer = SignedInCustomer(**{name: values[f"customer_{name}"] for name in _CUSTOMER_FIELDS})
    contact = SignedInContact(**{name: values[f"contact_{name}"] for name in _CONTACT_FIELDS}, customer=customer)
    row = SessionRow(**{name: values[name] for name in _SESSION_FIELDS}, contact=contact)
    if row.ended_at is not None:
        return row, row.end_reason or "revoked"
    if now - row.created_at > ABSOLUTE_TIMEOUT:
        return row, "expired"
    if now - row.last_seen_at > IDLE_TIMEOUT:
        return row, "idle"
    return row, ""


def mark_seen(db: Session, row: SessionRow, now: datetime) -> None:
    db.execute(update(CustomerSession).where(CustomerSession.id == row.id).values(last_seen_at=now)
               .execution_options(synchronize_session=False))


def end_session(db: Session, clock: Clock, token: str, reason: str = "signed_out") -> int:
    """End the session named by `token` (signing out). Returns how many rows ended (0 or 1)."""
    return db.execute(
        update(CustomerSession)
        .where(CustomerSession.token_hash == token_hash(token), CustomerSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason)
    ).rowcount


def end_contact_sessions(db: Session, clock: Clock, contact_id: int, reason: str = "revoked") -> int:
    """End every live session of a contact (staff revocation). Returns how many ended."""
    return db.execute(
        update(CustomerSession)
        .where(CustomerSession.contact_id == contact_id, CustomerSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason)
    ).rowcount
