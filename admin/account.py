"""A member's own account: details, away, password, and the second factor (TOTP)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from portal.domain.core.errors import DomainError
from portal.domain.staff.credentials import is_totp_secret, totp_uri
from portal.domain.staff.policy import Permission, permissions_of, totp_required
from portal.domain.staff.service import change_password, enrol_totp, propose_totp_secret, set_away
from portal.forms.staff import AwayForm, PasswordChangeForm, TotpEnrolmentForm
from portal.web.context import db, request_context, services

from . import bp
from .auth import staff_actor
from .permissions import before_enrolment, requires, requires_recent_sign_in
from .session import current_staff


def _account_page(*, password_error: str | None = None, status: int = 200):
    staff = current_staff().staff
    return render_template("admin/account.html", staff=staff, permissions=sorted(permissions_of(staff.role)),
                           password_error=password_error), status


@bp.get("/account")
@requires(Permission.STAFF)
def account():
    return _account_page()


@bp.post("/account/away")
@requires(Permission.STAFF)
def account_away():
    form = AwayForm(request.form)
    set_away(request_context(staff_actor()), current_staff().staff, bool(form.away.data))
    flash("You are marked away: new disputes go to others." if form.away.data else "Welcome back.", "success")
    return redirect(url_for("admin.account"))


@bp.post("/account/password")
@requires(Permission.STAFF)
@requires_recent_sign_in
def account_password():
    form = PasswordChangeForm(request.form)
    if not form.validate():
        return _account_page(password_error=form.first_error, status=400)
    signed_in = current_staff()
    try:
        change_password(request_context(staff_actor()), services().password_hasher, signed_in.staff,
                        current=form.current.data, new=form.new.data, keep_session=signed_in.session)
    except DomainError as refused:
        db().rollback()
        return _account_page(password_error=refused.message, status=400)
    flash("Your password is changed; your other sessions were signed out.", "success")
    return redirect(url_for("admin.account"))


def _enrolment_page(secret: str, *, error: str | None = None, status: int = 200):
    staff = current_staff().staff
    return render_template(
        "admin/totp.html", secret=secret, error=error, staff=staff, required=totp_required(staff.role),
        uri=totp_uri(secret, email=staff.email, issuer=f"{services().settings.supplier_name} admin"),
        grouped=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
    ), status


def _replacing() -> bool:
    return current_staff().staff.totp_enrolled


@bp.get("/account/totp")
@requires(Permission.STAFF)
@before_enrolment
def totp_enrolment():
    if _replacing():
        return _replace_totp_page()
    return _enrolment_page(propose_totp_secret())


@requires_recent_sign_in
def _replace_totp_page():
    return _enrolment_page(propose_totp_secret())


@bp.post("/account/totp")
@requires(Permission.STAFF)
@before_enrolment
def totp_enrolment_submit():
    if _replacing():
        return _replace_totp()
    return _enrol()


@requires_recent_sign_in
def _replace_totp():
    return _enrol()


def _enrol():
    form = TotpEnrolmentForm(request.form)
    secret = form.secret.data or ""
    try:
        form.checked()
        enrol_totp(request_context(staff_actor()), current_staff().staff, secret, form.code.data or "")
    except DomainError as refused:
        db().rollback()
        return _enrolment_page(secret if is_totp_secret(secret) else propose_totp_secret(), error=refused.message,
                               status=400)
    flash("Your authenticator is set up. Sign-ins now ask for its code.", "success")
    return redirect(url_for("admin.dashboard"))
