"""The signed-in customer: who they are, what they may see, and when their session ends.

The cookie holds only the contact's public id, the session version it started with, the scope
and the link it came from, and two timestamps. Everything is re-checked against the database
on each request, so staff revocation (a bumped session version, a revoked link) ends a live
session at once. Idle 30 minutes / absolute 12 hours (SECURITY.md A9).
"""

from __future__ import annotations

from datetime import datetime, timedelta, UTC
from functools import wraps

from flask import abort, g, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.domain.access.policy import ACCOUNT, INVOICES, Access
from portal.domain.access.models import AccessLink
from portal.domain.customers.models import Contact

from .context import db, services

SESSION_KEY = "customer"
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
# Refresh the "last seen" stamp at most this often so every click does not rewrite the cookie.
SEEN_RESOLUTION = timedelta(seconds=60)


def _now() -> datetime:
    return services().clock.now()


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def session_payload(contact: Contact, scope: str, link: AccessLink | None, now: datetime) -> dict:
    """What the cookie holds for a signed-in contact (also used by tests to sign in directly)."""
    stamp = _ts(now)
    return {
        "contact": contact.public_id,
        "v": contact.session_version,
        "scope": scope,
        "link": link.public_id if (link is not None and scope == INVOICES) else None,
        "started": stamp,
        "seen": stamp,
    }


def sign_in(contact: Contact, scope: str, link: AccessLink | None = None) -> None:
    """Start a fresh session (a new cookie, so a planted session id cannot be reused)."""
    session.clear()
    session[SESSION_KEY] = session_payload(contact, scope, link, _now())
    session.permanent = True


def sign_out() -> None:
    session.clear()


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
    except (KeyError, TypeError, ValueError):
        return _end("invalid")
    if now - started > ABSOLUTE_TIMEOUT:
        return _end("expired")
    if now - seen > IDLE_TIMEOUT:
        return _end("idle")

    contact = db().scalar(
        select(Contact).options(joinedload(Contact.customer)).where(Contact.public_id == contact_public_id)
    )
    if contact is None or contact.session_version != version:
        return _end("revoked")

    invoice_ids: frozenset[int] = frozenset()
    link_id = None
    if scope == INVOICES:
        link = db().scalar(
            select(AccessLink).options(joinedload(AccessLink.invoices)).where(
                AccessLink.public_id == str(data.get("link")),
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
    g.contact = contact
    g.customer = contact.customer
    return Access(
        customer_id=contact.customer_id, contact_id=contact.id, scope=scope,
        invoice_ids=invoice_ids, link_id=link_id,
    )


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
