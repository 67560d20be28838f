"""The AR dashboard page (`/admin/ar`, VIEW_REPORTS): the figures of the known ledger as staff
read them, the charts with their numbers as tables, who may open it, and its fixed statement
count whatever the data size."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from portal.domain.staff.states import StaffRole
from tests.integration.reports.test_ar_dashboard import NOW, ledger, settle  # noqa: F401  (the known ledger)
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, staff_sign_in
from tests.support.promises import make_test_promise
from tests.web.account.test_account_query_counts import counted_statements


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</', html, re.S)
    assert found, f"no element {element_id}"
    return " ".join(found.group(1).split())


def _rows(html: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table class="data" id="{table_id}">(.*?)</table>', html, re.S)
    assert table, f"no table {table_id}"
    body = table.group(1).split("<tbody>")[1]
    return [[" ".join(re.sub(r"<[^>]+>", "", cell).split()) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_a_supervisor_reads_the_figures_per_currency(client, db, clock, ledger):  # noqa: F811
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    response = client.get("/admin/ar")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _rows(html, "aging-USD") == [["Current", "$6.00"], ["1–30 days", "$3.00"], ["31–60 days", "$7.00"],
                                        ["61–90 days", "$0.00"], ["90+ days", "$0.00"]]
    assert _text(html, "dso-USD") == "46.0 days"
    assert _text(html, "best-dso-USD") == "22.8 days"  # 600 / 2,000 × 76
    assert _text(html, "cei-last-USD") == "7.1 %"  # 100 / 1,400
    assert _text(html, "cei-this-USD") == "23.1 %"  # 300 / 1,300
    assert _text(html, "collected-USD") == "$3.00"
    assert _text(html, "dso-EUR") == "15.0 days" and _text(html, "cei-this-EUR") == "—"
    assert _text(html, "collected-EUR") == "€0.00"
    # Every chart is an image with a name, its numbers also in a table with a caption.
    charts = re.findall(r'<svg class="bar-chart" id="([^"]+)" role="img" aria-labelledby="\1-title"', html)
    assert sorted(charts) == ["aging-chart-EUR", "aging-chart-USD", "forecast-chart-EUR", "forecast-chart-USD"]
    assert html.count("<caption>") == html.count('<table class="data"') == 5
    # The aging bars: 31–60 (700) is the longest, drawn full; current (600) six sevenths of it.
    usd_chart = re.search(r'id="aging-chart-USD".*?</svg>', html, re.S).group(0)
    assert re.findall(r'<rect [^>]*width="(\d+)"', usd_chart) == ["86", "43", "100", "0", "0"]
    assert "<script" not in usd_chart


def test_the_forecast_and_the_behaviour_figures(client, db, clock, ledger):  # noqa: F811
    _customer, contact, invoices = ledger
    make_test_promise(db, clock, contact, [invoices["b"]], days=3)
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.ADMIN), clock)
    html = client.get("/admin/ar").get_data(as_text=True)
    forecast = _rows(html, "forecast-USD")
    assert len(forecast) == 8 and forecast[0][0].startswith("2026-W25")
    assert forecast[0][1:] == ["$0.00", "$6.00"]  # B's 600 promised for 18 June
    assert all(row[1:] == ["$0.00", "$0.00"] for row in forecast[1:])
    behaviour = dict((row[0], row[1]) for row in _rows(html, "behaviour"))
    assert behaviour["Promises kept, last 90 days"] == "0 (—)"
    assert behaviour["Reminder emails sent, last 30 days"] == "0"
    assert _text(html, "dead-count") == "0"


def test_an_empty_portal_shows_no_invoices_and_dashes(client, db, clock):
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    html = client.get("/admin/ar").get_data(as_text=True)
    assert "No invoices yet." in html
    assert _text(html, "dispute-median") == "—"


@pytest.mark.parametrize(("role", "allowed"), [(StaffRole.ADMIN, True), (StaffRole.SUPERVISOR, True),
                                               (StaffRole.ANALYST, False), (StaffRole.COLLECTOR, False)])
def test_only_roles_that_view_reports_open_it_and_see_the_link(client, db, clock, role, allowed):
    staff_sign_in(client, make_staff(db, clock, role=role), clock)
    assert client.get("/admin/ar").status_code == (200 if allowed else 403)
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert ('href="/admin/ar"' in dashboard) is allowed


def test_the_page_costs_the_same_statements_whatever_the_data_size(engine, client, db, clock):
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    client.get("/admin/ar")

    def count() -> int:
        with counted_statements(engine) as statements:
            assert client.get("/admin/ar").status_code == 200
        return len(statements)

    def add_customer(n: int) -> None:
        customer = make_customer(db, clock)
        contact = make_contact(db, clock, customer)
        invoice = make_invoice(db, clock, customer, total_minor=1_000 + n, currency=("USD", "EUR", "JPY")[n % 3],
                               issue_date=date(2026, 6, 1) - timedelta(days=20 * n))
        settle(db, clock, customer, invoice, 100, NOW - timedelta(days=n))
        clock.set(NOW)
        make_test_promise(db, clock, contact, [invoice], days=5)

    add_customer(0)
    db.commit()
    small = count()
    for n in range(1, 15):
        add_customer(n)
    db.commit()
    assert count() == small
