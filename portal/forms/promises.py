"""The promise forms: making one (`POST /promises`) and moving its date.

Only the fields named here are read, each bounded before anything else happens: the form's
token, the invoices' public ids, the date (`YYYY-MM-DD`, what a date input sends), how they
will pay (one of the listed codes) and the note (one line). The domain checks the date against
the policy and the invoices against the account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _
from werkzeug.datastructures import MultiDict

from portal.domain.promises.models import MAX_NOTE_LENGTH
from portal.domain.promises.policy import MAX_INVOICES_PER_PROMISE
from portal.forms import InvalidInput
from portal.forms.fields import PortalForm, first_value, line_field, small_number
from portal.forms.payments import invoice_ids

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# What a missing or malformed date is told (forms that ask another question about the date
# recognise it and ask theirs instead).
NO_DATE = _("Choose the date you will pay (day, month and year).")


class MakePromiseForm(PortalForm):
    request_key = line_field(_("The form's token"), 64)
    method = line_field(_("How you will pay"), 10)
    note = line_field(_("The note"), MAX_NOTE_LENGTH)


@dataclass(frozen=True)
class PromiseInput:
    request_key: str
    invoice_public_ids: list[str]
    promised_date: date
    method: str
    note: str


def promised_date(text: str) -> date:
    """A calendar date from `YYYY-MM-DD` text, or `InvalidInput`."""
    text = (text or "").strip()
    if not _ISO_DATE.fullmatch(text):
        raise InvalidInput(NO_DATE)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(_("That date does not exist.")) from None


def make_promise_form(data: MultiDict) -> PromiseInput:
    form = MakePromiseForm(MultiDict({
        "request_key": first_value(data, "request_key", 64), "method": first_value(data, "method", 10),
        "note": first_value(data, "note", MAX_NOTE_LENGTH),
    })).checked()
    ids = invoice_ids(data.getlist("invoice"), MAX_INVOICES_PER_PROMISE)
    if not ids:
        raise InvalidInput(_("Choose at least one invoice to promise."))
    return PromiseInput(form.request_key.data, ids, promised_date(first_value(data, "date", 10)),
                        form.method.data, form.note.data or "")


def move_promise_form(data: MultiDict) -> date:
    return promised_date(first_value(data, "date", 10))


def staff_promise_query(args: MultiDict, filters: tuple[str, ...], max_page: int) -> tuple[str, int]:
    """(state filter, page) of the staff list; anything unknown is the default (URLs are shared)."""
    status = first_value(args, "status", 20).strip()
    return (status if status in filters else "all"), small_number(args.get("page"), 1, max_page)
