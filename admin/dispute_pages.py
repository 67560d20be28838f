"""The staff side of disputes: the queues (VIEW_DISPUTES; the "all" tab VIEW_ALL_DISPUTES) and
one dispute's page with its actions (WORK_DISPUTES; approving a credit APPROVE_CREDITS). Every
action that credits (accepting in full or in part, approving, re-billing) needs a sign-in
within the last 10 minutes. The credit limit a resolution, an approval or a re-bill is checked
against is the acting member's role's (`staff.policy.credit_limit`).

A reply, a question and an internal note may carry files (the forms' `files` input): a reply's
and a question's reach the customer, a note's stay staff-only. Any attached file downloads at
`GET /admin/disputes/<public_id>/files/<file_public_id>` (VIEW_DISPUTES)."""

from __future__ import annotations

from datetime import timedelta

from zoneinfo import ZoneInfo

from flask import redirect, render_template, request, url_for

from portal.domain.core.errors import DomainError
from portal.domain.core.money import Money, MoneyError
from portal.domain.disputes import service
from portal.domain.disputes.notifications import DisputeMail
from portal.domain.disputes.policy import MAX_CORRECTED_LINES
from portal.domain.disputes.queries import (
    QUEUE_STATUS_FILTERS, QUEUE_TAB_LABELS, RebillDraft, assignable_staff, reason_choices, rebill_draft,
    staff_dispute_file, staff_dispute_page, staff_queue,
)
from portal.domain.disputes.staff_notifications import StaffMail
from portal.domain.disputes.states import STAFF_STATUS_LABELS, DisputeStatus
from portal.domain.staff.policy import Permission, allows, credit_limit, may_approve_credit
from portal.forms import InvalidInput
from portal.forms.staff_disputes import (
    queue_query, reassign_choice, rebill_choice, rebill_form_again, resolve_choice, staff_text,
)
from portal.web.context import db, request_context, services
from portal.web.downloads import download_response
from portal.web.uploads import files_were_posted, form_limits, posted_uploads

from . import bp
from .auth import staff_actor
from .permissions import requires, requires_recent_sign_in
from .session import current_staff

STATUS_FILTER_LABELS = {"active": "Open (any active state)", "all": "Any state",
                        **{str(status): STAFF_STATUS_LABELS[status] for status in DisputeStatus}}


def _queue_page(tab: str | None):
    staff = current_staff().staff
    reasons = reason_choices(db())
    query = queue_query(request.args, reasons={code for code, _ in reasons}, tab=tab)
    settings = services().settings
    queue = staff_queue(db(), staff.id, query, services().clock.now(),
                        at_risk_window=timedelta(hours=settings.sla_warning_hours))
    tabs = [name for name in QUEUE_TAB_LABELS if name != "all" or allows(staff.role, Permission.VIEW_ALL_DISPUTES)]
    return render_template("admin/disputes.html", queue=queue, tabs=tabs, tab_labels=QUEUE_TAB_LABELS,
                           reasons=reasons, status_filters=[(s, STATUS_FILTER_LABELS[s]) for s in QUEUE_STATUS_FILTERS])


@bp.get("/disputes")
@requires(Permission.VIEW_DISPUTES)
def disputes():
    return _queue_page(None)


@bp.get("/disputes/all")
@requires(Permission.VIEW_ALL_DISPUTES)
def disputes_all():
    return _queue_page("all")


# ---------------------------------------------------------------------------------------------
# One dispute: the page and its actions (each a POST, then back to the page)


def _mail() -> DisputeMail:
    return DisputeMail(supplier=services().supplier, signer=services().link_signer)


def _staff_mail() -> StaffMail:
    return StaffMail(supplier=services().supplier)


def _dispute_page(public_id: str, *, error: str = "", status: int = 200):
    page = staff_dispute_page(db(), public_id)
    staff = current_staff().staff
    return render_template(
        "admin/dispute.html", page=page, error=error, assignable=assignable_staff(db()),
        may_work=allows(staff.role, Permission.WORK_DISPUTES),
        may_approve=may_approve_credit(staff.role, page.proposed_credit) if page.awaiting_approval else False,
        limit=credit_limit(staff.role, page.dispute.currency),
        upload_limits=form_limits(), files_sent=bool(error) and files_were_posted(),
        staff_zone=ZoneInfo(staff.timezone or "UTC"),
    ), status


def _act(public_id: str, action, anchor: str = ""):
    """Run `action(ctx)`; a refusal shows the page again with its message, nothing changed."""
    try:
        action(request_context(staff_actor()))
    except DomainError as refused:
        db().rollback()
        return _dispute_page(public_id, error=refused.message, status=400)
    return redirect(url_for("admin.dispute", public_id=public_id) + anchor, code=303)


@bp.get("/disputes/<public_id>")
@requires(Permission.VIEW_DISPUTES)
def dispute(public_id: str):
    return _dispute_page(public_id)


@bp.get("/disputes/<public_id>/files/<file_public_id>")
@requires(Permission.VIEW_DISPUTES)
def dispute_file(public_id: str, file_public_id: str):
    return download_response(staff_dispute_file(db(), public_id, file_public_id), services().file_store.storage)


@bp.post("/disputes/<public_id>/reply")
@requires(Permission.WORK_DISPUTES)
def dispute_reply(public_id: str):
    return _act(public_id, lambda ctx: service.reply(ctx, _mail(), public_id, staff_text(request.form),
                                                     files=posted_uploads()), "#thread")


@bp.post("/disputes/<public_id>/note")
@requires(Permission.WORK_DISPUTES)
def dispute_note(public_id: str):
    return _act(public_id, lambda ctx: service.reply(ctx, None, public_id, staff_text(request.form), internal=True,
                                                     files=posted_uploads()), "#thread")


@bp.post("/disputes/<public_id>/request-information")
@requires(Permission.WORK_DISPUTES)
def dispute_request_information(public_id: str):
    return _act(public_id, lambda ctx: service.request_information(ctx, _mail(), public_id, staff_text(request.form),
                                                                   files=posted_uploads()), "#thread")


@bp.post("/disputes/<public_id>/reassign")
@requires(Permission.WORK_DISPUTES)
def dispute_reassign(public_id: str):
    def action(ctx):
        staff_public_id, team_id = reassign_choice(request.form)
        chosen = next((row for row in assignable_staff(db()) if row[0] == staff_public_id and row[4] == team_id), None)
        if chosen is None:
            raise InvalidInput("Choose the new owner from the list.")
        _, name, team_name, staff_id, _ = chosen
        service.reassign(ctx, _mail(), public_id, team_id=team_id, assignee_id=staff_id,
                         owner_label=f"{name} ({team_name})", staff_mail=_staff_mail())
    return _act(public_id, action)


@bp.post("/disputes/<public_id>/resolve")
@requires(Permission.WORK_DISPUTES)
@requires_recent_sign_in
def dispute_resolve(public_id: str):
    def action(ctx):
        page = staff_dispute_page(db(), public_id)
        mode, texts, explanation = resolve_choice(request.form, [i.public_id for i in page.invoices])
        credits = None
        if mode == "part":
            try:
                credits = {pid: Money.parse(text, page.dispute.currency) for pid, text in texts.items()}
            except MoneyError as error:
                raise InvalidInput(f"{error}: enter each credit as an amount such as 120.50.") from None
        role = current_staff().staff.role
        service.resolve_accept(ctx, _mail(), public_id, credits=credits, explanation=explanation,
                               credit_limit=credit_limit(role, page.dispute.currency))
    return _act(public_id, action)


@bp.post("/disputes/<public_id>/approve")
@requires(Permission.APPROVE_CREDITS)
@requires_recent_sign_in
def dispute_approve(public_id: str):
    def action(ctx):
        page = staff_dispute_page(db(), public_id)
        service.approve_credit(ctx, _mail(), public_id, explanation=staff_text(request.form, "explanation"),
                               credit_limit=credit_limit(current_staff().staff.role, page.dispute.currency))
    return _act(public_id, action)


@bp.post("/disputes/<public_id>/send-back")
@requires(Permission.APPROVE_CREDITS)
def dispute_send_back(public_id: str):
    return _act(public_id, lambda ctx: service.send_back_for_review(ctx, public_id,
                                                                    staff_text(request.form, "note")))


@bp.post("/disputes/<public_id>/reject")
@requires(Permission.WORK_DISPUTES)
def dispute_reject(public_id: str):
    return _act(public_id, lambda ctx: service.reject(ctx, _mail(), public_id,
                                                      staff_text(request.form, "explanation")))


# ---------------------------------------------------------------------------------------------
# Re-billing: its own page, the form prefilled from the covered invoices

BLANK_ROWS = 2  # empty line rows under each invoice's lines, to add lines without a script


def _rebill_page(draft: RebillDraft, *, error: str = "", explanation: str = "", status: int = 200):
    role = current_staff().staff.role
    return render_template("admin/rebill.html", draft=draft, error=error, explanation=explanation,
                           limit=credit_limit(role, draft.dispute.currency), blank_rows=BLANK_ROWS,
                           max_lines=MAX_CORRECTED_LINES), status


@bp.get("/disputes/<public_id>/rebill")
@requires(Permission.WORK_DISPUTES)
@requires_recent_sign_in
def dispute_rebill_form(public_id: str):
    return _rebill_page(rebill_draft(db(), public_id, services().clock.now().date()))


@bp.post("/disputes/<public_id>/rebill")
@requires(Permission.WORK_DISPUTES)
@requires_recent_sign_in
def dispute_rebill(public_id: str):
    draft = rebill_draft(db(), public_id, services().clock.now().date())
    try:
        corrections, explanation = rebill_choice(request.form, {i.public_id: i.number for i in draft.invoices},
                                                 draft.dispute.currency)
        service.rebill(request_context(staff_actor()), _mail(), public_id, corrections, explanation=explanation,
                       credit_limit=credit_limit(current_staff().staff.role, draft.dispute.currency))
    except DomainError as refused:
        db().rollback()
        return _rebill_page(rebill_form_again(request.form, draft), error=refused.message, status=400,
                            explanation=staff_text(request.form, "explanation"))
    return redirect(url_for("admin.dispute", public_id=public_id), code=303)
