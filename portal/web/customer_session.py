"""The signed-in customer: who they are, what they may see, and when their session ends.

The cookie holds the id of a server-side session row (`access.sessions`), the contact's public
id, the session version it started with, the scope and the link it came from, and two
timestamps. Everything is re-checked against the database on each request, in one query for
the session row with its contact and company: signing out, staff revocation (an ended row, a
bumped session version, a revoked link) and the idle and absolute timeouts end a session at
once, for every copy of its cookie (SECURITY.md A9, A13). Idle 30 minutes / absolute 12 hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import wraps

from flask import abort, g, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.domain.access.policy import ACCOUNT, INVOICES, Access
from portal.domain.access.models import AccessLink
from portal.domain.access.sessions import (
    ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, end_session, find_live_session, mark_seen, start_session,
)
from portal.domain.core.clock import today_in
from portal.domain.customers.models import Contact

from .context import db, end_read_only_transaction, services

SESSION_KEY = "customer"
# Refresh the "last seen" stamp at most this often so every click does not rewrite the cookie.
SEEN_RESOLUTION = timedelta(seconds=60)


def _now() -> datetime:
    return services().clock.now()


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def session_payload(contact: Contact, scope: str, link: AccessLink | None, now: datetime, session_id: str) -> dict:
    """What the cookie holds for a signed-in contact (also used by tests to sign in directly)."""
    stamp = _ts(now)
    return {
        "sid": session_id,
        "contact": contact.public_id,
        "v": contact.session_version,
        "scope": scope,
        "link": link.public_id if (link is not None and scope == INVOICES) else None,
        "started": stamp,
        "seen": stamp,
    }


def sign_in(contact: Contact, scope: str, link: AccessLink | None = None) -> None:
    """Start a fresh session: a new row and a new cookie, so a planted session id cannot be
    reused; the session this browser had before (if any) ends."""
    _end_server_session("replaced")
    started = start_session(db(), services().clock, contact=contact, scope=scope,
                            link=link if scope == INVOICES else None)
    session.clear()
    session[SESSION_KEY] = session_payload(contact, scope, link, _now(), started.token)
    session.permanent = True


def sign_out() -> None:
    """End the session on the server (every copy of the cookie), then clear the cookie."""
    _end_server_session("signed_out")
    session.clear()


def _end_server_session(reason: str) -> None:
    data = session.get(SESSION_KEY)
    token = data.get("sid") if isinstance(data, dict) else None
    if isinstance(token, str) and token:
        end_session(db(), services().clock, token, reason)


def _end(reason: str):
    session.clear()
    g.session_end_reason = reason
    return None


def current_access() -> Access | None:
    """The request's Access, loading and checking it once per request."""
    if "access" in g:
        return g.access
    g.access = _load_access()
    return g.access


def _load_access() -> Access | None:
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    now = _now()
    try:
        started = datetime.fromtimestamp(int(data["started"]), UTC)
        seen = datetime.fromtimestamp(int(data["seen"]), UTC)
        scope = data["scope"]
        contact_public_id = str(data["contact"])
        version = int(data["v"])
        token = str(data["sid"])
    except (KeyError, TypeError, ValueError):
        return _end("invalid")
    if now - started > ABSOLUTE_TIMEOUT:
        return _end("expired")
    if now - seen > IDLE_TIMEOUT:
        return _end("idle")

    row, ended = find_live_session(db(), now, token, contact_public_id)
    if ended:
        return _end(ended)
    contact = row.contact
    if contact.session_version != version or row.scope != scope:
        return _end("revoked")

    invoice_ids: frozenset[int] = frozenset()
    link_id = None
    if scope == INVOICES:
        link = db().scalar(
            select(AccessLink).options(joinedload(AccessLink.invoices)).where(
                AccessLink.public_id == str(data.get("link")),
                AccessLink.id == row.link_id,
                AccessLink.contact_id == contact.id,
            )
        )
        if link is None or link.revoked_at is not None or link.expires_at <= now:
            return _end("revoked" if link is not None and link.revoked_at else "expired")
        invoice_ids = frozenset(inv.id for inv in link.invoices)
        link_id = link.id
    elif scope != ACCOUNT:
        return _end("invalid")

    if now - seen >= SEEN_RESOLUTION:
        data["seen"] = _ts(now)
        session[SESSION_KEY] = data
        # The idle clock lives on the server too. Write it in a transaction of its own: on
        # SQLite a reading request's transaction cannot safely turn into a writing one.
        end_read_only_transaction()
        mark_seen(db(), row, now)
        db().commit()
    g.contact = contact
    g.customer = contact.customer
    return Access(
        customer_id=contact.customer_id, contact_id=contact.id, scope=scope,
        invoice_ids=invoice_ids, link_id=link_id,
    )


def customer_today() -> date:
    """Today's date where the signed-in customer is (their time zone, read with the session):
    due dates, aging and "overdue" count from it."""
    return today_in(services().clock, g.customer.timezone)


def require_customer():
    """`before_request` for customer blueprints: deny by default."""
    if current_access() is None:
        reason = g.get("session_end_reason")
        return redirect(url_for("auth.signed_out", reason=reason, next=request.full_path.rstrip("?")))
    return None


def require_whole_account(view):
    """For pages beyond a forwarded invoice link: explain and offer a sign-in link."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        access = current_access()
        if access is None:
            abort(404)
        if not access.whole_account:
            return render_template("auth/account_needed.html"), 403
        return view(*args, **kwargs)

    return wrapper
