"""The customer's installment plans: the list, proposing one (form → schedule and terms →
accept), and one plan's page.

Only a contact signed in to the whole account reaches these pages (`require_whole_account`;
the domain refuses anyone else too): a forwarded invoice link's holder cannot commit the company
to a schedule. parse (forms) → authorize → one domain call → respond. Another company's plan is
a 404 like one that does not exist. Paying an installment early or paying the plan off goes
through the pay page with the plan's invoices (`payments.pay`): what is paid there pays the
installments in order (`plans.jobs`).

URLs:
- `plans.index`    GET  /plans                                   the company's plans
- `plans.new`      GET  /plans/new?invoice=<id>&invoice=...      the form
- `plans.preview`  POST /plans/preview                           the schedule and the exact terms
- `plans.create`   POST /plans                                   accept them (one plan per form token)
- `plans.plan`     GET  /plans/<public_id>                       the plan, its installments and terms
- `plans.answer`   POST /plans/<public_id>/answer                accept or decline terms staff proposed
                                                                 (a counter-proposal or a new schedule)
"""

from __future__ import annotations

import secrets

from flask import Blueprint, g, redirect, render_template, request, url_for

from portal.domain.core.clock import today_in
from portal.domain.plans import queries, service
from portal.domain.plans.policy import MAX_INSTALLMENTS, MIN_INSTALLMENTS, PlanRefused, terms_digest
from portal.domain.plans.service import MAX_INVOICES_PER_PLAN
from portal.domain.plans.states import CADENCE_LABELS, Cadence
from portal.forms import InvalidInput
from portal.forms.fields import shown_again
from portal.forms.payments import invoice_ids
from portal.forms.plans import accept_plan_form, answer_plan_form, plan_request_form
from portal.web.context import actor_for_contact, db, request_context, services
from portal.web.customer_session import current_access, require_customer, require_whole_account
from portal.web.i18n import current_language, refusal_message

bp = Blueprint("plans", __name__)
bp.before_request(require_customer)

CADENCES = tuple((str(cadence), CADENCE_LABELS[cadence]) for cadence in (Cadence.MONTHLY, Cadence.BIWEEKLY, Cadence.WEEKLY))


def _context():
    return request_context(actor_for_contact(g.contact.public_id))


def _today():
    return today_in(services().clock, g.customer.timezone)


def _policy():
    return queries.plan_policy(db(), services().settings.plan_policy)


def _chosen(values) -> list[str]:
    try:
        return invoice_ids(values.getlist("invoice"), MAX_INVOICES_PER_PLAN)
    except InvalidInput:
        return []


def _form_page(*, error: str = "", values=None, status: int = 200):
    values = values if values is not None else request.args
    page = queries.plan_form(db(), current_access(), _chosen(values), _today())
    return render_template(
        "plans/new.html", page=page, error=error, cadences=CADENCES, counts=range(MIN_INSTALLMENTS, MAX_INSTALLMENTS + 1),
        chosen_count=shown_again(values.get("count", "3"), 3), chosen_cadence=shown_again(values.get("cadence", ""), 10),
        chosen_first=shown_again(values.get("first", ""), 10) or _today().isoformat(),
        chosen_pay_by=shown_again(values.get("pay_by", ""), 10), chosen_card=shown_again(values.get("card", ""), 22),
    ), status


@bp.get("/plans")
@require_whole_account
def index():
    return render_template("plans/index.html", plans=queries.customer_plans(db(), g.customer.id))


@bp.get("/plans/new")
@require_whole_account
def new():
    return _form_page()


@bp.post("/plans/preview")
@require_whole_account
def preview():
    try:
        plan_request = plan_request_form(request.form)
        shown = service.preview_plan(_context(), current_access(), _policy(), services().supplier.name, plan_request,
                                     _today(), current_language())
    except (PlanRefused, InvalidInput) as error:
        db().rollback()
        return _form_page(error=refusal_message(error),
                          values=request.form, status=400)
    return render_template("plans/preview.html", preview=shown, plan_request=plan_request,
                           digest=terms_digest(shown.terms), request_key=secrets.token_urlsafe(24))


@bp.post("/plans")
@require_whole_account
def create():
    try:
        given = accept_plan_form(request.form)
        plan = service.propose_plan(
            _context(), current_access(), _policy(), services().supplier.name, given.request,
            terms_shown=given.terms_digest, request_key=given.request_key,
            user_agent=request.headers.get("User-Agent", "")[:500], today=_today(), language=current_language(),
        )
    except (PlanRefused, InvalidInput) as error:
        db().rollback()
        return _form_page(error=refusal_message(error),
                          values=request.form, status=400)
    return redirect(url_for(".plan", public_id=plan.public_id), code=303)


@bp.get("/plans/<public_id>")
@require_whole_account
def plan(public_id: str):
    return _plan_page(public_id)


def _plan_page(public_id: str, *, error: str = "", status: int = 200):
    found = queries.plan_by_public_id(db(), public_id, g.customer.id)
    amendment = queries.proposed_amendment(db(), found.id) if found.status != "countered" else None
    if found.status == "countered":
        counter = service.counter_terms(db(), services().supplier.name, found, current_language())
    elif amendment is not None:
        counter = service.amendment_terms(db(), services().supplier.name, found, amendment, current_language())
    else:
        counter = ""
    return render_template("plans/plan.html", page=queries.plan_page(db(), found), counter=counter,
                           amendment=amendment, digest=terms_digest(counter) if counter else "", error=error), status


@bp.post("/plans/<public_id>/answer")
@require_whole_account
def answer(public_id: str):
    queries.plan_by_public_id(db(), public_id, g.customer.id)  # another company's plan: 404 first
    try:
        accept, digest = answer_plan_form(request.form)
        service.answer_plan(_context(), current_access(), services().supplier.name, public_id, accept=accept,
                               terms_shown=digest, user_agent=request.headers.get("User-Agent", "")[:500],
                               language=current_language())
    except (PlanRefused, InvalidInput) as error:
        db().rollback()
        return _plan_page(public_id, error=refusal_message(error), status=400)
    return redirect(url_for(".plan", public_id=public_id), code=303)
