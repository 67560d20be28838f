"""The customer's promises to pay: the list, making one, one promise's page, moving its date,
cancelling it.

parse (forms) → authorize (`require_customer` for the whole blueprint; every query and action
is scoped by the session's `Access`: a forwarded invoice link's holder promises and sees
promises on its invoices only) → one domain call → respond. Another company's promise or
invoice is a 404 like one that does not exist.

URLs:
- `promises.index`   GET  /promises                                 the company's promises
- `promises.new`     GET  /promises/new?invoice=<id>&invoice=...     the form
- `promises.create`  POST /promises                                  make it (one per form token)
- `promises.promise` GET  /promises/<public_id>                      the promise and its invoices
- `promises.move`    POST /promises/<public_id>/move                 a new date (limited moves)
- `promises.cancel`  POST /promises/<public_id>/cancel               take it back
"""

from __future__ import annotations

import secrets

from flask import Blueprint, g, redirect, render_template, request, url_for

from portal.domain.core.clock import today_in
from portal.domain.promises import queries, service
from portal.domain.promises.policy import MAX_INVOICES_PER_PROMISE, PromiseRefused
from portal.forms import InvalidInput
from portal.forms.account import MAX_PAGE
from portal.forms.fields import shown_again, small_number
from portal.forms.payments import invoice_ids
from portal.forms.promises import make_promise_form, move_promise_form
from portal.web.context import actor_for_contact, db, request_context, services
from portal.web.customer_session import require_customer
from portal.web.i18n import refusal_message

bp = Blueprint("promises", __name__)
bp.before_request(require_customer)


def _context():
    return request_context(actor_for_contact(g.contact.public_id))


def _today():
    return today_in(services().clock, g.customer.timezone)


def _policy():
    return services().settings.promise_policy


def _form_page(public_ids: list[str], *, error: str = "", values=None, status: int = 200):
    form = queries.promise_form(db(), g.access, public_ids, _today(), _policy())
    values = values or {}
    return render_template(
        "promises/new.html", form=form, error=error, chosen_date=shown_again(values.get("date", ""), 10),
        chosen_method=shown_again(values.get("method", ""), 10), note=shown_again(values.get("note", ""), 500),
        request_key=shown_again(values.get("request_key", ""), 64) or secrets.token_urlsafe(24),
    ), status


def _promise_page(public_id: str, *, error: str = "", status: int = 200):
    page = queries.promise_page(db(), g.access, public_id, _today(), _policy())
    return render_template("promises/promise.html", page=page, error=error), status


@bp.get("/promises")
def index():
    listing = queries.promise_list(db(), g.access, page=small_number(request.args.get("page"), 1, MAX_PAGE))
    return render_template("promises/index.html", listing=listing)


@bp.get("/promises/new")
def new():
    return _form_page(invoice_ids(request.args.getlist("invoice"), MAX_INVOICES_PER_PROMISE))


@bp.post("/promises")
def create():
    try:
        given = make_promise_form(request.form)
        promise = service.make_promise(
            _context(), g.access, _policy(), invoice_public_ids=given.invoice_public_ids,
            promised_date=given.promised_date, method=given.method, note=given.note,
            request_key=given.request_key, today=_today(),
        )
    except (PromiseRefused, InvalidInput) as error:
        db().rollback()
        ids = invoice_ids(request.form.getlist("invoice"), MAX_INVOICES_PER_PROMISE)
        return _form_page(ids, error=refusal_message(error), values=request.form, status=400)
    return redirect(url_for(".promise", public_id=promise.public_id), code=303)


@bp.get("/promises/<public_id>")
def promise(public_id: str):
    return _promise_page(public_id)


@bp.post("/promises/<public_id>/move")
def move(public_id: str):
    try:
        service.move_promise(_context(), g.access, _policy(), public_id, new_date=move_promise_form(request.form),
                             today=_today())
    except (PromiseRefused, InvalidInput) as error:
        db().rollback()
        return _promise_page(public_id, error=refusal_message(error), status=400)
    return redirect(url_for(".promise", public_id=public_id), code=303)


@bp.post("/promises/<public_id>/cancel")
def cancel(public_id: str):
    try:
        service.cancel_promise(_context(), g.access, public_id)
    except PromiseRefused as error:
        db().rollback()
        return _promise_page(public_id, error=refusal_message(error), status=400)
    return redirect(url_for(".promise", public_id=public_id), code=303)
