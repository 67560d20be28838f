"""The account queries: list (filter, search, sort, pages), overview totals and aging, one
invoice, and the statement, always limited to what the access may see."""

from __future__ import annotations

from datetime import date, datetime, timedelta, UTC

import pytest

from portal.domain.payments.policy import ach_expected_by

from portal.domain.access.policy import ACCOUNT, INVOICES, Access
from portal.domain.core.clock import today_in
from portal.domain.core.errors import NotFound
from portal.domain.account.policy import AGING_BUCKETS, aging_bucket
from portal.domain.account.queries import (
    InvoiceListQuery, account_overview, invoice_detail, list_invoices, open_totals, statement_of_account,
)
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice,
)


def whole_account(customer, contact=None) -> Access:
    return Access(customer_id=customer.id, contact_id=contact.id if contact else 0, scope=ACCOUNT)


def numbers(page) -> list[str]:
    return [s.invoice.number for s in page.standings]


def due(today: date, days_overdue: int) -> dict:
    """Issue and due dates for an invoice `days_overdue` days past due (negative: not yet)."""
    due_date = today - timedelta(days=days_overdue)
    return {"issue_date": due_date - timedelta(days=30), "due_date": due_date}


@pytest.fixture
def today(clock) -> date:
    return clock.now().date()


@pytest.fixture
def mixed_account(db, clock, today):
    """One customer with an invoice in every state, plus another company's invoice."""
    customer = make_customer(db, clock)
    invoices = {
        "open": make_invoice(db, clock, customer, number="A-OPEN", po_number="PO-100", total_minor=10_000, **due(today, -5)),
        "overdue": make_invoice(db, clock, customer, number="A-LATE", po_number="po-200", total_minor=20_000, **due(today, 40)),
        "paid": make_invoice(db, clock, customer, number="A-PAID", total_minor=5_000, **due(today, 70)),
        "partial": make_invoice(db, clock, customer, number="A-PART", total_minor=8_000, **due(today, 10)),
        "processing": make_invoice(db, clock, customer, number="A-PROC", total_minor=3_000, **due(today, -1)),
    }
    add_invoice_entry(db, clock, invoices["paid"], "payment", -5_000, reference="ch_1")
    add_invoice_entry(db, clock, invoices["partial"], "credit_note", -3_000, reference="CN-1")
    make_allocated_payment(db, clock, customer, [(invoices["processing"], 3_000)], status="processing", method="us_bank_account")
    other = make_customer(db, clock)
    make_invoice(db, clock, other, number="B-OTHER", po_number="PO-100", total_minor=99_999, **due(today, 40))
    return customer, invoices


def test_list_shows_every_invoice_of_the_company_whoever_it_was_sent_to(db, clock, today):
    customer = make_customer(db, clock)
    first, second = make_contact(db, clock, customer), make_contact(db, clock, customer)
    sent_to_first = make_invoice(db, clock, customer, number="X-1")
    sent_to_second = make_invoice(db, clock, customer, number="X-2")
    sent_to_first.sent_to_contact_id, sent_to_second.sent_to_contact_id = first.id, second.id
    db.commit()
    make_invoice(db, clock, make_customer(db, clock), number="Y-1")

    page = list_invoices(db, whole_account(customer, first), today, InvoiceListQuery())

    assert sorted(numbers(page)) == ["X-1", "X-2"]
    assert page.counts["all"] == 2


def test_an_invoice_link_lists_only_its_invoices(db, clock, today):
    customer = make_customer(db, clock)
    linked = make_invoice(db, clock, customer, number="L-1")
    make_invoice(db, clock, customer, number="L-2")
    access = Access(customer_id=customer.id, contact_id=0, scope=INVOICES, invoice_ids=frozenset({linked.id}))

    page = list_invoices(db, access, today, InvoiceListQuery())

    assert numbers(page) == ["L-1"]
    assert page.counts == {"all": 1, "open": 1, "overdue": 0, "paid": 0}


def test_status_filters_and_their_counts(db, clock, today, mixed_account):
    customer, _ = mixed_account
    access = whole_account(customer)

    def listed(status):
        return sorted(numbers(list_invoices(db, access, today, InvoiceListQuery(status=status))))

    assert listed("all") == ["A-LATE", "A-OPEN", "A-PAID", "A-PART", "A-PROC"]
    assert listed("open") == ["A-LATE", "A-OPEN", "A-PART", "A-PROC"]
    assert listed("overdue") == ["A-LATE", "A-PART"]
    assert listed("paid") == ["A-PAID"]
    page = list_invoices(db, access, today, InvoiceListQuery(status="overdue"))
    assert page.counts == {"all": 5, "open": 4, "overdue": 2, "paid": 1}
    assert page.total == 2


def test_standings_on_the_list_tell_paid_partial_and_processing_apart(db, clock, today, mixed_account):
    customer, _ = mixed_account
    page = list_invoices(db, whole_account(customer), today, InvoiceListQuery())
    by_number = {s.invoice.number: s for s in page.standings}

    assert by_number["A-PAID"].status == "paid"
    assert by_number["A-PART"].is_partly_paid and by_number["A-PART"].balance.minor == 5_000
    assert by_number["A-PROC"].status == "processing" and by_number["A-PROC"].payable.minor == 0
    assert by_number["A-LATE"].status == "overdue" and by_number["A-LATE"].days_overdue == 40
    assert by_number["A-OPEN"].status == "open"


def test_search_matches_invoice_or_po_number_without_case_and_treats_wildcards_literally(db, clock, today, mixed_account):
    customer, _ = mixed_account
    access = whole_account(customer)

    def found(text):
        return sorted(numbers(list_invoices(db, access, today, InvoiceListQuery(q=text))))

    assert found("a-pa") == ["A-PAID", "A-PART"]
    assert found("PO-2") == ["A-LATE"]  # stored as "po-200"
    assert found("po-100") == ["A-OPEN"]  # the other company's PO-100 stays invisible
    assert found("%") == [] and found("_") == []
    page = list_invoices(db, access, today, InvoiceListQuery(q="A-P"))
    assert page.counts["all"] == 3


def test_sorting_by_each_key_and_direction(db, clock, today, mixed_account):
    customer, _ = mixed_account
    access = whole_account(customer)

    def order(sort, direction="asc"):
        return numbers(list_invoices(db, access, today, InvoiceListQuery(sort=sort, direction=direction)))

    # priority: unpaid first, oldest due first; paid last
    assert order("priority") == ["A-LATE", "A-PART", "A-PROC", "A-OPEN", "A-PAID"]
    assert order("due") == ["A-PAID", "A-LATE", "A-PART", "A-PROC", "A-OPEN"]
    assert order("due", "desc") == list(reversed(order("due")))
    assert order("number") == ["A-LATE", "A-OPEN", "A-PAID", "A-PART", "A-PROC"]
    assert order("total", "desc") == ["A-LATE", "A-OPEN", "A-PART", "A-PAID", "A-PROC"]
    assert order("balance") == ["A-PAID", "A-PROC", "A-PART", "A-OPEN", "A-LATE"]
    assert order("issued") == order("due")  # every test invoice has 30-day terms


def test_pages_split_the_filtered_rows_and_a_page_past_the_end_shows_the_last(db, clock, today):
    customer = make_customer(db, clock)
    for n in range(30):
        make_invoice(db, clock, customer, number=f"P-{n:03d}")
    access = whole_account(customer)

    first = list_invoices(db, access, today, InvoiceListQuery(sort="number"))
    second = list_invoices(db, access, today, InvoiceListQuery(sort="number", page=2))
    beyond = list_invoices(db, access, today, InvoiceListQuery(sort="number", page=99))

    assert (first.pages, len(first.standings), first.has_next, first.has_previous) == (2, 25, True, False)
    assert numbers(second) == [f"P-{n:03d}" for n in range(25, 30)]
    assert (second.first_row, second.last_row, second.has_next) == (26, 30, False)
    assert beyond.page == 2 and numbers(beyond) == numbers(second)


def test_currency_filter_narrows_the_rows_and_the_counts(db, clock, today):
    customer = make_customer(db, clock)
    make_invoice(db, clock, customer, number="C-USD", currency="USD")
    make_invoice(db, clock, customer, number="C-JPY", currency="JPY", total_minor=50_000)
    access = whole_account(customer)

    page = list_invoices(db, access, today, InvoiceListQuery(currency="JPY"))

    assert numbers(page) == ["C-JPY"]
    assert page.counts["all"] == 1
    assert page.currencies == ["JPY", "USD"]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, InvoiceListQuery()),
        ({"status": "bogus", "sort": "id; drop", "dir": "up", "page": "-3", "per_page": "7"}, InvoiceListQuery()),
        ({"page": "two"}, InvoiceListQuery()),
        ({"status": "paid", "sort": "total", "dir": "desc", "page": "3", "per_page": "50", "q": "  INV  ", "currency": "jpy"},
         InvoiceListQuery(status="paid", sort="total", direction="desc", page=3, per_page=50, q="INV", currency="JPY")),
        ({"currency": "dollars", "q": "x" * 200}, InvoiceListQuery(q="x" * 60)),
    ],
)
def test_query_arguments_are_checked_and_fall_back_to_defaults(params, expected):
    assert InvoiceListQuery.from_params(params) == expected


def test_query_links_leave_defaults_out_and_headers_flip_the_direction():
    query = InvoiceListQuery(status="open", sort="due", direction="asc", page=3)
    assert query.params(page=1) == {"status": "open", "sort": "due"}
    assert query.sorted_by("due") == {"status": "open", "sort": "due", "dir": "desc"}
    assert query.sorted_by("total") == {"status": "open", "sort": "total"}


@pytest.mark.parametrize(
    "days, key",
    [(-10, "current"), (0, "current"), (1, "days_1_30"), (30, "days_1_30"), (31, "days_31_60"),
     (60, "days_31_60"), (61, "days_61_90"), (90, "days_61_90"), (91, "days_over_90"), (4000, "days_over_90")],
)
def test_aging_bucket_boundaries(days, key):
    assert aging_bucket(days).key == key


def test_overview_totals_per_currency_with_aging_buckets(db, clock, today):
    customer = make_customer(db, clock)
    for days, amount in [(-3, 100), (0, 200), (1, 400), (30, 800), (31, 1_600), (60, 3_200),
                         (61, 6_400), (90, 12_800), (91, 25_600)]:
        make_invoice(db, clock, customer, total_minor=amount, **due(today, days))
    partly_credited = make_invoice(db, clock, customer, total_minor=10_000, **due(today, 5))
    add_invoice_entry(db, clock, partly_credited, "credit_note", -9_000)
    paid = make_invoice(db, clock, customer, total_minor=7_777, **due(today, 50))
    add_invoice_entry(db, clock, paid, "payment", -7_777)
    in_flight = make_invoice(db, clock, customer, total_minor=5_000, **due(today, 2))
    make_allocated_payment(db, clock, customer, [(in_flight, 2_000)], status="processing")
    make_invoice(db, clock, customer, currency="JPY", total_minor=12_500, **due(today, 45))
    make_invoice(db, clock, make_customer(db, clock), total_minor=1_000_000, **due(today, 45))

    overview = account_overview(db, whole_account(customer), today)

    assert [t.currency for t in overview.totals] == ["JPY", "USD"]
    jpy, usd = overview.totals
    aging = {bucket.key: amount.minor for bucket, amount in usd.aging}
    assert aging == {
        "current": 300, "days_1_30": 400 + 800 + 1_000 + 5_000, "days_31_60": 1_600 + 3_200,
        "days_61_90": 6_400 + 12_800, "days_over_90": 25_600,
    }
    assert usd.open.minor == sum(aging.values())
    assert usd.overdue.minor == usd.open.minor - 300
    assert (usd.open_count, usd.overdue_count, usd.processing_count) == (11, 9, 1)
    assert usd.in_flight.minor == 2_000 and usd.payable.minor == usd.open.minor - 2_000
    assert jpy.open.format() == "¥12,500"
    assert dict((b.key, m.minor) for b, m in jpy.aging)["days_31_60"] == 12_500
    assert [s.days_overdue for s in overview.most_overdue] == [91, 90, 61, 60, 45]  # any currency


def test_overview_of_a_paid_up_account_is_empty(db, clock, today):
    customer = make_customer(db, clock)
    paid = make_invoice(db, clock, customer, total_minor=1_000)
    add_invoice_entry(db, clock, paid, "payment", -1_000)
    overview = account_overview(db, whole_account(customer), today)
    assert overview.is_all_paid and overview.most_overdue == []


def test_days_overdue_count_in_the_customers_time_zone(db, clock):
    # 14:30 UTC on 15 June is already 16 June in Auckland, still 15 June in New York.
    auckland = make_customer(db, clock, timezone="Pacific/Auckland")
    new_york = make_customer(db, clock, timezone="America/New_York")
    due_on_15th = {"issue_date": date(2026, 5, 16), "due_date": date(2026, 6, 15)}
    make_invoice(db, clock, auckland, **due_on_15th)
    make_invoice(db, clock, new_york, **due_on_15th)

    def standing(customer):
        page = list_invoices(db, whole_account(customer), today_in(clock, customer.timezone), InvoiceListQuery())
        return page.standings[0]

    assert (standing(auckland).status, standing(auckland).days_overdue) == ("overdue", 1)
    assert (standing(new_york).status, standing(new_york).days_overdue) == ("open", 0)


def test_invoice_detail_has_lines_history_with_running_balance_and_pending_payments(db, clock, today):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, po_number="PO-9",
                           lines=[("Widgets", 3, 2_500), ("Setup fee", 1, 5_000)])
    clock.advance(days=1)
    add_invoice_entry(db, clock, invoice, "credit_note", -2_500, reference="CN-7")
    clock.advance(days=1)
    add_invoice_entry(db, clock, invoice, "payment", -4_000, reference="ch_42")
    ach = make_allocated_payment(db, clock, customer, [(invoice, 1_000)], status="processing", method="us_bank_account")
    make_allocated_payment(db, clock, customer, [(invoice, 500)], status="failed")
    expected_by = ach_expected_by(ach.created_at.date()).strftime("%d %b %Y")

    detail = invoice_detail(db, whole_account(customer), invoice.public_id, today)

    assert [(line.description, line.amount.minor) for line in detail.lines] == [("Widgets", 7_500), ("Setup fee", 5_000)]
    assert [(row.kind, row.amount.minor, row.balance_after.minor) for row in detail.history] == [
        ("issued", 12_500, 12_500), ("credit_note", -2_500, 10_000), ("payment", -4_000, 6_000),
    ]
    assert [row.reference for row in detail.applied] == ["CN-7", "ch_42"]
    assert [(str(p.label), p.amount.minor, p.method) for p in detail.pending] == [
        (f"Processing, expected by {expected_by}", 1_000, "bank transfer (ACH)"),  # a bank debit takes days
    ]
    assert (detail.standing.balance.minor, detail.standing.payable.minor) == (6_000, 5_000)


def test_invoice_detail_is_not_found_outside_the_access(db, clock, today):
    customer, other = make_customer(db, clock), make_customer(db, clock)
    mine = make_invoice(db, clock, customer)
    theirs = make_invoice(db, clock, other)
    link_access = Access(customer_id=customer.id, contact_id=0, scope=INVOICES, invoice_ids=frozenset({mine.id}))
    also_mine = make_invoice(db, clock, customer)

    with pytest.raises(NotFound):
        invoice_detail(db, whole_account(customer), theirs.public_id, today)
    with pytest.raises(NotFound):
        invoice_detail(db, link_access, also_mine.public_id, today)
    with pytest.raises(NotFound):
        invoice_detail(db, whole_account(customer), "no-such-id", today)
    assert invoice_detail(db, link_access, mine.public_id, today).invoice.id == mine.id


def test_statement_lists_open_invoices_by_currency_and_its_totals_agree_with_the_rows(db, clock, today):
    customer = make_customer(db, clock)
    for days in (-5, 3, 35, 65, 120):
        make_invoice(db, clock, customer, total_minor=1_000 + days, **due(today, days))
    make_invoice(db, clock, customer, currency="EUR", total_minor=4_200, **due(today, 12))
    paid = make_invoice(db, clock, customer, total_minor=999)
    add_invoice_entry(db, clock, paid, "payment", -999)

    statement = statement_of_account(db, whole_account(customer), today)

    assert [section.currency for section in statement.sections] == ["EUR", "USD"]
    usd = statement.sections[1]
    assert [s.days_overdue for s in usd.standings] == [120, 65, 35, 3, 0]
    for section in statement.sections:
        by_bucket = {bucket.key: 0 for bucket in AGING_BUCKETS}
        for standing in section.standings:
            by_bucket[aging_bucket(standing.days_overdue).key] += standing.balance.minor
        assert {bucket.key: amount.minor for bucket, amount in section.totals.aging} == by_bucket
        assert section.totals.open.minor == sum(s.balance.minor for s in section.standings)


def test_statement_of_a_paid_up_account_is_empty(db, clock, today):
    customer = make_customer(db, clock)
    assert statement_of_account(db, whole_account(customer), today).is_empty
    assert open_totals(db, whole_account(customer), today) == []


def test_entries_of_other_customers_never_change_a_balance(db, clock, today):
    """The balance subqueries are narrowed by the access scope; the totals must not move."""
    customer, other = make_customer(db, clock), make_customer(db, clock)
    invoice = make_invoice(db, clock, customer, total_minor=1_000)
    theirs = make_invoice(db, clock, other, total_minor=1_000)
    add_invoice_entry(db, clock, theirs, "credit_note", -600)
    page = list_invoices(db, whole_account(customer), today, InvoiceListQuery())
    assert [(s.invoice.id, s.balance.minor) for s in page.standings] == [(invoice.id, 1_000)]


def test_timestamps_in_history_are_aware(db, clock, today):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer)
    detail = invoice_detail(db, whole_account(customer), invoice.public_id, today)
    assert detail.history[0].at == datetime(2026, 6, 15, 14, 30, tzinfo=UTC)
