"""Paying invoices by card: the pay page, the pay request, a payment's status, the history.

parse → authorize (`require_customer` guards the whole blueprint; every query is scoped by the
signed-in access) → one domain call → respond. `start_card_payment` commits itself, twice, by
design (see its docstring); the others commit here.

URLs other parts link to:
- `payments.pay`      GET  /pay?invoice=<public_id>&invoice=...   the pay form
- `payments.start`    POST /pay                                    JSON for static/js/pay.js
- `payments.payment`  GET  /payments/<public_id>                   status page ("processing"
                                                                    until Stripe's webhook)
- `payments.status`   GET  /payments/<public_id>/status            JSON the status page polls
- `payments.cancel`   POST /payments/<public_id>/cancel            abandon a failed 3-D Secure step
- `payments.history`  GET  /payments                               the company's payments
"""

from __future__ import annotations

from flask import Blueprint, abort, g, jsonify, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from portal.domain.payments import service as payments
from portal.domain.core.errors import NotFound
from portal.domain.payments.models import IN_FLIGHT_STATUSES
from portal.domain.payments.service import (
    SHORT_PAY_REASONS, AllocationRequest, CardPaymentForm, PaymentRefused, PaymentsPaused, ReceiptDetails,
)
from portal.web.context import actor_for_contact, commit, db, services
from portal.web.customer_session import current_access, require_customer, require_whole_account

bp = Blueprint("payments", __name__)
bp.before_request(require_customer)


def _payment_or_404(public_id: str):
    try:
        return payments.payment_for_access(db(), current_access(), public_id)
    except NotFound:
        abort(404)


@bp.get("/pay")
def pay():
    try:
        page = payments.pay_page(db(), services().clock, current_access(), request.args.getlist("invoice"))
    except NotFound:
        abort(404)
    settings = services().settings
    return render_template(
        "payments/pay.html", page=page, nonce=payments.new_form_nonce(), reasons=SHORT_PAY_REASONS,
        publishable_key=settings.stripe_publishable_key, stripe_js_url=settings.stripe_js_url,
    )


def _form_from(data: MultiDict) -> CardPaymentForm:
    """Only these fields are read: anything else the browser sends (status, company, total,
    currency) is ignored by construction."""
    public_ids = [value.strip() for value in data.getlist("invoice") if value.strip()]
    return CardPaymentForm(
        nonce=data.get("nonce", ""),
        allocations=tuple(
            AllocationRequest(
                invoice_public_id=public_id,
                amount_text=data.get(f"amount-{public_id}", ""),
                reason=data.get(f"reason-{public_id}", ""),
            )
            for public_id in public_ids
        ),
        card_token=data.get("card_token", ""),
        po_number=data.get("po_number", ""),
        memo=data.get("memo", ""),
    )


@bp.post("/pay")
def start():
    form = _form_from(request.form)
    s = services()
    try:
        result = payments.start_card_payment(
            db(), s.clock, s.gateway, actor_for_contact(g.contact.public_id), current_access(), form,
        )
    except PaymentsPaused as paused:
        return jsonify(error=paused.message), 429, {"Retry-After": str(paused.retry_after_seconds)}
    except PaymentRefused as refused:
        return jsonify(error=refused.message), 400
    body = {
        "status": result.status,
        "payment_url": url_for(".payment", public_id=result.payment.public_id),
    }
    if result.retry:
        return jsonify({**body, "error": result.message, "retry": True}), 503
    if result.status == "failed":
        return jsonify({**body, "error": result.message}), 402
    if result.client_secret:
        body["client_secret"] = result.client_secret
        body["cancel_url"] = url_for(".cancel", public_id=result.payment.public_id)
    if result.message:
        body["message"] = result.message
    return jsonify(body), 200


@bp.get("/payments/<public_id>")
def payment(public_id: str):
    found = _payment_or_404(public_id)
    summary = payments.describe_payments(db(), [found], services().clock)[0]
    return render_template("payments/payment.html", summary=summary)


@bp.get("/payments/<public_id>/status")
def status(public_id: str):
    found = _payment_or_404(public_id)
    return jsonify(status=found.status, in_flight=found.status in IN_FLIGHT_STATUSES)


@bp.post("/payments/<public_id>/cancel")
def cancel(public_id: str):
    s = services()
    try:
        found = payments.cancel_card_payment(
            db(), s.clock, s.gateway, actor_for_contact(g.contact.public_id), current_access(),
            ReceiptDetails.from_settings(s.settings), public_id,
        )
    except NotFound:
        abort(404)
    except PaymentRefused as refused:
        return jsonify(error=refused.message), 409
    commit()
    return jsonify(status=found.status, payment_url=url_for(".payment", public_id=public_id))


@bp.get("/payments")
@require_whole_account
def history():
    summaries = payments.payment_history(db(), current_access(), services().clock)
    return render_template("payments/history.html", summaries=summaries)
