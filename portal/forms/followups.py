"""The clerk's "There's a problem" forms: "we already paid it", "it's waiting for approval on
our side", and answering on a report; and the staff forms of a follow-up.

Only the fields named here are read, each bounded before anything else happens (a cut far
above its limit, then the field's own validator): the form's token, the invoices' public ids,
dates as `YYYY-MM-DD`, the amount as text (parsed by the domain with the invoices' currency),
one-line method and reference, multi-line answers and notes. Control characters are refused in
every single-line field (SECURITY.md A14).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _
from werkzeug.datastructures import MultiDict

from portal.domain.followups.policy import MAX_ANSWER_LENGTH, MAX_INVOICES_PER_REPORT, MAX_REFERENCE_LENGTH
from portal.forms import InvalidInput
from portal.forms.fields import PortalForm, first_value, has_control_characters, line_field
from portal.forms.payments import invoice_ids
from portal.forms.promises import NO_DATE, promised_date

MAX_AMOUNT_TEXT = 32


class AlreadyPaidForm(PortalForm):
    request_key = line_field("The form's token", 64)
    amount = line_field("The amount", MAX_AMOUNT_TEXT)
    method = line_field("How you paid", 20)
    reference = line_field("The reference", MAX_REFERENCE_LENGTH)
    note = line_field("The note", 500)


@dataclass(frozen=True)
class AlreadyPaidInput:
    request_key: str
    invoice_public_ids: list[str]
    paid_on: date
    amount_text: str
    method: str
    reference: str
    note: str


def report_invoice_ids(values: list[str]) -> list[str]:
    """The invoices' public ids the form or the URL names, at most `MAX_INVOICES_PER_REPORT`."""
    if len(values) > MAX_INVOICES_PER_REPORT:
        raise InvalidInput(_("A report covers at most %(count)s invoices.", count=MAX_INVOICES_PER_REPORT))
    return invoice_ids(values, MAX_INVOICES_PER_REPORT)


def report_invoice_ids_again(values: list[str]) -> list[str]:
    """For showing a refused form again: the ids that were valid, nothing when they were not."""
    try:
        return report_invoice_ids(values)
    except InvalidInput:
        return []


def _chosen(data: MultiDict) -> list[str]:
    ids = report_invoice_ids(data.getlist("invoice"))
    if not ids:
        raise InvalidInput(_("Choose at least one invoice."))
    return ids


def _date(text: str, message) -> date:
    """The date, or `InvalidInput`: `message` when it is missing or malformed."""
    try:
        return promised_date(text)
    except InvalidInput as error:
        raise InvalidInput(message if error.message is NO_DATE else error.message) from None


def already_paid_form(data: MultiDict) -> AlreadyPaidInput:
    form = AlreadyPaidForm(MultiDict({
        "request_key": first_value(data, "request_key", 64), "amount": first_value(data, "amount", MAX_AMOUNT_TEXT),
        "method": first_value(data, "method", 20), "reference": first_value(data, "reference", MAX_REFERENCE_LENGTH),
        "note": first_value(data, "note", 500),
    })).checked()
    return AlreadyPaidInput(
        form.request_key.data, _chosen(data), _date(first_value(data, "paid_on", 10), _("Enter the day you paid.")),
        form.amount.data or "", form.method.data or "", form.reference.data or "", form.note.data or "",
    )


class ApprovalForm(PortalForm):
    request_key = line_field("The form's token", 64)
    method = line_field("How you will pay", 10)
    note = line_field("The note", 500)


@dataclass(frozen=True)
class ApprovalInput:
    request_key: str
    invoice_public_ids: list[str]
    expected_date: date
    method: str
    note: str


def approval_form(data: MultiDict) -> ApprovalInput:
    form = ApprovalForm(MultiDict({
        "request_key": first_value(data, "request_key", 64), "method": first_value(data, "method", 10),
        "note": first_value(data, "note", 500),
    })).checked()
    return ApprovalInput(form.request_key.data, _chosen(data),
                         _date(first_value(data, "expected_date", 10), _("Enter the day you expect to pay.")),
                         form.method.data or "", form.note.data or "")


def paragraph(data: MultiDict, name: str, label: str, *, limit: int = MAX_ANSWER_LENGTH) -> str:
    """Multi-line text: newlines and tabs allowed, no other control character, bounded."""
    text = first_value(data, name, limit)
    if len(text) > limit:
        raise InvalidInput(_("%(label)s can be at most %(limit)s characters.", label=label, limit=limit))
    if has_control_characters(text.replace("\r\n", "\n").replace("\n", "").replace("\t", "")):
        raise InvalidInput(_("%(label)s must be plain text.", label=label))
    return text.replace("\r\n", "\n").strip()


def single_line(data: MultiDict, name: str, label: str, limit: int) -> str:
    text = first_value(data, name, limit)
    if len(text) > limit:
        raise InvalidInput(_("%(label)s can be at most %(limit)s characters.", label=label, limit=limit))
    if has_control_characters(text):
        raise InvalidInput(_("%(label)s must be one line of plain text.", label=label))
    return text.strip()
