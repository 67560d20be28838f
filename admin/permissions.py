"""Each admin view declares what it needs; the blueprint's guard reads the declaration.

    @bp.get("/teams")
    @requires(Permission.MANAGE_ROUTING)
    def teams(): ...

`requires` records the permission on the view function (`admin_permission`), `public` marks
the few pages anyone may open (signing in). The guard in `admin/__init__.py` refuses a view
with no declaration at all, and `tests/sweeps/test_admin_access_sweep.py` reads the same
attribute for every admin rule of the URL map, so a new page without one fails the suite.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import redirect, request, url_for

from portal.domain.staff.policy import Permission
from portal.domain.staff.sessions import recently_authenticated
from portal.web.context import services

from .session import current_staff


class _Public:
    """The declaration of a page open to anyone (the sign-in pages)."""

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC = _Public()


def requires(permission: Permission):
    if not isinstance(permission, Permission):
        raise TypeError("requires() takes a Permission")

    def declare(view):
        view.admin_permission = permission
        return view

    return declare


def public(view):
    view.admin_permission = PUBLIC
    return view


def declared_permission(view) -> Permission | _Public | None:
    return getattr(view, "admin_permission", None)


def before_enrolment(view):
    """Also open to a member who must still enrol a second factor (the enrolment page itself,
    signing out)."""
    view.allowed_before_enrolment = True
    return view


def _come_back_to() -> str | None:
    """Where to return once the password is confirmed: the page itself for a GET; for a form
    posted with a stale sign-in (a redirect cannot repeat a POST), the page the form was on,
    which the browser names as the referrer (`Referrer-Policy: same-origin`). The sign-in
    pages check the path again (`admin.auth.admin_next`)."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or not referrer.path:
        return None
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")


def requires_recent_sign_in(view):
    """Crediting, refunding and changing credentials need the password given within the last
    10 minutes on this session; otherwise the member confirms it first and comes back."""

    @wraps(view)
    def checked(*args, **kwargs):
        signed_in = current_staff()
        if signed_in is None or not recently_authenticated(signed_in.session, services().clock.now()):
            return redirect(url_for("admin.reauthenticate", next=_come_back_to()))
        return view(*args, **kwargs)

    checked.requires_recent_sign_in = True
    return checked
