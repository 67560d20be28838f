"""Promises to pay as collectors see them (MANAGE_PLANS: collectors, supervisors, admins):
`GET /admin/promises[?status=open|kept|broken|cancelled][&page=N]`, broken ones first, each
with its customer's kept and broken counts."""

from __future__ import annotations

from flask import render_template, request

from portal.domain.promises.queries import STAFF_FILTERS, staff_promises
from portal.domain.staff.policy import Permission
from portal.forms.account import MAX_PAGE
from portal.forms.promises import staff_promise_query
from portal.web.context import db

from . import bp
from .permissions import requires

FILTER_LABELS = {"all": "All", "open": "Open", "kept": "Kept", "broken": "Broken", "cancelled": "Cancelled"}


@bp.get("/promises")
@requires(Permission.MANAGE_PLANS)
def promises():
    status, page = staff_promise_query(request.args, STAFF_FILTERS, MAX_PAGE)
    return render_template("admin/promises.html", listing=staff_promises(db(), status=status, page=page),
                           filters=[(name, FILTER_LABELS[name]) for name in STAFF_FILTERS])
