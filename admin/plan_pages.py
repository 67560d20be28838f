"""Installment plans as collectors see them (MANAGE_PLANS: collectors, supervisors, admins).

- `GET  /admin/plans[?status=active|pending_approval|at_risk|defaulted|all]`  the plans, and the
  cash running plans are expected to bring in, by week
- `GET  /admin/plans/<public_id>`                      one plan: schedule, agreement, decisions
- `POST /admin/plans/<public_id>/<action>`             approve, counter (other count, cadence,
                                                       first date; reason), decline (reason),
                                                       pause, resume, cancel (reason)
"""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for

from portal.domain.core.clock import today_in
from portal.domain.core.errors import DomainError
from portal.domain.plans import service
from portal.domain.plans.queries import STAFF_FILTERS, expected_cash_by_week, plan_by_public_id, plan_page, staff_plans
from portal.domain.staff.policy import Permission
from portal.forms.fields import first_value
from portal.forms.plans import counter_plan_form, plan_reason_form
from portal.web.context import db, request_context, services

from . import bp
from .auth import staff_actor
from .permissions import requires

FILTER_LABELS = {"active": "Active", "pending_approval": "Waiting for approval", "countered": "Countered", "at_risk": "At risk",
                 "defaulted": "Defaulted", "all": "All"}
ACTIONS = ("approve", "counter", "decline", "pause", "resume", "cancel")


@bp.get("/plans")
@requires(Permission.MANAGE_PLANS)
def plans():
    status = first_value(request.args, "status", 20).strip()
    status = status if status in STAFF_FILTERS else "active"
    today = today_in(services().clock, "UTC")
    return render_template("admin/plans.html", rows=staff_plans(db(), status), status=status,
                           filters=[(name, FILTER_LABELS[name]) for name in STAFF_FILTERS],
                           weeks=expected_cash_by_week(db(), today))


def _plan_page(public_id: str, *, error: str = "", status: int = 200):
    page = plan_page(db(), plan_by_public_id(db(), public_id))
    return render_template("admin/plan.html", page=page, error=error), status


@bp.get("/plans/<public_id>")
@requires(Permission.MANAGE_PLANS)
def plan(public_id: str):
    return _plan_page(public_id)


@bp.post("/plans/<public_id>/<action>")
@requires(Permission.MANAGE_PLANS)
def plan_action(public_id: str, action: str):
    if action not in ACTIONS:
        abort(404)
    found = plan_by_public_id(db(), public_id)
    ctx = request_context(staff_actor())
    try:
        if action == "approve":
            service.approve_plan(ctx, found)
        elif action == "counter":
            given = counter_plan_form(request.form)
            service.counter_plan(ctx, found, count=given.count, cadence=given.cadence, first_due_on=given.first_due_on,
                                 reason=given.reason)
        elif action == "decline":
            service.decline_plan(ctx, found, plan_reason_form(request.form))
        elif action == "pause":
            service.pause_plan(ctx, found)
        elif action == "resume":
            service.resume_plan(ctx, found)
        else:
            service.cancel_plan(ctx, found, plan_reason_form(request.form))
    except DomainError as refused:
        db().rollback()
        return _plan_page(public_id, error=refused.message, status=400)
    return redirect(url_for("admin.plan", public_id=public_id), code=303)
