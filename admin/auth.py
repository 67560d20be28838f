"""Signing in and out, and confirming one's identity again before a sensitive action.

Each view: parse (form) → rate limit → one domain call → respond; the web glue commits, so a
refused sign-in's audit row is kept (the view returns the refusal instead of raising it).
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from portal.domain.access.policy import safe_next_path
from portal.domain.access.rate_limits import allow_all
from portal.domain.core.audit import Actor
from portal.domain.staff.policy import SIGN_IN_WINDOW, Permission, staff_sign_in_limits
from portal.domain.staff.service import SignInRefused, confirm_identity, record_sign_out, sign_in_staff
from portal.forms.staff import ConfirmIdentityForm, StaffSignInForm
from portal.web.context import client_ip, end_read_only_transaction, request_context, services

from . import bp, session as staff_session
from .permissions import before_enrolment, public, requires
from .session import current_staff

SIGNED_OUT_NOTICES = {
    "idle": "You were signed out after 15 minutes without activity.",
    "expired": "Your session has ended: staff sessions last at most 8 hours.",
    "revoked": "Your session was ended by an admin or by a password change. Please sign in again.",
    "deactivated": "Your staff account is deactivated.",
    "signed_out": "You are signed out.",
    "replaced": "You signed in again in this browser, which ended this session.",
}
TOO_MANY = f"Too many sign-in attempts. Please wait {int(SIGN_IN_WINDOW.total_seconds() // 60)} minutes and try again."


def admin_next(value: str | None) -> str | None:
    """A same-site path inside the admin side, or None (SECURITY.md A6)."""
    path = safe_next_path(value)
    return path if path and (path == "/admin" or path.startswith("/admin/")) else None


def _within_limits(email: str) -> bool:
    # The limiter writes through its own connection: end this request's transaction first.
    end_read_only_transaction()
    return allow_all(services().rate_limiter, staff_sign_in_limits(email=email, ip=client_ip()))


def _sign_in_page(form: StaffSignInForm | None = None, *, error: str | None = None, notice: str | None = None,
                  status: int = 200):
    form = form or StaffSignInForm(request.args)
    return render_template("admin/sign_in.html", form=form, error=error, notice=notice,
                           next_path=admin_next(form.next.data)), status


@bp.get("/sign-in")
@public
def sign_in():
    if current_staff() is not None:
        return redirect(admin_next(request.args.get("next")) or url_for("admin.dashboard"))
    return _sign_in_page(notice=SIGNED_OUT_NOTICES.get(request.args.get("reason", "")))


@bp.post("/sign-in")
@public
def sign_in_submit():
    form = StaffSignInForm(request.form)
    if not form.validate():
        return _sign_in_page(form, error=form.first_error, status=400)
    if not _within_limits(form.email.data):
        return _sign_in_page(form, error=TOO_MANY, status=429)
    ctx = request_context(Actor("staff", "", client_ip()))
    try:
        signed_in = sign_in_staff(ctx, services().password_hasher, email=form.email.data,
                                  password=form.password.data, code=form.code.data or "")
    except SignInRefused as refused:
        return _sign_in_page(form, error=refused.message, status=401)
    staff_session.start(signed_in.session.token)
    return redirect(admin_next(form.next.data) or url_for("admin.dashboard"))


@bp.post("/sign-out")
@requires(Permission.STAFF)
@before_enrolment
def sign_out():
    signed_in = current_staff()
    record_sign_out(request_context(Actor("staff", signed_in.staff.public_id, client_ip())), signed_in.session)
    staff_session.stop()
    return redirect(url_for("admin.sign_in", reason="signed_out"))


def _confirm_page(form: ConfirmIdentityForm, *, error: str | None = None, status: int = 200):
    return render_template("admin/reauthenticate.html", form=form, error=error,
                           next_path=admin_next(form.next.data)), status


@bp.get("/confirm-identity")
@requires(Permission.STAFF)
def reauthenticate():
    return _confirm_page(ConfirmIdentityForm(request.args))


@bp.post("/confirm-identity")
@requires(Permission.STAFF)
def reauthenticate_submit():
    form = ConfirmIdentityForm(request.form)
    if not form.validate():
        return _confirm_page(form, error=form.first_error, status=400)
    signed_in = current_staff()
    if not _within_limits(signed_in.staff.email):
        return _confirm_page(form, error=TOO_MANY, status=429)
    ctx = request_context(Actor("staff", signed_in.staff.public_id, client_ip()))
    try:
        confirm_identity(ctx, services().password_hasher, signed_in.session, password=form.password.data,
                         code=form.code.data or "")
    except SignInRefused:
        return _confirm_page(form, error="That password or code is not right.", status=401)
    return redirect(admin_next(form.next.data) or url_for("admin.dashboard"))


def staff_actor() -> Actor:
    """The signed-in member as the actor of a domain call."""
    return Actor("staff", current_staff().staff.public_id, client_ip())

