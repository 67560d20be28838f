"""The signed-in staff member: read from the staff cookie, checked against the server-side
session row on every request (SECURITY.md A9, A13), like the customers' (`portal.web
.customer_session`).

The cookie `portal_staff` holds only the session's random id (the row keeps its SHA-256); it
is HttpOnly, SameSite=Lax, Secure outside development, limited to `/admin`, and lives no
longer than the browser. Idle 15 minutes / absolute 8 hours are enforced on the row. Flask-
Login's `current_user` is the `SignedInStaff` on admin pages (its request loader is ours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, g, request, session
from flask_login import LoginManager

from portal.domain.staff.models import StaffMember, StaffSession
from portal.domain.staff.sessions import (
    end_staff_session, find_live_staff_session, mark_staff_seen,
)
from portal.web.context import db, end_read_only_transaction, services

STAFF_COOKIE = "portal_staff"
COOKIE_PATH = "/admin"
MAX_TOKEN_LENGTH = 100
# Refresh "last seen" at most this often, so every click does not write.
SEEN_RESOLUTION = timedelta(seconds=60)


@dataclass
class SignedInStaff:
    """Who is signed in and through which session row."""

    staff: StaffMember
    session: StaffSession
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return self.staff.public_id


def _cookie_token() -> str | None:
    token = request.cookies.get(STAFF_COOKIE)
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return token


def current_staff() -> SignedInStaff | None:
    """The request's staff member, loaded and checked once per request."""
    if "signed_in_staff" not in g:
        g.signed_in_staff = _load()
    return g.signed_in_staff


def _load() -> SignedInStaff | None:
    token = _cookie_token()
    if token is None:
        return None
    now = services().clock.now()
    row, reason = find_live_staff_session(db(), now, token)
    if reason:
        g.staff_end_reason = reason
        g.staff_cookie = ""  # clear it: it names a session that is over
        return None
    if now - row.last_seen_at >= SEEN_RESOLUTION:
        # The idle clock: written in a transaction of its own (see customer_session).
        end_read_only_transaction()
        mark_staff_seen(db(), row, now)
        db().commit()
    return SignedInStaff(row.staff, row)


def start(started_token: str) -> None:
    """After a successful sign-in: the new session's cookie, a fresh CSRF token, and the
    session this browser had before (if any) ended."""
    old = _cookie_token()
    if old:
        end_staff_session(db(), services().clock, old, "replaced")
    session.pop("csrf_token", None)
    g.staff_cookie = started_token


def stop() -> None:
    """Sign out: end the row (every copy of the cookie dies with it), clear the cookie."""
    token = _cookie_token()
    if token:
        end_staff_session(db(), services().clock, token, "signed_out")
    g.staff_cookie = ""


def apply_staff_cookie(response):
    """`after_request`: set or clear the cookie the request decided on."""
    token = g.get("staff_cookie")
    if token is None:
        return response
    secure = services().settings.session_cookie_secure
    if token:
        response.set_cookie(STAFF_COOKIE, token, path=COOKIE_PATH, secure=secure, httponly=True, samesite="Lax")
    else:
        response.delete_cookie(STAFF_COOKIE, path=COOKIE_PATH, secure=secure, httponly=True, samesite="Lax")
    return response


def no_store(response):
    """Admin pages hold customer data and, once, a TOTP secret: never cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


def init_login_manager(app: Flask) -> None:
    manager = LoginManager()
    manager.session_protection = None  # the session row is the protection; nothing in Flask's session
    # Only admin pages have a staff member: the cookie is not even sent elsewhere.
    manager.request_loader(lambda _request: current_staff() if request.blueprint == "admin" else None)
    # No `current_user` in every template's context: Flask-Login's processor would load the user
    # on each page drawn, a customer's included; admin templates have `signed_in_staff`.
    manager.init_app(app, add_context_processor=False)
