"""The customer's disputes: the list, raising one, one dispute's page, answering, withdrawing.

parse (forms) → authorize (`require_customer` for the whole blueprint; every query and action
is scoped by the session's `Access`: a forwarded invoice link's holder sees and raises
disputes on its invoices only) → one domain call → respond. Another company's dispute or
invoice is a 404 like one that does not exist.

URLs:
- `disputes.index`     GET  /disputes[?invoice=<public_id>]        the company's disputes
- `disputes.new`       GET  /disputes/new?invoice=<id>&invoice=...  the raise form
- `disputes.create`    POST /disputes                                raise it (one per form token)
- `disputes.dispute`   GET  /disputes/<public_id>                    status, owner, thread, history
- `disputes.message`   POST /disputes/<public_id>/messages           the customer writes (text, files)
- `disputes.withdraw`  POST /disputes/<public_id>/withdraw           take it back
- `disputes.file`      GET  /disputes/<public_id>/files/<file_public_id>  download an attached file

Raising a dispute and writing in its thread may carry files (the forms' `files` input,
multipart): the service checks the dispute step first and stores the files only then; a
refused file refuses the whole form, shown again with the reason. A download is served only
through a dispute this session may see, never a file of an internal note
(`queries.dispute_file`), by `portal.web.downloads.download_response`.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, g, redirect, render_template, request, url_for

from portal.domain.attachments.policy import UploadRefused
from portal.domain.core.clock import today_in
from portal.domain.disputes import queries, service
from portal.domain.disputes.policy import MAX_INVOICES_PER_DISPUTE, DisputeRefused
from portal.domain.disputes.staff_notifications import StaffMail
from portal.forms import InvalidInput
from portal.forms.account import MAX_PAGE
from portal.forms.disputes import message_body, raise_dispute_form
from portal.forms.fields import small_number
from portal.forms.payments import invoice_ids
from portal.web.context import actor_for_contact, db, request_context, services
from portal.web.customer_session import require_customer
from portal.web.downloads import download_response
from portal.web.uploads import files_were_posted, form_limits, posted_uploads
from portal.web.i18n import refusal_message

bp = Blueprint("disputes", __name__)
bp.before_request(require_customer)


def _context():
    return request_context(actor_for_contact(g.contact.public_id))


def _staff_mail() -> StaffMail:
    """What the email to the dispute's owner needs (a new dispute, the customer writing)."""
    return StaffMail(supplier=services().supplier)


def _form_page(public_ids: list[str], *, error: str = "", values=None, status: int = 200):
    form = queries.raise_form(db(), g.access, public_ids, today_in(services().clock, g.customer.timezone),
                              MAX_INVOICES_PER_DISPUTE)
    return render_template(
        "disputes/new.html", form=form, error=error, values=values or {},
        request_key=(values or {}).get("request_key") or secrets.token_urlsafe(24),
        upload_limits=form_limits(), files_sent=bool(error) and files_were_posted(),
    ), status


def _dispute_page(public_id: str, *, error: str = "", body: str = "", status: int = 200):
    page = queries.dispute_page(db(), g.access, public_id, services().dispute_owner_names)
    return render_template("disputes/dispute.html", page=page, error=error, body=body, upload_limits=form_limits(),
                           files_sent=bool(error) and files_were_posted()), status


@bp.get("/disputes")
def index():
    page = small_number(request.args.get("page"), 1, MAX_PAGE)
    only = invoice_ids(request.args.getlist("invoice")[:1], 1)
    listing = queries.dispute_list(db(), g.access, page=page, invoice_public_id=only[0] if only else "")
    return render_template("disputes/index.html", listing=listing, invoice_filter=only[0] if only else "")


@bp.get("/disputes/new")
def new():
    return _form_page(invoice_ids(request.args.getlist("invoice"), MAX_INVOICES_PER_DISPUTE))


@bp.post("/disputes")
def create():
    try:
        request_key, reason, description, choices = raise_dispute_form(request.form)
        dispute = service.raise_dispute(
            _context(), g.access, reason_code=reason, description=description, choices=choices,
            request_key=request_key, router=services().dispute_router, files=posted_uploads(),
            staff_mail=_staff_mail(),
        )
    except (DisputeRefused, UploadRefused, InvalidInput) as error:
        # The form again, with what was typed and the reason it was refused (nothing changed).
        db().rollback()
        ids = invoice_ids(request.form.getlist("invoice"), MAX_INVOICES_PER_DISPUTE)
        return _form_page(ids, error=refusal_message(error), values=request.form, status=400)
    return redirect(url_for(".dispute", public_id=dispute.public_id), code=303)


@bp.get("/disputes/<public_id>")
def dispute(public_id: str):
    return _dispute_page(public_id)


@bp.post("/disputes/<public_id>/messages")
def message(public_id: str):
    try:
        body = message_body(request.form)
        service.add_message(_context(), g.access, public_id, body, files=posted_uploads(), staff_mail=_staff_mail())
    except (DisputeRefused, UploadRefused, InvalidInput) as error:
        db().rollback()
        return _dispute_page(public_id, error=refusal_message(error), body=request.form.get("body", "")[:8000], status=400)
    return redirect(url_for(".dispute", public_id=public_id) + "#thread", code=303)


@bp.post("/disputes/<public_id>/withdraw")
def withdraw(public_id: str):
    service.withdraw(_context(), g.access, public_id)
    return redirect(url_for(".dispute", public_id=public_id), code=303)


@bp.get("/disputes/<public_id>/files/<file_public_id>")
def file(public_id: str, file_public_id: str):
    stored = queries.dispute_file(db(), g.access, public_id, file_public_id)
    return download_response(stored, services().file_store.storage)
