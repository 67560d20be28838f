"""The forms of the "we need a PO" and "I'm not the right person" follow-ups, customer and
staff side.

Only the fields named here are read, each cut far above its limit before anything else
happens; the owning areas' parsers (`invoicing.policy.parse_po_request`,
`customers.policy.parse_named_contact`) then check them. The invoices come as public ids in
`invoices` (repeated, or comma-separated, as the "There's a problem" menu and the emails link
them) or `invoice`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _
from werkzeug.datastructures import MultiDict

from portal.domain.customers.policy import NamedContact, parse_named_contact
from portal.domain.invoicing.policy import PoRequest, parse_po_request
from portal.forms import InvalidInput
from portal.forms.fields import first_value, has_control_characters
from portal.forms.payments import PUBLIC_ID

MAX_INVOICES = 20
RAW_LIMIT = 1000
NOT_YOURS = _("One of these invoices is not part of your account.")


def named_invoice_ids(data: MultiDict, limit: int = MAX_INVOICES) -> list[str]:
    """The public ids in `invoices` / `invoice`, in order, each checked, at most `limit`."""
    values = [value for name in ("invoices", "invoice") for value in data.getlist(name)[: limit + 1]]
    ids: list[str] = []
    for value in values:
        if not isinstance(value, str) or len(value) > (limit + 1) * 24:
            raise InvalidInput(NOT_YOURS)
        ids.extend(part.strip() for part in value.split(",") if part.strip())
    if len(ids) > limit:
        raise InvalidInput(_("Choose at most %(count)s invoices at once.", count=limit))
    for public_id in ids:
        if not PUBLIC_ID.fullmatch(public_id):
            raise InvalidInput(NOT_YOURS)
    return list(dict.fromkeys(ids))


def _text(data: MultiDict, name: str, limit: int = RAW_LIMIT) -> str:
    return first_value(data, name, limit)


def request_key(data: MultiDict) -> str:
    return _text(data, "request_key", 64)


def note(data: MultiDict, limit: int = 1000) -> str:
    value = _text(data, "note", limit)
    if len(value) > limit:
        raise InvalidInput(_("The note can be at most %(limit)s characters.", limit=limit))
    if has_control_characters(value):
        raise InvalidInput(_("The note must be one line of plain text."))
    return value.strip()


@dataclass(frozen=True)
class PoReport:
    request_key: str
    invoice_public_ids: list[str]
    request: PoRequest
    note: str


def po_report_form(data: MultiDict) -> PoReport:
    ids = named_invoice_ids(data)
    return PoReport(request_key(data), ids, parse_po_request(_text(data, "po_number"), _text(data, "issuer_name"),
                                                             _text(data, "issuer_email")), note(data))


@dataclass(frozen=True)
class ContactReportInput:
    request_key: str
    invoice_public_ids: list[str]
    named: NamedContact
    reporter_left: bool
    note: str


def contact_report_form(data: MultiDict) -> ContactReportInput:
    ids = named_invoice_ids(data)
    named = parse_named_contact(_text(data, "name"), _text(data, "email"))
    return ContactReportInput(request_key(data), ids, named, _text(data, "i_left", 3) == "yes", note(data))


def staff_po_number(data: MultiDict) -> str:
    """The PO staff apply (checked by `invoicing.policy.parse_po_number` in the service)."""
    return _text(data, "po_number")


def staff_reason(data: MultiDict) -> str:
    value = _text(data, "reason", 2000)
    if len(value) > 1000:
        raise InvalidInput("The reason can be at most 1000 characters.")
    return value
