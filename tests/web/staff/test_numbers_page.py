"""The supervisors' numbers page (`/admin/numbers`, VIEW_REPORTS): its tables with a few disputes
in known states, who may open it and who sees the link, and its fixed statement count."""

from __future__ import annotations

import re

import pytest

from portal.domain.staff.states import StaffRole
from tests.integration.disputes.test_dispute_numbers import history  # noqa: F401  (the disputes in known states)
from tests.support.disputes import raise_test_dispute
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, staff_sign_in
from tests.web.account.test_account_query_counts import counted_statements


def _row(html: str, table_id: str, header: str) -> list[str]:
    """The cells after the row header `header` in the table with `table_id`."""
    table = re.search(rf'<table class="data" id="{table_id}">(.*?)</table>', html, re.S)
    assert table, f"no table {table_id}"
    row = re.search(rf'<tr><th scope="row">{re.escape(header)}</th>(.*?)</tr>', table.group(1), re.S)
    assert row, f"no row {header!r} in {table_id}"
    return re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)


def test_a_supervisor_reads_the_numbers(client, db, clock, history):  # noqa: F811
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    response = client.get("/admin/numbers")
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    assert [_row(html, "open-by-age", label) for label in ("0–2 days", "3–7 days", "8–30 days", "Over 30 days")] \
        == [["2"], ["1"], ["1"], ["1"]]
    assert _row(html, "open-by-reason", "Pricing") == ["3"] and _row(html, "open-by-reason", "Damaged") == ["1"]
    assert _row(html, "open-by-team", "Pricing desk") == ["3"] and _row(html, "open-by-team", "Unassigned") == ["1"]
    assert _row(html, "cycle-times", "First response") == ["3", "2 h", "8 h 24 min"]
    assert _row(html, "cycle-times", "Resolution") == ["3", "10 d 0 h", "22 d 0 h"]
    assert _row(html, "sla-breaches", "First response late, decided in the last 90 days") == ["1"]
    assert _row(html, "sla-breaches", "Resolution late, decided in the last 90 days") == ["1"]
    assert _row(html, "sla-breaches", "Open, first response past due") == ["1"]
    assert _row(html, "sla-breaches", "Open, resolution past due") == ["1"]
    assert _row(html, "credits", "Ended with a credit") == ["2", "67%"]
    assert _row(html, "held", "USD") == ["$185.00"] and _row(html, "held", "EUR") == ["€50.00"]
    # Accessible tables: each has a caption, and headers for its columns.
    assert html.count("<caption>") == html.count('<table class="data"') == 7
    assert html.count('<th scope="col"') >= 14


def test_an_empty_portal_shows_dashes_not_errors(client, db, clock):
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    html = client.get("/admin/numbers").get_data(as_text=True)
    assert _row(html, "cycle-times", "First response") == ["0", "—", "—"]
    assert "Nothing is held." in html and "No open disputes." in html


@pytest.mark.parametrize(("role", "allowed"), [(StaffRole.ADMIN, True), (StaffRole.SUPERVISOR, True),
                                               (StaffRole.ANALYST, False), (StaffRole.COLLECTOR, False)])
def test_only_roles_that_view_reports_open_it_and_see_the_link(client, db, clock, role, allowed):
    staff_sign_in(client, make_staff(db, clock, role=role), clock)
    assert client.get("/admin/numbers").status_code == (200 if allowed else 403)
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert ('href="/admin/numbers"' in dashboard) is allowed
    assert ("Open disputes: the numbers" in dashboard) is allowed


def test_the_page_costs_the_same_statements_whatever_the_data_size(engine, client, db, clock):
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    client.get("/admin/numbers")

    def count() -> int:
        with counted_statements(engine) as statements:
            assert client.get("/admin/numbers").status_code == 200
        return len(statements)

    empty = count()
    customer = make_customer(db, clock)
    clerk = make_contact(db, clock, customer)
    for n in range(12):
        raise_test_dispute(db, clock, clerk, [make_invoice(db, clock, customer, total_minor=1_000 + n,
                                                          currency=("USD", "EUR", "GBP")[n % 3])],
                           reason=("pricing", "damaged", "tax")[n % 3])
    db.commit()
    assert count() == empty
