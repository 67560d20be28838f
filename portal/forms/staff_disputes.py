"""The staff dispute queues' query arguments (`GET /admin/disputes?tab=&status=&reason=&q=&page=`).

As with the customer's invoice list, an unknown or stale value falls back to its default; a
search longer than `MAX_QUEUE_SEARCH_LENGTH` or with control characters is refused (400).
"""

from __future__ import annotations

from werkzeug.datastructures import MultiDict
from wtforms import StringField

from portal.domain.disputes.queries import MAX_QUEUE_SEARCH_LENGTH, QUEUE_STATUS_FILTERS, QUEUE_TABS, QueueQuery
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
