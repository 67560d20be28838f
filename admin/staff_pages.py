"""Staff accounts (MANAGE_STAFF): the list, creating and editing a member, ending their sessions.

Creating and editing accounts changes who can do what, so those pages need a recent sign-in.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from portal.domain.core.errors import DomainError
from portal.domain.staff.policy import Permission, totp_required
from portal.domain.staff.queries import staff_list, staff_member
from portal.domain.staff.service import create_staff, end_all_sessions, update_staff
from portal.domain.staff.states import ROLE_LABELS, StaffStatus
from portal.forms.staff import StaffForm
from portal.web.context import db, request_context, services

from . import bp
from .auth import staff_actor
from .permissions import requires, requires_recent_sign_in


@bp.get("/staff")
@requires(Permission.MANAGE_STAFF)
def staff():
    return render_template("admin/staff_list.html", members=staff_list(db()), role_labels=ROLE_LABELS)


def _form_page(form: StaffForm, *, member=None, error: str | None = None, status: int = 200):
    return render_template("admin/staff_form.html", form=form, member=member, error=error), status


@bp.route("/staff/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_STAFF)
@requires_recent_sign_in
def staff_new():
    if request.method == "GET":
        form = StaffForm(data={"timezone": "UTC", "role": "analyst", "status": StaffStatus.ACTIVE})
        return _form_page(form)
    form = StaffForm(request.form)
    if not form.validate():
        return _form_page(form, error=form.first_error, status=400)
    try:
        member = create_staff(request_context(staff_actor()), services().password_hasher, email=form.email.data,
                              name=form.name.data, role=form.role.data, password=form.password.data or "",
                              timezone=form.timezone.data, away=bool(form.away.data))
    except DomainError as refused:
        db().rollback()
        return _form_page(form, error=refused.message, status=400)
    note = " They will set up an authenticator at their first sign-in." if totp_required(member.role) else ""
    flash(f"{member.name} can now sign in as {ROLE_LABELS[member.role].lower()}.{note}", "success")
    return redirect(url_for("admin.staff"))


@bp.route("/staff/<public_id>", methods=["GET", "POST"])
@requires(Permission.MANAGE_STAFF)
@requires_recent_sign_in
def staff_edit(public_id: str):
    member = staff_member(db(), public_id)
    if request.method == "GET":
        form = StaffForm(data={"email": member.email, "name": member.name, "role": member.role,
                               "timezone": member.timezone, "away": member.away, "status": member.status})
        return _form_page(form, member=member)
    form = StaffForm(request.form)
    form.email.data = member.email  # the address is the account: not changed here
    if not form.validate():
        return _form_page(form, member=member, error=form.first_error, status=400)
    try:
        update_staff(request_context(staff_actor()), member, name=form.name.data, role=form.role.data,
                     timezone=form.timezone.data, away=bool(form.away.data), status=form.status.data)
    except DomainError as refused:
        db().rollback()
        return _form_page(form, member=member, error=refused.message, status=400)
    flash(f"{member.name} is updated.", "success")
    return redirect(url_for("admin.staff"))


@bp.post("/staff/<public_id>/end-sessions")
@requires(Permission.MANAGE_STAFF)
def staff_end_sessions(public_id: str):
    member = staff_member(db(), public_id)
    ended = end_all_sessions(request_context(staff_actor()), member)
    flash(f"{member.name} is signed out everywhere ({ended} session{'s' if ended != 1 else ''}).", "success")
    return redirect(url_for("admin.staff_edit", public_id=member.public_id))
