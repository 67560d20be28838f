"""The ERP's API keys (MANAGE_API_KEYS, admins): the list, making a key (its secret is shown
on the answer to that one request and never again: only its hash is stored), revoking one.
Both change who can reach every customer and invoice, so they need a recent sign-in."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from portal.domain.apikeys.models import MAX_NAME_LENGTH
from portal.domain.apikeys.policy import SCOPES
from portal.domain.apikeys.queries import api_key_list
from portal.domain.apikeys.service import create_api_key, revoke_api_key
from portal.domain.core.errors import DomainError
from portal.domain.staff.policy import Permission
from portal.forms.fields import first_value
from portal.web.context import db, request_context

from . import bp
from .auth import staff_actor
from .permissions import requires, requires_recent_sign_in
from .session import current_staff


def _page(*, error: str | None = None, created=None, name: str = "", chosen=(), status: int = 200):
    return render_template("admin/api_keys.html", keys=api_key_list(db()), scopes=SCOPES, error=error,
                           created=created, name=name, chosen=set(chosen), max_name=MAX_NAME_LENGTH), status


@bp.get("/api-keys")
@requires(Permission.MANAGE_API_KEYS)
def api_keys():
    return _page()


@bp.post("/api-keys")
@requires(Permission.MANAGE_API_KEYS)
@requires_recent_sign_in
def api_key_create():
    name = first_value(request.form, "name", MAX_NAME_LENGTH)
    scopes = [scope[:40] for scope in request.form.getlist("scopes")[:len(SCOPES) + 1]]
    try:
        created = create_api_key(request_context(staff_actor()), staff_id=current_staff().staff.id, name=name,
                                 scopes=scopes)
    except DomainError as refused:
        db().rollback()
        return _page(error=refused.message, name=name, chosen=scopes, status=400)
    # Shown on this answer only (not flashed: the session cookie would carry it).
    return _page(created=created)


@bp.post("/api-keys/<prefix>/revoke")
@requires(Permission.MANAGE_API_KEYS)
@requires_recent_sign_in
def api_key_revoke(prefix: str):
    key = revoke_api_key(request_context(staff_actor()), prefix)
    flash(f"The key {key.name} ({key.prefix}) is revoked: the ERP can no longer use it.", "success")
    return redirect(url_for("admin.api_keys"))
