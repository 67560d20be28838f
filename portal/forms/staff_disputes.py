"""The staff side of disputes: the queues' query arguments (`GET /admin/disputes?tab=&status=&reason=&q=&page=`).

As with the customer's invoice list, an unknown or stale value falls back to its default; a
search longer than `MAX_QUEUE_SEARCH_LENGTH` or with control characters is refused (400). And
the action forms of one dispute's page, each field bounded before it is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal

from werkzeug.datastructures import MultiDict
from wtforms import StringField

from portal.domain.core.money import MAX_AMOUNT_TEXT, Money, MoneyError
from portal.domain.disputes.models import MAX_MESSAGE_LENGTH
from portal.domain.disputes.policy import MAX_CORRECTED_LINES, MAX_CORRECTED_QUANTITY
from portal.domain.disputes.queries import (
    MAX_QUEUE_SEARCH_LENGTH, QUEUE_STATUS_FILTERS, QUEUE_TABS, DraftLine, QueueQuery, RebillDraft,
)
from portal.domain.disputes.service import Correction
from portal.domain.invoicing.service import MAX_DESCRIPTION_LENGTH, MAX_NUMBER_LENGTH, NewLine
from portal.forms import InvalidInput
from portal.forms.fields import PortalForm, first_value, line_field, shown_again, small_number

MAX_PAGE = 100_000
_NAMES = ("tab", "status", "reason", "q", "page")


class QueueForm(PortalForm):
    tab = StringField()
    status = StringField()
    reason = StringField()
    q = line_field("The search", MAX_QUEUE_SEARCH_LENGTH)
    page = StringField()


def queue_query(args: MultiDict, *, reasons: set[str], tab: str | None = None) -> QueueQuery:
    """The queue's `QueueQuery`; `tab` given by the route wins over the argument."""
    bounded = MultiDict({name: first_value(args, name, MAX_QUEUE_SEARCH_LENGTH) for name in _NAMES if name in args})
    form = QueueForm(bounded).checked()
    chosen = tab or form.tab.data or "mine"
    status, reason = form.status.data or "active", form.reason.data or ""
    return QueueQuery(
        tab=chosen if chosen in QUEUE_TABS and (tab == "all" or chosen != "all") else "mine",
        status=status if status in QUEUE_STATUS_FILTERS else "active",
        reason=reason if reason in reasons else "",
        q=form.q.data or "",
        page=small_number(form.page.data, 1, MAX_PAGE),
    )


# ---------------------------------------------------------------------------------------------
# The action forms of one dispute's staff page (POST; CSRF from `CSRFProtect`)

_ASSIGNEE = re.compile(r"[A-Za-z0-9_-]{1,22}:[0-9]{1,9}", re.ASCII)


class TextForm(PortalForm):
    body = StringField("The text")  # multi-line: the domain bounds it and refuses control characters


def staff_text(data: MultiDict, name: str = "body") -> str:
    """A reply, note, question or explanation, cut far above the domain's limit before it is read."""
    return TextForm(MultiDict({"body": first_value(data, name, MAX_MESSAGE_LENGTH * 2)})).checked().body.data or ""


class ReassignForm(PortalForm):
    assignee = line_field("The new owner", 40)


def reassign_choice(data: MultiDict) -> tuple[str, int]:
    """(staff public id, team id) from the `staff public id:team id` the form's select sends."""
    value = ReassignForm(MultiDict({"assignee": first_value(data, "assignee", 40)})).checked().assignee.data or ""
    if not _ASSIGNEE.fullmatch(value):
        raise InvalidInput("Choose the new owner from the list.")
    public_id, team_id = value.split(":")
    return public_id, int(team_id)


class ResolveForm(PortalForm):
    mode = line_field("Full or part", 10)
    explanation = StringField("The explanation")


def resolve_choice(data: MultiDict, invoice_public_ids: list[str]) -> tuple[str, dict[str, str], str]:
    """("full" | "part", credit text by invoice public id (part only), explanation). The amounts
    stay text: `Money.parse` reads them in the dispute's currency."""
    form = ResolveForm(MultiDict({"mode": first_value(data, "mode", 10),
                                  "explanation": first_value(data, "explanation", MAX_MESSAGE_LENGTH * 2)})).checked()
    mode = form.mode.data or ""
    if mode not in ("full", "part"):
        raise InvalidInput("Choose to credit in full or in part.")
    credits = {}
    if mode == "part":
        for public_id in invoice_public_ids:
            text = first_value(data, f"credit-{public_id}", MAX_AMOUNT_TEXT)
            if len(text) > MAX_AMOUNT_TEXT:
                raise InvalidInput("Enter each credit as an amount such as 120.50.")
            credits[public_id] = text.strip() or "0"
    return mode, credits, form.explanation.data or ""


# ---------------------------------------------------------------------------------------------
# The re-bill form. Per covered invoice (by its public id P): `replace` (a checkbox whose value
# is P), `number-P`, `due-P` (YYYY-MM-DD), and its lines `line-P-<row>-description`,
# `-quantity`, `-price` and `-remove`; a row left blank is no line. Then `explanation`.

MAX_QUANTITY_TEXT = 16
MAX_DATE_TEXT = 10
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,22}", re.ASCII)
_INVOICE_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_QUANTITY = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,3})?", re.ASCII)
_LINE_FIELD = re.compile(r"line-(?P<invoice>[A-Za-z0-9_-]{1,22})-(?P<row>[0-9]{1,3})-(?:description|quantity|price|remove)",
                         re.ASCII)


class CorrectionForm(PortalForm):
    number = line_field("The corrected invoice's number", MAX_NUMBER_LENGTH)
    due = line_field("The due date", MAX_DATE_TEXT)


class CorrectedLineForm(PortalForm):
    description = line_field("The description", MAX_DESCRIPTION_LENGTH)
    quantity = line_field("The quantity", MAX_QUANTITY_TEXT)
    price = line_field("The unit price", MAX_AMOUNT_TEXT)


def _checked(form: PortalForm, where: str) -> PortalForm:
    try:
        return form.checked()
    except InvalidInput as refused:
        raise InvalidInput(f"{where}: {refused.message}") from None


def _rows(data: MultiDict, public_id: str) -> list[int]:
    """The row numbers the form sent for one invoice's lines, in order."""
    rows = set()
    for key in data.keys():
        match = _LINE_FIELD.fullmatch(key)
        if match and match.group("invoice") == public_id:
            rows.add(int(match.group("row")))
    return sorted(rows)


def _line_values(data: MultiDict, public_id: str, row: int) -> MultiDict:
    prefix = f"line-{public_id}-{row}-"
    return MultiDict({
        "description": first_value(data, prefix + "description", MAX_DESCRIPTION_LENGTH),
        "quantity": first_value(data, prefix + "quantity", MAX_QUANTITY_TEXT),
        "price": first_value(data, prefix + "price", MAX_AMOUNT_TEXT),
    })


def _used(values: MultiDict, data: MultiDict, public_id: str, row: int) -> bool:
    """A row is a line unless it is marked for removal or left blank."""
    if first_value(data, f"line-{public_id}-{row}-remove", 1):
        return False
    return any(value.strip() for value in values.values())


def _quantity(text: str, where: str) -> Decimal:
    if not _QUANTITY.fullmatch(text):
        raise InvalidInput(f"{where}: enter the quantity as a number with at most 3 decimals, for example 2 or 1.5.")
    quantity = Decimal(text)
    if not 0 < quantity <= MAX_CORRECTED_QUANTITY:
        raise InvalidInput(f"{where}: the quantity is above zero and at most {MAX_CORRECTED_QUANTITY:,}.")
    return quantity


def _corrected_line(values: MultiDict, currency: str, where: str) -> NewLine:
    form = _checked(CorrectedLineForm(values), where)
    description = form.description.data or ""
    if not description:
        raise InvalidInput(f"{where}: describe the line.")
    quantity = _quantity(form.quantity.data or "", where)
    try:
        price = Money.parse(form.price.data or "", currency)
    except MoneyError as error:
        raise InvalidInput(f"{where}: {error} (the unit price, in {currency}).") from None
    return NewLine(description, quantity, price.minor)


def _due_date(text: str, where: str) -> date:
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput(f"{where}: enter the due date as YYYY-MM-DD.")


def rebill_choice(data: MultiDict, invoices: Mapping[str, str], currency: str) -> tuple[dict[str, Correction], str]:
    """(the corrections by the public id of the invoice each replaces, the explanation to the
    customer). `invoices`: the dispute's covered invoices, public id → number; amounts are
    read in `currency`, the invoices'. Any other invoice named is refused."""
    chosen = data.getlist("replace")
    if len(chosen) > len(invoices) or len(set(chosen)) != len(chosen) or any(
            not isinstance(p, str) or not _PUBLIC_ID.fullmatch(p) or p not in invoices for p in chosen):
        raise InvalidInput("Choose the invoices to replace from the list.")
    if not chosen:
        raise InvalidInput("Choose at least one invoice to replace with a corrected one.")
    corrections = {}
    for public_id in chosen:
        where = f"Invoice {invoices[public_id]}"
        form = _checked(CorrectionForm(MultiDict({
            "number": first_value(data, f"number-{public_id}", MAX_NUMBER_LENGTH),
            "due": first_value(data, f"due-{public_id}", MAX_DATE_TEXT),
        })), where)
        number = form.number.data or ""
        if not number:
            raise InvalidInput(f"{where}: give the corrected invoice a number.")
        if not _INVOICE_NUMBER.fullmatch(number):
            raise InvalidInput(f"{where}: the corrected invoice's number starts with a letter or digit and holds "
                               "only letters, digits and . _ / -")
        due = _due_date(form.due.data or "", where)
        used = []
        for row in _rows(data, public_id):
            values = _line_values(data, public_id, row)
            if _used(values, data, public_id, row):
                used.append((row, values))
        if not used:
            raise InvalidInput(f"{where}: the corrected invoice needs at least one line.")
        if len(used) > MAX_CORRECTED_LINES:
            raise InvalidInput(f"{where}: the corrected invoice can have at most {MAX_CORRECTED_LINES} lines.")
        lines = [_corrected_line(values, currency, f"{where}, line {row + 1}") for row, values in used]
        corrections[public_id] = Correction(number=number, due_date=due, lines=lines)
    return corrections, staff_text(data, "explanation")


def rebill_form_again(data: MultiDict, draft: RebillDraft) -> RebillDraft:
    """The draft with what was posted, to show a refused re-bill form again as it was typed
    (each value cut to its field's length, control characters left out; removed and blank
    rows dropped)."""
    chosen = set(data.getlist("replace")[:len(draft.invoices)])
    invoices = []
    for invoice in draft.invoices:
        pid = invoice.public_id
        lines = []
        for row in _rows(data, pid)[:MAX_CORRECTED_LINES + 1]:
            values = _line_values(data, pid, row)
            if _used(values, data, pid, row):
                lines.append(DraftLine(shown_again(values["description"], MAX_DESCRIPTION_LENGTH),
                                       shown_again(values["quantity"], MAX_QUANTITY_TEXT),
                                       shown_again(values["price"], MAX_AMOUNT_TEXT)))
        invoices.append(replace(
            invoice, replace=pid in chosen, lines=tuple(lines),
            new_number=shown_again(first_value(data, f"number-{pid}", MAX_NUMBER_LENGTH), MAX_NUMBER_LENGTH),
            due_date=shown_again(first_value(data, f"due-{pid}", MAX_DATE_TEXT), MAX_DATE_TEXT),
        ))
    return replace(draft, invoices=tuple(invoices))
