"""Installment plans as collectors see them (MANAGE_PLANS: collectors, supervisors, admins).

- `GET  /admin/plans[?status=active|pending_approval|at_risk|defaulted|all]`  the plans, and the
  cash running plans are expected to bring in, by week
- `GET  /admin/plans/<public_id>`                      one plan: schedule, agreement, decisions
- `POST /admin/plans/<public_id>/<action>`             approve, counter (other count, cadence,
                                                       first date; reason), decline (reason),
                                                       pause, resume, cancel (reason), amend (a
                                                       new schedule for what remains of an active
                                                       or paused plan, same fields as counter)
- `GET  /admin/plan-policy`                             the plan policy in force (MANAGE_PLANS)
- `POST /admin/plan-policy`                             change it (MANAGE_PLAN_POLICY: admins)
- `POST /admin/holds`                                   put a customer on hold or clear it, with a
                                                       reason (HOLD_CUSTOMERS: supervisors, admins)
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from portal.domain.core.clock import today_in
from portal.domain.core.errors import DomainError
from portal.domain.core.errors import NotFound
from portal.domain.customers.queries import customer_by_account_number, customers_on_hold
from portal.domain.customers.service import MAX_HOLD_REASON, set_on_hold
from portal.domain.plans import service
from portal.domain.plans.policy import POLICY_BOUNDS, POLICY_LABELS, policy_values
from portal.domain.plans.queries import (
    STAFF_FILTERS, expected_cash_by_week, plan_by_public_id, plan_page, policy_page, staff_plans,
)
from portal.domain.staff.policy import Permission
from portal.forms.fields import first_value, shown_again
from portal.forms.plans import counter_plan_form, hold_form, plan_policy_form, plan_reason_form
from portal.web.context import db, request_context, services

from . import bp
from .auth import staff_actor
from .permissions import requires

FILTER_LABELS = {"active": "Active", "pending_approval": "Waiting for approval", "countered": "Countered", "at_risk": "At risk",
                 "defaulted": "Defaulted", "all": "All"}
ACTIONS = ("approve", "counter", "decline", "pause", "resume", "cancel", "amend")


def _plans_page(*, error: str = "", status_code: int = 200):
    status = first_value(request.args, "status", 20).strip()
    status = status if status in STAFF_FILTERS else "active"
    today = today_in(services().clock, "UTC")
    return render_template("admin/plans.html", rows=staff_plans(db(), status), status=status,
                           filters=[(name, FILTER_LABELS[name]) for name in STAFF_FILTERS],
                           weeks=expected_cash_by_week(db(), today), held=customers_on_hold(db()),
                           max_hold_reason=MAX_HOLD_REASON, error=error), status_code


@bp.get("/plans")
@requires(Permission.MANAGE_PLANS)
def plans():
    return _plans_page()


@bp.post("/holds")
@requires(Permission.HOLD_CUSTOMERS)
def hold():
    try:
        given = hold_form(request.form)
        customer = set_on_hold(request_context(staff_actor()), customer_by_account_number(db(), given.account_number),
                               on_hold=given.on_hold, reason=given.reason)
    except DomainError as refused:
        db().rollback()
        return _plans_page(error=refused.message, status_code=404 if isinstance(refused, NotFound) else 400)
    flash(f"{customer.name} is {'on hold' if customer.on_hold else 'no longer on hold'}.", "success")
    return redirect(url_for("admin.plans"), code=303)


def _policy_page(*, error: str = "", typed: dict[str, str] | None = None, status: int = 200):
    page = policy_page(db(), services().settings.plan_policy)
    values = typed if typed is not None else {field: str(value) for field, value in policy_values(page.policy).items()}
    return render_template("admin/plan_policy.html", page=page, values=values, labels=POLICY_LABELS,
                           bounds=POLICY_BOUNDS, defaults=policy_values(page.defaults), error=error), status


@bp.get("/plan-policy")
@requires(Permission.MANAGE_PLANS)
def plan_policy():
    return _policy_page()


@bp.post("/plan-policy")
@requires(Permission.MANAGE_PLAN_POLICY)
def plan_policy_save():
    try:
        values = plan_policy_form(request.form)
        service.save_plan_policy(request_context(staff_actor()), services().settings.plan_policy, values)
    except DomainError as refused:
        db().rollback()
        typed = {field: shown_again(first_value(request.form, field, 13), 13) for field in POLICY_BOUNDS}
        return _policy_page(error=refused.message, typed=typed, status=400)
    flash("The plan policy is saved.", "success")
    return redirect(url_for("admin.plan_policy"), code=303)


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
        elif action == "amend":
            given = counter_plan_form(request.form)
            service.amend_plan(ctx, found, count=given.count, cadence=given.cadence, first_due_on=given.first_due_on,
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
