"""Saved payment methods: the list, saving a card or (real dialect, USD) a US bank account for
off-session use, the default, removal.

Only a contact signed in to the whole account reaches these pages (`require_whole_account` on
every view; the domain refuses anyone else as "not found" too): an invoice-link holder can
neither see nor use the company's saved cards. parse → authorize → one domain call → respond;
the web glue commits once.

URLs:
- `methods.index`    GET  /payment-methods                           the saved cards
- `methods.new`      GET  /payment-methods/new                       the card form and the consent words
- `methods.start`    POST /payment-methods/new                       JSON for static/js/methods.js: a
                                                                     SetupIntent's client secret
- `methods.complete` POST /payment-methods/setups/<public_id>/complete  the browser confirmed: read it
                                                                     back from Stripe, record the card
- `methods.make_default` POST /payment-methods/<public_id>/default
- `methods.confirm_remove` GET /payment-methods/<public_id>/remove   "Remove this card?"
- `methods.remove`   POST /payment-methods/<public_id>/remove
"""

from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for

from portal.domain.methods import queries, service
from portal.domain.methods.policy import bank_mandate_text, consent_text, describe_method, offers_bank_accounts
from portal.forms.methods import consenting_user_agent
from portal.web.context import actor_for_contact, db, request_context, services
from portal.web.customer_session import current_access, require_customer, require_whole_account
from portal.web.errors import wants_json
from portal.domain.core.locales import N_, Text
from portal.web.i18n import current_language

bp = Blueprint("methods", __name__)
bp.before_request(require_customer)


def _context():
    return request_context(actor_for_contact(g.contact.public_id))


def _consent() -> str:
    return consent_text(services().supplier.name, g.customer.name, current_language())


def _mandate(currency: str) -> str | None:
    """The ACH mandate shown (and stored) when a bank account may be saved too, else None."""
    if not offers_bank_accounts(currency, not services().settings.uses_local_stripe):
        return None
    return bank_mandate_text(services().supplier.name, g.customer.name, current_language())


@bp.get("/payment-methods")
@require_whole_account
def index():
    offers = _mandate(queries.setup_currency(db(), current_access())) is not None
    return render_template("methods/index.html", methods=queries.saved_methods(db(), current_access()),
                           offers_bank_accounts=offers)


@bp.get("/payment-methods/new")
@require_whole_account
def new():
    settings = services().settings
    currency = queries.setup_currency(db(), current_access())
    return render_template(
        "methods/new.html", consent=_consent(), mandate=_mandate(currency), currency=currency,
        publishable_key=settings.stripe_publishable_key, stripe_js_url=settings.stripe_js_url,
        stripe_dialect=settings.stripe_dialect,
    )


@bp.post("/payment-methods/new")
@require_whole_account
def start():
    user_agent = consenting_user_agent(request.headers.get("User-Agent"))
    mandate = _mandate(queries.setup_currency(db(), current_access()))
    setup = service.start_setup(_context(), services().gateway, current_access(), _consent(), user_agent, mandate)
    return jsonify(
        client_secret=setup.client_secret,
        complete_url=url_for(".complete", public_id=setup.public_id),
        # Where Stripe would send the browser back (it never does for a card: redirect
        # "if_required"): built from our configured address, never from the Host header.
        return_url=services().settings.public_url.rstrip("/") + url_for(".index"),
    )


@bp.post("/payment-methods/setups/<public_id>/complete")
@require_whole_account
def complete(public_id: str):
    method = service.complete_setup(_context(), services().gateway, current_access(), public_id)
    if wants_json():
        if method.verification_status != "verified":
            flash(_saved_message(method), "success")  # the page the browser moves to says so
        return jsonify(methods_url=url_for(".index"), method=method.public_id,
                       verification=method.verification_status)
    flash(_saved_message(method), "success")
    return redirect(url_for(".index"))


def _saved_message(method) -> str:
    if method.verification_status == "pending_verification":
        return _said(N_("%(method)s is saved and waiting for verification: Stripe sends two small deposits "
                        "to it within two business days, with an email saying how to confirm them. It can be used "
                        "once they are confirmed."), method)
    return _said(N_("%(method)s is saved."), method)


def _said(template: str, method) -> str:
    """A notice about a saved method, in the page's language."""
    return Text(template, method=describe_method(method)).render(current_language())


@bp.post("/payment-methods/<public_id>/default")
@require_whole_account
def make_default(public_id: str):
    method = service.set_default_method(_context(), services().gateway, current_access(), public_id)
    flash(_said(N_("%(method)s is now the default payment method."), method), "success")
    return redirect(url_for(".index"))


@bp.get("/payment-methods/<public_id>/remove")
@require_whole_account
def confirm_remove(public_id: str):
    method = queries.method_for_access(db(), current_access(), public_id)
    return render_template("methods/remove.html", method=method, label=describe_method(method))


@bp.post("/payment-methods/<public_id>/remove")
@require_whole_account
def remove(public_id: str):
    method = service.remove_method(_context(), services().gateway, current_access(), public_id)
    flash(_said(N_("%(method)s is removed."), method), "success")
    return redirect(url_for(".index"))
