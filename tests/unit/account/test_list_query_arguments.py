"""The invoice list's query arguments (`portal.forms.account`): a list asked for without any
reads the defaults, exactly what the form makes of an empty query."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from portal.domain.account.queries import InvoiceListQuery
from portal.domain.core.errors import DomainError
from portal.forms.account import invoice_list_query, parsed_list_query


def test_no_arguments_are_the_forms_defaults(app):
    with app.test_request_context("/invoices"):
        assert invoice_list_query(MultiDict()) == parsed_list_query(MultiDict()) == InvoiceListQuery()


def test_arguments_the_list_does_not_read_change_nothing(app):
    with app.test_request_context("/invoices?lang=fr"):
        assert invoice_list_query(MultiDict({"lang": "fr"})) == InvoiceListQuery()


def test_arguments_are_parsed_and_bounded(app):
    with app.test_request_context("/invoices"):
        query = invoice_list_query(MultiDict({"status": "overdue", "sort": "due", "dir": "desc", "page": "3",
                                              "per_page": "50", "currency": " eur ", "q": " PO-7 "}))
        assert query == InvoiceListQuery(status="overdue", q="PO-7", currency="EUR", sort="due", direction="desc",
                                         page=3, per_page=50)
        stale = invoice_list_query(MultiDict({"status": "lost", "sort": "x", "page": "9" * 400, "per_page": "7"}))
        assert stale == InvoiceListQuery(page=stale.page) and 1 <= stale.page <= 100_000
        with pytest.raises(DomainError):
            invoice_list_query(MultiDict({"q": "x" * 10_000}))
