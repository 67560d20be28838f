"""The invoice list's query arguments (`GET /invoices?status=&q=&currency=&sort=&dir=&page=`).

A list URL is bookmarked and shared, so an unknown or stale value falls back to its default
instead of failing; only what could hurt is refused: control characters anywhere (400, from
`portal.web.errors`), a search longer than `MAX_SEARCH_LENGTH`, and numbers are read as
bounded text (a page of 10**4000 would otherwise reach the database as an OFFSET).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _
from werkzeug.datastructures import MultiDict
from wtforms import StringField

from portal.domain.account.queries import (
    DEFAULT_PER_PAGE, MAX_SEARCH_LENGTH, PER_PAGE_CHOICES, SORT_KEYS, STATUS_FILTERS, InvoiceListQuery,
)
from portal.forms.fields import PortalForm, first_value, line_field, small_number

MAX_PAGE = 100_000


class InvoiceListForm(PortalForm):
    status = StringField()
    q = line_field(_("The search"), MAX_SEARCH_LENGTH)
    currency = StringField()
    sort = StringField()
    dir = StringField()
    page = StringField()
    per_page = StringField()


def invoice_list_query(args: MultiDict) -> InvoiceListQuery:
    """The list's `InvoiceListQuery`, or `InvalidInput` (400) for a search that is too long.
    A list asked for without arguments (the navigation's link) has nothing to parse: the
    defaults, as the form reads an empty query."""
    if not args:
        return InvoiceListQuery()
    return parsed_list_query(args)


LIST_ARGUMENTS = ("status", "q", "currency", "sort", "dir", "page", "per_page")


def parsed_list_query(args: MultiDict) -> InvoiceListQuery:
    """`invoice_list_query` through the form, whatever `args` holds."""
    bounded = MultiDict({name: first_value(args, name, MAX_SEARCH_LENGTH) for name in LIST_ARGUMENTS
                         if name in args})
    form = InvoiceListForm(bounded).checked()
    status, sort, direction = form.status.data or "all", form.sort.data or "priority", form.dir.data or "asc"
    currency = (form.currency.data or "").strip().upper()
    per_page = small_number(form.per_page.data, DEFAULT_PER_PAGE, max(PER_PAGE_CHOICES))
    return InvoiceListQuery(
        status=status if status in STATUS_FILTERS else "all",
        q=form.q.data or "",
        currency=currency if len(currency) == 3 and currency.isascii() and currency.isalpha() else "",
        sort=sort if sort in SORT_KEYS else "priority",
        direction=direction if direction in ("asc", "desc") else "asc",
        page=small_number(form.page.data, 1, MAX_PAGE),
        per_page=per_page if per_page in PER_PAGE_CHOICES else DEFAULT_PER_PAGE,
    )
