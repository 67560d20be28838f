"""The clerk's "There's a problem": the menu of answers beside "Pay", the two forms this area
owns ("we already paid it", "it's waiting for approval on our side"), a report's page, and
answering on it.

parse (forms) → authorize (`require_customer` for the whole blueprint; every query and action
is scoped by the session's `Access`: a forwarded invoice link's holder reports on and sees
reports about its invoices only) → one domain call → respond. Another company's report or
invoice is a 404 like one that does not exist.

URLs:
- `followups.menu`          GET  /problems?invoice=<id>&invoice=...            the six answers
- `followups.new_paid`      GET  /problems/new/already-paid?invoice=...        the form
- `followups.create_paid`   POST /problems/already-paid                         report it (once per form token)
- `followups.new_approval`  GET  /problems/new/approval?invoice=...            the form
- `followups.create_approval` POST /problems/approval                          report it: a promise to pay
- `followups.followup`      GET  /problems/<public_id>                          the report, our answers
- `followups.answer`        POST /problems/<public_id>/answer                   the clerk answers (text, files)
- `followups.file`          GET  /problems/<public_id>/files/<file_public_id>   download a file of it

The PO and contact answers link to their own forms (`KIND_SLUGS`), built beside these.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.domain.attachments.policy import UploadRefused
from portal.domain.core.clock import today_in
from portal.domain.followups import queries, service
from portal.domain.followups.notifications import FollowupMail
from portal.domain.followups.policy import MAX_PAID_DAYS_AGO, FollowupRefused
from portal.domain.followups.states import KIND_SLUGS, OFFLINE_METHOD_LABELS, REPORT_PATH, FollowupKind
from portal.domain.promises.queries import METHOD_CHOICES
from portal.forms import InvalidInput
from portal.forms.fields import shown_again
from portal.forms.followups import (
    already_paid_form, approval_form, paragraph, report_invoice_ids, report_invoice_ids_again,
)
from portal.web.context import actor_for_contact, db, request_context, services
from portal.web.customer_session import require_customer
from portal.web.downloads import download_response
from portal.web.uploads import files_were_posted, form_limits, posted_uploads
from portal.web.i18n import refusal_message

bp = Blueprint("followups", __name__)
bp.before_request(require_customer)

METHODS = [(str(method), label) for method, label in OFFLINE_METHOD_LABELS.items()]


def report_url(kind: FollowupKind, invoice_public_ids: list[str]) -> str:
    """The path of a kind's form with these invoices chosen (the menu and reminder emails)."""
    path = "/" + REPORT_PATH.format(slug=KIND_SLUGS[kind])
    return path + ("?" + "&".join(f"invoice={public_id}" for public_id in invoice_public_ids)
                   if invoice_public_ids else "")


def _context():
    return request_context(actor_for_contact(g.contact.public_id))


def _today():
    return today_in(services().clock, g.customer.timezone)


def _mail() -> FollowupMail:
    return FollowupMail(supplier=services().supplier)


def _chosen_ids(source) -> list[str]:
    return report_invoice_ids(source.getlist("invoice"))


def _form_key(values) -> str:
    return shown_again((values or {}).get("request_key", ""), 64) or secrets.token_urlsafe(24)


@bp.get("/problems")
def menu():
    ids = _chosen_ids(request.args)
    form = queries.report_form(db(), g.access, ids)
    answers = [
        ("already-paid", _("We already paid it"), report_url(FollowupKind.ALREADY_PAID, ids)),
        ("po", _("We need a PO number / the PO is wrong"), report_url(FollowupKind.NEEDS_PO, ids)),
        ("approval", _("It's waiting for approval on our side"), report_url(FollowupKind.AWAITING_APPROVAL, ids)),
        ("contact", _("I'm not the right person"), report_url(FollowupKind.WRONG_CONTACT, ids)),
        ("dispute", _("Something is wrong with the invoice"), url_for("disputes.new", invoice=ids)),
        ("plan", _("We can't pay it all now"), url_for("plans.new", invoice=ids)),
    ]
    return render_template("followups/menu.html", form=form, answers=answers)


def _paid_page(ids: list[str], *, error: str = "", values=None, status: int = 200):
    values = values or {}
    form = queries.report_form(db(), g.access, ids)
    return render_template(
        "followups/already_paid.html", form=form, error=error, methods=METHODS, today=_today(),
        max_days=MAX_PAID_DAYS_AGO, request_key=_form_key(values),
        values={name: shown_again(values.get(name, ""), limit) for name, limit in
                (("paid_on", 10), ("amount", 32), ("method", 20), ("reference", 100), ("note", 500))},
        upload_limits=form_limits(), files_sent=bool(error) and files_were_posted(),
    ), status


@bp.get("/problems/new/already-paid")
def new_paid():
    return _paid_page(_chosen_ids(request.args))


@bp.post("/problems/already-paid")
def create_paid():
    try:
        given = already_paid_form(request.form)
        followup = service.report_already_paid(
            _context(), g.access, invoice_public_ids=given.invoice_public_ids, paid_on=given.paid_on,
            amount_text=given.amount_text, method=given.method, reference=given.reference, note=given.note,
            request_key=given.request_key, today=_today(), files=posted_uploads(),
        )
    except (FollowupRefused, UploadRefused, InvalidInput) as error:
        db().rollback()
        return _paid_page(report_invoice_ids_again(request.form.getlist("invoice")), error=refusal_message(error),
                          values=request.form, status=400)
    return redirect(url_for(".followup", public_id=followup.public_id), code=303)


def _approval_page(ids: list[str], *, error: str = "", values=None, status: int = 200):
    values = values or {}
    form = queries.report_form(db(), g.access, ids)
    policy = services().settings.promise_policy
    today = _today()
    return render_template(
        "followups/approval.html", form=form, error=error, methods=METHOD_CHOICES,
        earliest=policy.earliest_date(today), latest=policy.latest_date(today), request_key=_form_key(values),
        values={name: shown_again(values.get(name, ""), limit) for name, limit in
                (("expected_date", 10), ("method", 10), ("note", 500))},
    ), status


@bp.get("/problems/new/approval")
def new_approval():
    return _approval_page(_chosen_ids(request.args))


@bp.post("/problems/approval")
def create_approval():
    try:
        given = approval_form(request.form)
        followup = service.report_awaiting_approval(
            _context(), g.access, services().settings.promise_policy, invoice_public_ids=given.invoice_public_ids,
            expected_date=given.expected_date, method=given.method, note=given.note,
            request_key=given.request_key, today=_today(),
        )
    except (FollowupRefused, InvalidInput) as error:
        db().rollback()
        return _approval_page(report_invoice_ids_again(request.form.getlist("invoice")), error=refusal_message(error),
                              values=request.form, status=400)
    return redirect(url_for(".followup", public_id=followup.public_id), code=303)


def _followup_page(public_id: str, *, error: str = "", text: str = "", status: int = 200):
    page = queries.customer_followup_page(db(), g.access, public_id)
    return render_template("followups/followup.html", page=page, error=error, text=text,
                           upload_limits=form_limits(), files_sent=bool(error) and files_were_posted()), status


@bp.get("/problems/<public_id>")
def followup(public_id: str):
    return _followup_page(public_id)


@bp.post("/problems/<public_id>/answer")
def answer(public_id: str):
    try:
        text = paragraph(request.form, "text", _("Your answer"))
        service.answer_followup(_context(), g.access, public_id, text=text, files=posted_uploads(), mail=_mail())
    except (FollowupRefused, UploadRefused, InvalidInput) as error:
        db().rollback()
        return _followup_page(public_id, error=refusal_message(error), text=request.form.get("text", "")[:2000], status=400)
    return redirect(url_for(".followup", public_id=public_id) + "#thread", code=303)


@bp.get("/problems/<public_id>/files/<file_public_id>")
def file(public_id: str, file_public_id: str):
    stored = queries.followup_file(db(), g.access, public_id, file_public_id)
    return download_response(stored, services().file_store.storage)
