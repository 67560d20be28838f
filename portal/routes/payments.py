"""Paying invoices by card: the pay page, the pay request, a payment's status, the history.

parse → authorize (`require_customer` guards the whole blueprint; every query is scoped by the
signed-in access) → one domain call → respond. The web glue commits once after the view;
domain refusals become 400/404/409/429 answers in `portal.web.errors`.

URLs other parts link to:
- `payments.pay`      GET  /pay?invoice=<public_id>&invoice=...   the pay form (or ?select=overdue|due
                                                                    &currency=USD: the overview's
                                                                    "Pay all overdue" / "Pay all due")
- `payments.start`    POST /pay                                    JSON for static/js/pay.js
- `payments.payment`  GET  /payments/<public_id>                   status page ("processing"
                                                                    until Stripe's webhook)
- `payments.status`   GET  /payments/<public_id>/status            JSON the status page polls
- `payments.cancel`   POST /payments/<public_id>/cancel            abandon a failed or forgotten 3-D
                                                                    Secure step (JSON, or a redirect
                                                                    for the pages' button)
- `payments.receipt_pdf` GET /payments/<public_id>/receipt.pdf     the receipt of a paid payment
- `payments.history`  GET  /payments                               the company's payments
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from portal.domain.core.locales import format_moment
from portal.domain.core.money import Money
from portal.domain.payments import queries, service
from portal.domain.payments.models import IN_FLIGHT_STATUSES
from portal.domain.payments.policy import SHORT_PAY_REASONS, BankConsent, mandate_text
from portal.forms.payments import card_payment_form, pay_selection
from portal.forms.account import MAX_PAGE
from portal.forms.fields import small_number
from portal.web.context import actor_for_contact, db, request_context, services
from portal.web.customer_session import current_access, customer_today, require_customer, require_whole_account
from portal.web.documents import pdf_download, render_pdf
from portal.web.errors import wants_json
from portal.web.i18n import current_language
from portal.web.payment_rows import payment_rows

bp = Blueprint("payments", __name__)
bp.before_request(require_customer)
bp.add_app_template_global(payment_rows)


_CURRENCY_PREFIX = re.compile(r"^\D+")


@bp.app_template_filter("amount_field")
def amount_field(formatted) -> str:
    """An amount as a pay form's field holds it: the digits without the currency's symbol,
    "$1,250.00" -> "1,250.00". Money is written the way the field reads it back
    (`Money.parse`) whatever the page's language: "1 250,00 $US" could not be."""
    if isinstance(formatted, Money):
        formatted = formatted.format()
    return _CURRENCY_PREFIX.sub("", formatted)


@bp.app_template_filter("moment")
def moment(value, zone: ZoneInfo) -> str:
    """A time as the customer reads it in their `zone`, in the page's language:
    "01 Dec 2026, 14:05 EST", "1 déc. 2026, 14:05 EST"."""
    return format_moment(value, zone, current_language())


def _customer_zone() -> ZoneInfo:
    return ZoneInfo(g.customer.timezone or "UTC")


def _context():
    return request_context(actor_for_contact(g.contact.public_id))


@bp.get("/pay")
def pay():
    selection = pay_selection(request.args)
    page = queries.pay_page(db(), customer_today(), current_access(), request.args.getlist("invoice"), selection)
    settings = services().settings
    return render_template(
        "payments/pay.html", page=page, nonce=service.new_form_nonce(), reasons=SHORT_PAY_REASONS,
        publishable_key=settings.stripe_publishable_key, stripe_js_url=settings.stripe_js_url,
        stripe_dialect=settings.stripe_dialect, statement_descriptor=settings.statement_descriptor,
        mandate_text=mandate_text(services().supplier.name, current_language()),
    )


@bp.post("/pay")
def start():
    form = card_payment_form(request.form)  # refused here (400) before any lock or query
    origin = BankConsent(ip=request.remote_addr or "", user_agent=request.headers.get("User-Agent", "")[:500],
                         supplier_name=services().supplier.name, language=current_language())
    result = service.start_card_payment(_context(), services().gateway, current_access(), form, origin)
    body = {
        "status": result.status,
        "payment_url": url_for(".payment", public_id=result.payment.public_id),
    }
    # The portal's own words are in the catalogue; a card processor's decline text is shown as it came.
    message = gettext(result.message) if result.message else result.message
    if result.retry:
        return jsonify({**body, "error": message, "retry": True}), 503
    if result.status == "failed":
        return jsonify({**body, "error": message}), 402
    if result.client_secret:
        body["client_secret"] = result.client_secret
        body["cancel_url"] = url_for(".cancel", public_id=result.payment.public_id)
    if message:
        body["message"] = message
    return jsonify(body), 200


@bp.get("/payments/<public_id>")
def payment(public_id: str):
    found = queries.payment_row(db(), current_access(), public_id)
    summary = queries.describe_payments(db(), [found], services().clock)[0]
    # Set by pay.js once the bank's authentication succeeded: the webhook has not come yet,
    # but nothing is waiting for the clerk. Changes only the wording, never a state.
    authenticated = request.args.get("authenticated") == "1"
    return render_template("payments/payment.html", summary=summary, authenticated=authenticated,
                           zone=_customer_zone())


@bp.get("/payments/<public_id>/receipt.pdf")
def receipt_pdf(public_id: str):
    """The receipt to file: whoever may see the payment's page may download it, once paid."""
    clock = services().clock
    language = current_language()
    receipt = queries.receipt_for_access(db(), current_access(), clock, public_id, language)
    generated = queries.local_time(clock.now(), receipt.customer.timezone, language)
    pdf = render_pdf("pdf/receipt.html", receipt=receipt, generated=generated)
    return pdf_download(pdf, f"receipt-{receipt.reference}")


@bp.get("/payments/<public_id>/status")
def status(public_id: str):
    found = queries.payment_row(db(), current_access(), public_id)
    return jsonify(status=found.status, in_flight=found.status in IN_FLIGHT_STATUSES)


@bp.post("/payments/<public_id>/cancel")
def cancel(public_id: str):
    """Cancel an attempt still waiting for 3-D Secure: pay.js after a failed authentication, or
    the "Cancel this unfinished payment" button any contact who can see the payment gets on
    the invoice and payment pages (an abandoned attempt would otherwise hold the invoices)."""
    s = services()
    found = service.cancel_card_payment(_context(), s.gateway, current_access(), s.supplier, public_id)
    payment_url = url_for(".payment", public_id=public_id)
    if wants_json():
        return jsonify(status=found.status, payment_url=payment_url)
    return redirect(payment_url)


@bp.get("/payments")
@require_whole_account
def history():
    page = small_number(request.args.get("page"), 1, MAX_PAGE)
    history = queries.payment_history(db(), current_access(), page=page)
    return render_template("payments/history.html", history=history, rows=queries.grouped_attempts(history.summaries),
                           zone=_customer_zone())
