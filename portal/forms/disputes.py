"""The dispute forms: raising one (`POST /disputes`) and writing in its thread.

Only the fields named here are read, each bounded before anything else happens: the form's
token, the reason code, the description (several lines: the domain refuses control characters
other than line breaks), the invoices' public ids, and per invoice what is disputed: `mode-<id>`
(whole | lines | amount), `amount-<id>`, the chosen lines `line-<id>` (their positions) with
`quantity-<id>-<position>` or `line-amount-<id>-<position>`. Amounts stay text here;
`Money.parse` reads them in the invoice's own currency.

Files come in the forms' `files` input (multipart) and are not parsed here: the route hands
them to the dispute service as `Uploads` (`portal.web.uploads.posted_uploads`), which checks
them with the attachments area's rules once the rest of the form was accepted.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _
from werkzeug.datastructures import MultiDict
from wtforms import StringField

from portal.domain.core.money import MAX_AMOUNT_TEXT
from portal.domain.disputes.models import MAX_DESCRIPTION_LENGTH, MAX_MESSAGE_LENGTH
from portal.domain.disputes.policy import (
    MAX_INVOICES_PER_DISPUTE, MAX_LINES_PER_INVOICE, MAX_QUANTITY_TEXT, MODES, InvoiceChoice, LineChoice,
)
from portal.forms import InvalidInput
from portal.forms.fields import PortalForm, first_value, line_field
from portal.forms.payments import invoice_ids

_POSITION = re.compile(r"[0-9]{1,4}", re.ASCII)


class RaiseDisputeForm(PortalForm):
    request_key = line_field(_("The form's token"), 64)
    reason = line_field(_("The reason"), 40)
    description = StringField("The description")  # multi-line: checked by the domain


class MessageForm(PortalForm):
    body = StringField("The message")


def _positions(values: list[str]) -> list[int]:
    values = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if len(values) > MAX_LINES_PER_INVOICE:
        raise InvalidInput(_("A line: choose at most %(count)s lines.", count=MAX_LINES_PER_INVOICE))
    positions = []
    for value in values:
        if not _POSITION.fullmatch(value):
            raise InvalidInput(_("A line: that line is not on the invoice."))
        positions.append(int(value))
    return positions


def raise_dispute_form(data: MultiDict) -> tuple[str, str, str, tuple[InvoiceChoice, ...]]:
    """(request key, reason code, description, choices) from the posted form, or `InvalidInput`."""
    form = RaiseDisputeForm(MultiDict({
        "request_key": first_value(data, "request_key", 64), "reason": first_value(data, "reason", 40),
        "description": first_value(data, "description", MAX_DESCRIPTION_LENGTH * 2),
    })).checked()
    choices = []
    for public_id in invoice_ids(data.getlist("invoice"), MAX_INVOICES_PER_DISPUTE):
        mode = first_value(data, f"mode-{public_id}", 10).strip() or "whole"
        if mode not in MODES:
            raise InvalidInput(_("Choose what you dispute on each invoice."))
        lines = ()
        if mode == "lines":
            lines = tuple(
                LineChoice(position=position,
                           quantity_text=first_value(data, f"quantity-{public_id}-{position}", MAX_QUANTITY_TEXT),
                           amount_text=first_value(data, f"line-amount-{public_id}-{position}", MAX_AMOUNT_TEXT))
                for position in _positions(data.getlist(f"line-{public_id}"))
            )
        choices.append(InvoiceChoice(
            invoice_public_id=public_id, mode=mode, lines=lines,
            amount_text=first_value(data, f"amount-{public_id}", MAX_AMOUNT_TEXT) if mode == "amount" else "",
        ))
    if not choices:
        raise InvalidInput(_("Choose at least one invoice to dispute."))
    return form.request_key.data, form.reason.data, form.description.data or "", tuple(choices)


def message_body(data: MultiDict) -> str:
    form = MessageForm(MultiDict({"body": first_value(data, "body", MAX_MESSAGE_LENGTH * 2)})).checked()
    return form.body.data or ""
