"""Reminders: the policy (MANAGE_REMINDERS: steps, templates, holidays), its preview on a real
customer's invoices, and one customer's overrides (PAUSE_REMINDERS: pause, minimum amount)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from portal.domain.core.errors import DomainError
from portal.domain.customers.queries import customer_by_account_number
from portal.domain.reminders.models import MAX_BODY_LENGTH, MAX_OFFSET_DAYS, MAX_SUBJECT_LENGTH, MIN_OFFSET_DAYS
from portal.domain.reminders.policy import MAX_STEPS, PLACEHOLDERS
from portal.domain.reminders.queries import preview_reminder, reminders_page
from portal.domain.reminders.service import parse_holidays, save_holidays, save_policy, set_customer_reminders
from portal.domain.reminders.states import TONE_LABELS
from portal.domain.staff.policy import Permission
from portal.forms import InvalidInput
from portal.forms.fields import first_value, has_control_characters, shown_again
from portal.forms.reminders import MAX_ACCOUNT_NUMBER, customer_reminders_form, policy_form
from portal.web.context import db, request_context, services

from . import bp
from .auth import staff_actor
from .permissions import requires


def _rows(steps) -> list[dict]:
    rows = [{"offset": str(step.offset_days), "tone": step.tone.value, "subject": step.subject, "body": step.body}
            for step in steps]
    return rows + [{"offset": "", "tone": "friendly", "subject": "", "body": ""}] * (MAX_STEPS - len(rows))


def _typed_rows(steps) -> list[dict]:
    """A refused form's rows shown again (the page shows at most `MAX_STEPS`)."""
    typed = [{"offset": shown_again(offset, 8), "tone": tone, "subject": shown_again(subject, MAX_SUBJECT_LENGTH),
              "body": body[:MAX_BODY_LENGTH]} for offset, tone, subject, body in steps[:MAX_STEPS]]
    return typed + _rows([])[len(typed):]


def _page(*, error: str | None = None, rows: list[dict] | None = None, holidays_text: str | None = None,
          preview=None, status: int = 200):
    page = reminders_page(db())
    return render_template(
        "admin/reminders.html", page=page, error=error, rows=rows if rows is not None else _rows(page.steps),
        holidays_text=holidays_text if holidays_text is not None else "\n".join(d.isoformat() for d in page.holidays),
        tones=TONE_LABELS, placeholders=PLACEHOLDERS, preview=preview, min_offset=MIN_OFFSET_DAYS,
        max_offset=MAX_OFFSET_DAYS, max_subject=MAX_SUBJECT_LENGTH, max_body=MAX_BODY_LENGTH,
    ), status


@bp.get("/reminders")
@requires(Permission.PAUSE_REMINDERS)
def reminders():
    return _page()


@bp.post("/reminders/policy")
@requires(Permission.MANAGE_REMINDERS)
def reminder_policy_save():
    typed = None
    try:
        typed = policy_form(request.form)
        ctx = request_context(staff_actor())
        days = parse_holidays(typed.holidays)
        save_policy(ctx, typed.steps)
        save_holidays(ctx, days)
    except DomainError as refused:
        db().rollback()
        if typed is None:
            return _page(error=refused.message, status=400)
        return _page(error=refused.message, rows=_typed_rows(typed.steps),
                     holidays_text=shown_again(typed.holidays, 2000), status=400)
    flash("The reminder policy is saved.", "success")
    return redirect(url_for("admin.reminders"))


@bp.post("/reminders/customers")
@requires(Permission.PAUSE_REMINDERS)
def reminder_customer_save():
    try:
        given = customer_reminders_form(request.form)
        set_customer_reminders(request_context(staff_actor()), customer_by_account_number(db(), given.account_number),
                               paused=given.paused, minimum=given.minimum)
    except DomainError as refused:
        db().rollback()
        return _page(error=refused.message, status=400 if isinstance(refused, InvalidInput) else 404)
    flash(f"Reminders for {given.account_number} are {'paused' if given.paused else 'on'}.", "success")
    return redirect(url_for("admin.reminders"))


@bp.get("/reminders/preview")
@requires(Permission.PAUSE_REMINDERS)
def reminder_preview():
    account = first_value(request.args, "customer", MAX_ACCOUNT_NUMBER).strip()
    step = first_value(request.args, "step", 8).strip()
    if not account or len(account) > MAX_ACCOUNT_NUMBER or has_control_characters(account):
        return _page(error="Enter a customer's account number to preview.", status=400)
    if not (step.lstrip("-").isdigit() and len(step) <= 4 and step.isascii()):
        return _page(error="Choose a step to preview.", status=400)
    try:
        preview = preview_reminder(db(), services().clock, services().supplier, account_number=account,
                                   offset_days=int(step))
    except DomainError as refused:
        return _page(error=refused.message, status=404)
    return _page(preview=preview)
