"""The admin's reminder page: the policy saved whole (one audit row) or refused with a message
changing nothing (bad offsets, duplicate steps, control characters, too long templates,
unknown placeholders); the preview on a real customer's invoices, escaped; pausing a customer
(collectors too, who cannot edit the policy)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.domain.core.models import AuditEntry
from portal.domain.reminders.models import CustomerReminderSettings, ReminderHoliday, ReminderStep
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, staff_sign_in
from tests.support.fixtures.links import csrf_from


def _client(app, db, clock, role="admin"):
    staff = make_staff(db, clock, role=role)
    client = app.test_client()
    staff_sign_in(client, staff, clock)
    return client


def _text(response) -> str:
    return " ".join(response.get_data(as_text=True).split())


def _form(page, steps, holidays=""):
    form = {"csrf_token": csrf_from(page), "holidays": holidays}
    for n, (offset, tone, subject, body) in enumerate(steps):
        form.update({f"offset-{n}": offset, f"tone-{n}": tone, f"subject-{n}": subject, f"body-{n}": body})
    return form


def _steps(db) -> list[tuple[int, str, str]]:
    db.commit()
    return [(row.offset_days, row.tone, row.subject)
            for row in db.scalars(select(ReminderStep).order_by(ReminderStep.offset_days))]


GOOD = [("-5", "friendly", "Coming up: {total}", "Hello {customer_name}\n\n{invoice_list}\n\n{link}"),
        ("10", "formal_demand", "Overdue {total}", "Dear {customer_name},\n{invoice_list}\n{link}")]


def test_an_admin_saves_the_policy_and_holidays_with_one_audit_row(app, db, clock):
    client = _client(app, db, clock)
    page = client.get("/admin/reminders")
    assert page.status_code == 200 and "3 days before the due date" in _text(page)  # the defaults
    response = client.post("/admin/reminders/policy", data=_form(page, GOOD, "2026-12-25\n2026-12-26"))
    assert response.status_code == 302 and response.headers["Location"] == "/admin/reminders"
    assert _steps(db) == [(-5, "friendly", "Coming up: {total}"), (10, "formal_demand", "Overdue {total}")]
    assert set(db.scalars(select(ReminderHoliday.day))) == {date(2026, 12, 25), date(2026, 12, 26)}
    assert db.scalar(select(func.count()).select_from(AuditEntry)
                     .where(AuditEntry.action == "reminder_policy.updated")) == 1
    assert "5 days before the due date" in _text(client.get("/admin/reminders"))


@pytest.mark.parametrize(("steps", "holidays", "message"), [
    ([("1.5", "firm", "S", "B")], "", "whole days"),
    ([("-61", "firm", "S", "B")], "", "whole days"),
    ([("9999", "firm", "S", "B")], "", "whole days"),
    ([("7", "firm", "S", "B"), ("7", "friendly", "T", "C")], "", "same offset"),
    ([("7", "firm", "Due\r\nBcc: x@evil.example", "B")], "", "control character"),
    ([("7", "firm", "Due", "Hi\x00")], "", "control character"),
    ([("7", "firm", "S" * 201, "B")], "", "too long"),
    ([("7", "firm", "S", "B" * 4001)], "", "too long"),
    ([("7", "firm", "S", "{{ config.SECRET_KEY }}")], "", "unknown placeholder"),
    ([("7", "shouty", "S", "B")], "", "choose a tone"),
    ([], "", "at least one step"),
    ([("7", "firm", "S", "B")], "25/12/2026", "Holidays are dates"),
    ([("7", "firm", "S", "B")], "2026-02-30", "not a date"),
])
def test_a_bad_policy_is_refused_and_changes_nothing(app, db, clock, steps, holidays, message):
    client = _client(app, db, clock)
    page = client.get("/admin/reminders")
    assert client.post("/admin/reminders/policy", data=_form(page, GOOD)).status_code == 302
    before = _steps(db)
    response = client.post("/admin/reminders/policy", data=_form(page, steps, holidays))
    assert response.status_code == 400 and message in _text(response)
    assert _steps(db) == before
    assert db.scalar(select(func.count()).select_from(ReminderHoliday)) == 0
    assert db.scalar(select(func.count()).select_from(AuditEntry)
                     .where(AuditEntry.action == "reminder_policy.updated")) == 1


def test_the_preview_uses_the_customers_real_invoices_escaped_and_writes_nothing(app, db, clock):
    customer = make_customer(db, clock, name="<img src=x onerror=alert(1)> Ltd")
    make_contact(db, clock, customer)
    due = date(2026, 6, 1)
    make_invoice(db, clock, customer, number="INV-PV1", total_minor=43_210, due_date=due,
                 issue_date=due - timedelta(days=30))
    client = _client(app, db, clock)
    db.commit()
    response = client.get("/admin/reminders/preview", query_string={"customer": customer.account_number,
                                                                      "step": "7"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Overdue invoices: please pay $432.10" in html and "INV-PV1, due 01 Jun 2026: $432.10" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt; Ltd" in html
    db.rollback()
    from portal.domain.access.models import AccessLink
    assert db.scalar(select(func.count()).select_from(AccessLink)) == 0
    for query, status in (({"customer": "NOPE", "step": "7"}, 404), ({"customer": customer.account_number,
                                                                        "step": "8"}, 404),
                          ({"customer": "A\x00", "step": "7"}, 400), ({"customer": "A", "step": "x"}, 400)):
        assert client.get("/admin/reminders/preview", query_string=query).status_code == status, query


def test_a_collector_pauses_a_customer_and_sets_a_minimum_but_cannot_edit_the_policy(app, db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    client = _client(app, db, clock, role="collector")
    page = client.get("/admin/reminders")
    assert page.status_code == 200 and "Save the policy" not in _text(page)
    token = csrf_from(page)
    saved = client.post("/admin/reminders/customers", data={"csrf_token": token, "account": customer.account_number,
                                                            "paused": "1", "minimum": "50.00", "currency": "usd"})
    assert saved.status_code == 302
    db.commit()
    settings = db.get(CustomerReminderSettings, customer.id)
    assert (settings.paused, settings.minimum_minor, settings.minimum_currency) == (True, 5_000, "USD")
    assert "Paused" in _text(client.get("/admin/reminders"))
    for bad, status in (({"account": "NOPE"}, 404), ({"minimum": "1e999999"}, 400), ({"minimum": "5", "currency": "ZZZ"}, 400),
                        ({"account": "A\r\nB"}, 400), ({"account": ""}, 400)):
        response = client.post("/admin/reminders/customers", data={
            "csrf_token": token, "account": customer.account_number, "minimum": "", "currency": "", **bad})
        assert response.status_code == status, bad
    db.rollback()
    assert db.get(CustomerReminderSettings, customer.id).minimum_minor == 5_000
    assert client.post("/admin/reminders/policy", data=_form(page, GOOD)).status_code == 403
