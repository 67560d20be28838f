"""The payments history, a page of 25 at a time, newest first, with a constant number of queries."""

from __future__ import annotations


from tests.support.factories import make_allocated_payment, make_invoice, sign_in
from tests.support.paying import make_company


def _payments(db, clock, company, count, step_seconds=1):
    made = []
    for _ in range(count):
        invoice = make_invoice(db, clock, company.customer, total_minor=10_000)
        clock.advance(seconds=step_seconds)
        made.append(make_allocated_payment(db, clock, company.customer, [(invoice, 10_000)], status="succeeded"))
    return made


def test_pages_of_25_newest_first(client, db, clock):
    company = make_company(db, clock)
    made = _payments(db, clock, company, 30)
    sign_in(client, company.clerk, clock)

    first = client.get("/payments").get_data(as_text=True)
    second = client.get("/payments?page=2").get_data(as_text=True)

    newest_first = [p.public_id for p in reversed(made)]
    assert [pid for pid in newest_first if pid in first] == newest_first[:25]
    assert [pid for pid in newest_first if pid in second] == newest_first[25:]
    assert "Older payments" in first and "Newer payments" not in first
    assert "Newer payments" in second and "Older payments" not in second


def test_odd_page_numbers_fall_back_to_the_first_page(client, db, clock):
    company = make_company(db, clock)
    made = _payments(db, clock, company, 2)
    sign_in(client, company.clerk, clock)
    for page in ("0", "-1", "abc", "9" * 4000, "1e9"):
        body = client.get(f"/payments?page={page}").get_data(as_text=True)
        assert all(p.public_id in body for p in made), page
    assert "No older payments" in client.get("/payments?page=7").get_data(as_text=True)


def test_the_history_costs_the_same_queries_for_5_or_60_payments(app, client, db, clock):
    from sqlalchemy import event

    company = make_company(db, clock)
    sign_in(client, company.clerk, clock)

    def statements() -> int:
        seen = []
        engine = app.extensions["portal"].engine
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get("/payments").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    # The clock stands still, so the session's "last seen" refresh (once a minute) stays out.
    _payments(db, clock, company, 5, step_seconds=0)
    few = statements()
    _payments(db, clock, company, 55, step_seconds=0)
    many = statements()
    assert few == many
    # The sign-in check, the page of payments (their bank debits joined), and their allocations
    # with the invoices' numbers; SQLite adds its BEGIN.
    sqlite = app.extensions["portal"].engine.dialect.name == "sqlite"
    assert many == 3 + sqlite
