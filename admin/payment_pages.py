"""The staff side of payments: one payment's page (VIEW_DISPUTES) with its refunds and
chargeback cases, the refund form (REFUND_PAYMENTS, a sign-in within the last 10 minutes, the
role's refund limit), and the chargeback list at `/admin/chargebacks` (VIEW_DISPUTES).

The refund form carries a token made when the page is rendered: a second submit of the same
form finds the refund the first one made (P14)."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from portal.domain.core.errors import DomainError
from portal.domain.refunds.queries import chargeback_list, staff_payment_page
from portal.domain.refunds.service import new_refund_token, refund_payment
from portal.domain.staff.policy import Permission, allows, refund_limit
from portal.forms.refunds import refund_form
from portal.web.context import db, request_context, services

from . import bp
from .auth import staff_actor
from .permissions import requires, requires_recent_sign_in
from .session import current_staff


def _payment_page(public_id: str, *, error: str = "", notice: str = "", status: int = 200,
                  amount: str = "", reason: str = "", token: str | None = None):
    page = staff_payment_page(db(), public_id)
    role = current_staff().staff.role
    return render_template(
        "admin/payment.html", page=page, error=error, notice=notice,
        may_refund=allows(role, Permission.REFUND_PAYMENTS), limit=refund_limit(role, page.payment.currency),
        form_token=token or new_refund_token(), amount=amount, reason=reason,
    ), status


@bp.get("/payments/<public_id>")
@requires(Permission.VIEW_DISPUTES)
def payment(public_id: str):
    return _payment_page(public_id)


@bp.post("/payments/<public_id>/refund")
@requires(Permission.REFUND_PAYMENTS)
@requires_recent_sign_in
def payment_refund(public_id: str):
    staff_payment_page(db(), public_id)  # an unknown payment is a 404 before anything else
    try:
        form = refund_form(request.form)
        outcome = refund_payment(request_context(staff_actor()), services().gateway, current_staff().staff,
                                 public_id, form)
    except DomainError as refused:
        db().rollback()
        return _payment_page(public_id, error=refused.message, status=400)
    if outcome.message:
        # The refund row (and its key) is kept: submitting the same form again is safe.
        return _payment_page(public_id, error=outcome.message, status=503 if outcome.retry else 400,
                             amount=form.amount_text, reason=form.reason,
                             token=form.form_token if outcome.retry else None)
    return redirect(url_for("admin.payment", public_id=public_id) + "#refunds", code=303)


@bp.get("/chargebacks")
@requires(Permission.VIEW_DISPUTES)
def chargebacks():
    open_only = request.args.get("show", "", type=str)[:10] != "all"
    return render_template("admin/chargebacks.html", cases=chargeback_list(db(), open_only=open_only),
                           open_only=open_only)
