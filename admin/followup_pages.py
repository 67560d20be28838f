"""The follow-up queues and pages (WORK_FOLLOWUPS), and the report (VIEW_REPORTS).

- `GET  /admin/followups[?scope=mine|all|team:<id>|queue:<name>][&status=...][&page=N]`  a queue by due time
- `GET  /admin/followups/report`                                  by kind, customer and age; time to clear
- `GET  /admin/followups/<public_id>`                             the follow-up with the customer's context
- `GET  /admin/followups/<public_id>/files/<file_public_id>`      download a file sent with it
- `POST /admin/followups/<public_id>/assign|note|ask|dismiss`     the generic steps
- `POST /admin/followups/<public_id>/match|not-found`             a reported payment: found (recorded
  through the ledger; a recent sign-in, as other money steps) or not found (the clerk is asked)

Other kinds' own actions are template partials, `admin/followups/actions_<kind>.html`, included
when they exist; their routes live with their flows.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import redirect, render_template, request, url_for

from portal.domain.core.clock import today_in
from portal.domain.core.errors import DomainError, NotFound
from portal.domain.disputes.policy import duration_text
from portal.domain.followups import service
from portal.domain.followups.notifications import FollowupMail
from portal.domain.followups.queries import (
    STATUS_FILTERS, QueueQuery, assignable_staff, followup_by_public_id, followup_report, staff_followup_file,
    staff_followup_page, staff_queue,
)
from portal.domain.followups.states import QUEUE_LABELS, STATUS_LABELS, FollowupQueue, FollowupStatus
from portal.domain.staff.policy import Permission
from portal.forms.account import MAX_PAGE
from portal.forms.fields import first_value, small_number
from portal.forms.followups import paragraph, single_line
from portal.forms.payments import PUBLIC_ID
from portal.web.context import db, request_context, services
from portal.web.downloads import download_response

from . import bp
from .auth import staff_actor
from .permissions import requires, requires_recent_sign_in
from .session import current_staff

STATUS_FILTER_LABELS = {"active": "Open or waiting", **{str(s): STATUS_LABELS[s] for s in FollowupStatus}}
_PUBLIC_ID_LENGTH = 22


def _queue_query(args) -> QueueQuery:
    """The queue's arguments, bounded; anything unknown is the default (URLs are shared)."""
    scope = first_value(args, "scope", 40).strip() or "mine"
    if not (scope in ("mine", "all")
            or (scope.startswith("team:") and PUBLIC_ID.fullmatch(scope[5:]))
            or (scope.startswith("queue:") and scope[6:] in {queue.value for queue in FollowupQueue})):
        scope = "mine"
    status = first_value(args, "status", 20).strip()
    return QueueQuery(scope=scope, status=status if status in STATUS_FILTERS else "active",
                      page=small_number(args.get("page"), 1, MAX_PAGE))


@bp.get("/followups")
@requires(Permission.WORK_FOLLOWUPS)
def followups():
    query = _queue_query(request.args)
    page = staff_queue(db(), current_staff().staff.id, query, services().clock.now())
    return render_template(
        "admin/followups/queue.html", page=page, queue_labels=[(q.value, QUEUE_LABELS[q]) for q in FollowupQueue],
        status_filters=[(s, STATUS_FILTER_LABELS[s]) for s in STATUS_FILTERS],
    )


@bp.get("/followups/report")
@requires(Permission.VIEW_REPORTS)
def followups_report():
    return render_template("admin/followups/report.html", report=followup_report(db(), services().clock.now()),
                           duration=duration_text)


def _mail() -> FollowupMail:
    return FollowupMail(supplier=services().supplier)


def _page(public_id: str, *, error: str = "", status: int = 200):
    staff = current_staff().staff
    now = services().clock.now()
    page = staff_followup_page(db(), public_id, now, today_in(services().clock, staff.timezone or "UTC"))
    return render_template(
        "admin/followups/followup.html", page=page, error=error, assignable=assignable_staff(db()),
        staff_zone=ZoneInfo(staff.timezone or "UTC"), now=now,
    ), status


def _loaded(public_id: str):
    followup = followup_by_public_id(db(), public_id) if PUBLIC_ID.fullmatch(public_id) else None
    if followup is None:
        raise NotFound("Follow-up not found")
    return followup


def _act(public_id: str, action, anchor: str = ""):
    """Run `action(ctx, followup, staff_id)`; a refusal shows the page again, nothing changed."""
    followup = _loaded(public_id)
    try:
        action(request_context(staff_actor()), followup, current_staff().staff.id)
    except DomainError as refused:
        db().rollback()
        return _page(public_id, error=refused.message, status=400)
    return redirect(url_for("admin.followup", public_id=public_id) + anchor, code=303)


@bp.get("/followups/<public_id>")
@requires(Permission.WORK_FOLLOWUPS)
def followup(public_id: str):
    return _page(public_id)


@bp.get("/followups/<public_id>/files/<file_public_id>")
@requires(Permission.WORK_FOLLOWUPS)
def followup_file(public_id: str, file_public_id: str):
    return download_response(staff_followup_file(db(), public_id, file_public_id), services().file_store.storage)


@bp.post("/followups/<public_id>/assign")
@requires(Permission.WORK_FOLLOWUPS)
def followup_assign(public_id: str):
    chosen = single_line(request.form, "assignee", "The assignee", _PUBLIC_ID_LENGTH)
    by_public_id = {public: staff_id for public, _, staff_id in assignable_staff(db())}
    if chosen and chosen not in by_public_id:
        return _page(public_id, error="Choose an active staff member.", status=400)
    return _act(public_id, lambda ctx, f, _staff: service.reassign_followup(ctx, f, by_public_id.get(chosen)))


@bp.post("/followups/<public_id>/note")
@requires(Permission.WORK_FOLLOWUPS)
def followup_note(public_id: str):
    text = paragraph(request.form, "text", "The note")
    return _act(public_id, lambda ctx, f, staff_id: service.add_note(ctx, f, staff_id, text), "#thread")


@bp.post("/followups/<public_id>/ask")
@requires(Permission.WORK_FOLLOWUPS)
def followup_ask(public_id: str):
    text = paragraph(request.form, "text", "The question")
    return _act(public_id, lambda ctx, f, staff_id: service.ask_customer(ctx, f, staff_id, text, _mail()), "#thread")


@bp.post("/followups/<public_id>/dismiss")
@requires(Permission.WORK_FOLLOWUPS)
def followup_dismiss(public_id: str):
    reason = paragraph(request.form, "reason", "The reason")
    return _act(public_id, lambda ctx, f, staff_id: service.dismiss_followup(ctx, f, staff_id, reason, _mail()))


@bp.post("/followups/<public_id>/match")
@requires(Permission.WORK_FOLLOWUPS)
@requires_recent_sign_in
def followup_match(public_id: str):
    amount = single_line(request.form, "amount", "The amount", 32)
    reference = single_line(request.form, "bank_reference", "The bank reference", 100)
    return _act(public_id, lambda ctx, f, staff_id: service.match_reported_payment(
        ctx, f, staff_id, amount_text=amount, bank_reference=reference, mail=_mail()))


@bp.post("/followups/<public_id>/not-found")
@requires(Permission.WORK_FOLLOWUPS)
def followup_not_found(public_id: str):
    text = paragraph(request.form, "text", "What to send")
    return _act(public_id, lambda ctx, f, staff_id: service.payment_not_found(ctx, f, staff_id, text, _mail()), "#thread")
