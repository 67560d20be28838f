"""The staff refund form (`POST /admin/payments/<public_id>/refund`): its token, the amount and
the reason, each bounded and refused with control characters before anything is read."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from portal.domain.core.money import MAX_AMOUNT_TEXT
from portal.domain.refunds.models import MAX_REASON_LENGTH
from portal.domain.refunds.policy import RefundForm
from portal.forms.fields import PortalForm, first_value, line_field

MAX_TOKEN_LENGTH = 64


class _RefundFields(PortalForm):
    form_token = line_field("The form", MAX_TOKEN_LENGTH)
    amount = line_field("The amount", MAX_AMOUNT_TEXT)
    reason = line_field("The reason", MAX_REASON_LENGTH)


def refund_form(data: MultiDict) -> RefundForm:
    bounded = MultiDict({
        "form_token": first_value(data, "form_token", MAX_TOKEN_LENGTH * 2),
        "amount": first_value(data, "amount", MAX_AMOUNT_TEXT * 2),
        "reason": first_value(data, "reason", MAX_REASON_LENGTH * 2),
    })
    form = _RefundFields(bounded).checked()
    return RefundForm(form_token=form.form_token.data or "", amount_text=form.amount.data or "",
                      reason=form.reason.data or "")
