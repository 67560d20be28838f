"""The account pages read maintained sums and index ranges; what they show must equal a plain
recomputation over the customer's invoices, for every tab, sort, direction and page.

The account has due dates on both sides of every aging boundary, several invoices per due
date, three currencies, and every state an invoice can be in (open, partly paid, paid,
credited to zero, ACH in flight). The expected figures are computed here in Python from the
invoices' rows, with `policy.aging_bucket` deciding each invoice's bucket.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.account.policy import AGING_BUCKETS, aging_bucket
from portal.domain.account.queries import (
    SORT_KEYS, STATUS_FILTERS, InvoiceListQuery, _counted_by_currency, _summed_open_totals, list_invoices,
    open_totals,
)
from portal.domain.invoicing.models import Invoice
from tests.support.factories import add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice

# Days from today to the due date: both sides of 0, 30, 60, 90 and far back.
DUE_OFFSETS = (-400, -200, -91, -90, -89, -61, -60, -31, -30, -1, 0, 1, 14, 45)


@pytest.fixture
def account(db, clock):
    customer = make_customer(db, clock)
    contact = make_contact(db, clock, customer)
    other = make_customer(db, clock)  # another company's invoices must not count
    make_invoice(db, clock, other, due_date=clock.now().date() - timedelta(days=5))
    today = clock.now().date()
    for n in range(3 * len(DUE_OFFSETS)):
        due = today + timedelta(days=DUE_OFFSETS[n % len(DUE_OFFSETS)])
        invoice = make_invoice(db, clock, customer, currency=("USD", "EUR", "JPY")[n % 3],
                               total_minor=1_000 + 37 * n, issue_date=due - timedelta(days=30 + n % 4),
                               due_date=due)
        shape = n % 6
        if shape == 1:
            add_invoice_entry(db, clock, invoice, "payment", -400, reference=f"ch_{n}")
        elif shape == 2:
            add_invoice_entry(db, clock, invoice, "payment", -invoice.total_minor)
        elif shape == 3:
            make_allocated_payment(db, clock, customer, [(invoice, invoice.total_minor)], method="us_bank_account")
        elif shape == 4:
            add_invoice_entry(db, clock, invoice, "credit_note", -invoice.total_minor)
        elif shape == 5:
            make_allocated_payment(db, clock, customer, [(invoice, 100)])
    return Access(customer_id=customer.id, contact_id=contact.id, scope=ACCOUNT), today


def _invoices(db, customer_id: int) -> list[Invoice]:
    db.expire_all()  # the triggers moved the balances after the factories loaded the rows
    return list(db.scalars(select(Invoice).where(Invoice.customer_id == customer_id)))


def test_overview_totals_equal_the_invoices_added_up(db, account):
    access, today = account
    expected = {}
    for invoice in _invoices(db, access.customer_id):
        if invoice.balance_minor <= 0:
            continue
        days = (today - invoice.due_date).days
        row = expected.setdefault(invoice.currency, {
            "open_count": 0, "overdue_count": 0, "processing_count": 0, "open": 0, "overdue": 0,
            "in_flight": 0, "aging": dict.fromkeys((b.key for b in AGING_BUCKETS), 0)})
        row["open_count"] += 1
        row["overdue_count"] += days > 0
        row["processing_count"] += invoice.in_flight_minor > 0
        row["open"] += invoice.balance_minor
        row["overdue"] += invoice.balance_minor if days > 0 else 0
        row["in_flight"] += invoice.in_flight_minor
        row["aging"][aging_bucket(days).key] += invoice.balance_minor

    totals = open_totals(db, access, today)

    shown = {t.currency: {
        "open_count": t.open_count, "overdue_count": t.overdue_count, "processing_count": t.processing_count,
        "open": t.open.minor, "overdue": t.overdue.minor, "in_flight": t.in_flight.minor,
        "aging": {bucket.key: money.minor for bucket, money in t.aging}} for t in totals}
    assert [t.currency for t in totals] == sorted(expected)
    assert shown == expected
    assert all(sum(expected[c]["aging"].values()) == expected[c]["open"] for c in expected)
    assert totals == _summed_open_totals(db, access, today)


@pytest.mark.parametrize("days_later", [0, 1, 31, 95])
def test_tab_counts_equal_the_invoices_counted(db, account, days_later):
    access, today = account
    today += timedelta(days=days_later)  # the same sums, read on another day
    expected = {}
    for invoice in _invoices(db, access.customer_id):
        row = expected.setdefault(invoice.currency, dict.fromkeys(STATUS_FILTERS, 0))
        is_open = invoice.balance_minor > 0
        row["all"] += 1
        row["open"] += is_open
        row["overdue"] += is_open and invoice.due_date < today
        row["paid"] += not is_open

    page = list_invoices(db, access, today, InvoiceListQuery())

    assert page.currencies == sorted(expected)
    assert page.counts == {status: sum(row[status] for row in expected.values()) for status in STATUS_FILTERS}
    assert _counted_by_currency(db, access, today, "") == [
        {"currency": currency, **expected[currency]} for currency in sorted(expected)]
    assert open_totals(db, access, today) == _summed_open_totals(db, access, today)


def _expected_order(invoices: list[Invoice], status: str, sort: str, direction: str, today: date) -> list[int]:
    def matches(invoice: Invoice) -> bool:
        is_open = invoice.balance_minor > 0
        return {"all": True, "open": is_open, "overdue": is_open and invoice.due_date < today,
                "paid": not is_open}[status]

    chosen = [invoice for invoice in invoices if matches(invoice)]
    if sort == "priority":
        chosen.sort(key=lambda i: (0, i.due_date.toordinal(), -i.id) if i.balance_minor > 0
                    else (1, -i.due_date.toordinal(), -i.id))
    else:
        column = {"due": "due_date", "issued": "issue_date", "number": "number", "total": "total_minor",
                  "balance": "balance_minor"}[sort]
        chosen.sort(key=lambda i: (getattr(i, column), i.id), reverse=direction == "desc")
    return [invoice.id for invoice in chosen]


@pytest.mark.parametrize("status", STATUS_FILTERS)
def test_every_page_of_every_order_holds_the_expected_rows(db, account, status):
    access, today = account
    invoices = _invoices(db, access.customer_id)
    per_page = 25
    for sort in SORT_KEYS:
        for direction in ("asc", "desc") if sort != "priority" else ("asc",):
            for currency in ("", "EUR"):
                expected = _expected_order([i for i in invoices if not currency or i.currency == currency],
                                           status, sort, direction, today)
                pages = max(1, -(-len(expected) // per_page))
                shown = []
                for number in range(1, pages + 2):  # one past the end: the last page again
                    page = list_invoices(db, access, today, InvoiceListQuery(
                        status=status, sort=sort, direction=direction, currency=currency, page=number,
                        per_page=per_page))
                    assert page.total == len(expected) and page.pages == pages
                    if number <= pages:
                        shown += [s.invoice.id for s in page.standings]
                    else:
                        assert [s.invoice.id for s in page.standings] == expected[(pages - 1) * per_page:]
                assert shown == expected, (status, sort, direction, currency)


def test_a_search_counts_and_orders_its_matches(db, account):
    access, today = account
    invoices = _invoices(db, access.customer_id)
    # The longest piece of an invoice number that some but not all of the numbers contain
    # (numbers come from a counter shared by the whole run, so which digits they share varies).
    numbers = [i.number.lower() for i in invoices]
    pieces = sorted({n[a:b] for n in numbers for a in range(len(n)) for b in range(a + 2, len(n) + 1)},
                    key=lambda piece: (-len(piece), piece))
    needle = next(p for p in pieces if 1 < sum(p in number for number in numbers) < len(numbers))
    matching = [i for i in invoices if needle in i.number.lower()]

    page = list_invoices(db, access, today, InvoiceListQuery(q=needle))

    assert 1 < len(matching) < len(invoices)
    assert page.counts["all"] == len(matching)
    assert [s.invoice.id for s in page.standings] == _expected_order(matching, "all", "priority", "asc", today)
