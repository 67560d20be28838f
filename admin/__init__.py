"""The staff side, under /admin. Deny by default (SECURITY.md A8).

One `before_request` guards the whole blueprint: a view with no declared permission is
refused; a public one (signing in) is served; any other needs a live staff session, a second
factor enrolled when the role requires one, and the permission the view declares
(`admin.permissions`, the table in `portal.domain.staff.policy`). Views never check access
themselves, so none can forget to.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, abort, current_app, g, redirect, request, url_for

from portal.domain.staff.policy import Permission, allows
from portal.domain.staff.service import needs_totp_enrolment

from .permissions import PUBLIC, declared_permission
from .session import apply_staff_cookie, current_staff, init_login_manager, no_store

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
log = logging.getLogger(__name__)


@bp.before_request
def deny_by_default():
    view = current_app.view_functions.get(request.endpoint)
    permission = declared_permission(view)
    if permission is None:
        log.error("admin view %s declares no permission: refused", request.endpoint)
        abort(403)
    # Loaded (and its "last seen" written) before the view writes anything, public views too:
    # later reads (templates, Flask-Login) take it from `g`.
    signed_in = current_staff()
    if permission is PUBLIC:
        return None
    if signed_in is None:
        return redirect(url_for("admin.sign_in", reason=g.get("staff_end_reason"),
                                next=request.full_path.rstrip("?") if request.method == "GET" else None))
    if needs_totp_enrolment(signed_in.staff) and not getattr(view, "allowed_before_enrolment", False):
        return redirect(url_for("admin.totp_enrolment"))
    if not allows(signed_in.staff.role, permission):
        abort(403)
    return None


bp.after_request(apply_staff_cookie)
bp.after_request(no_store)


@bp.context_processor
def staff_navigation():
    signed_in = current_staff()
    role = signed_in.staff.role if signed_in else None
    return {"signed_in_staff": signed_in, "Permission": Permission,
            "may": (lambda permission: role is not None and allows(role, permission)),
            "has_settings": role is not None and bool(settings_for(role)),
            "on_settings_page": is_settings_endpoint(request.endpoint or "")}


def init_staff_sign_in(app: Flask) -> None:
    init_login_manager(app)


from . import (  # noqa: E402,F401  (they add routes to bp)
    account, ar_pages, auth, customer_pages, dashboard, dispute_pages, erp_pages, followup_pages, outbox_pages,
    payment_pages, plan_pages, promise_pages, reminder_pages, report_pages,
    routing_pages,
    staff_pages, webhook_pages,
)
from . import api_key_pages, followup_source_pages, settings_pages  # noqa: E402,F401
from .settings_pages import is_settings_endpoint, settings_for  # noqa: E402
