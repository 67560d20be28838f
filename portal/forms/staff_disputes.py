"""The staff side of disputes: the queues' query arguments (`GET /admin/disputes?tab=&status=&reason=&q=&page=`).

As with the customer's invoice list, an unknown or stale value falls back to its default; a
search longer than `MAX_QUEUE_SEARCH_LENGTH` or with control characters is refused (400). And
the action forms of one dispute's page, each field bounded before it is read.
"""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict
from wtforms import StringField

from portal.domain.core.money import MAX_AMOUNT_TEXT
from portal.domain.disputes.models import MAX_MESSAGE_LENGTH
from portal.domain.disputes.queries import MAX_QUEUE_SEARCH_LENGTH, QUEUE_STATUS_FILTERS, QUEUE_TABS, QueueQuery
from portal.forms import InvalidInput
from portal.forms.fields import PortalForm, first_value, line_field, small_number

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
