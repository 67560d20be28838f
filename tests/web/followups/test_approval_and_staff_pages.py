""""It's waiting for approval on our side" through the test client (a promise made, its
refusals, a double submit, a link holder), and the staff side of every follow-up: the queues
by due time with overdue shown and bounded filters, the generic steps (assign, note, ask,
dismiss) with their refusals, kinds' own action partials, the team's queues on the team page,
and the report (a fixed number of statements whatever the data size)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from werkzeug.datastructures import MultiDict

from portal.domain.core.audit import Actor
from portal.domain.core.clock import today_in
from portal.domain.core.context import Context
from portal.domain.followups.models import Followup
from portal.domain.followups.service import raise_followup
from portal.domain.followups.states import FollowupKind, FollowupStatus
from portal.domain.notifications.models import OutboxMessage
from portal.domain.promises.models import Promise
from portal.domain.staff.models import Team
from portal.domain.staff.service import TeamDetails, create_team
from portal.domain.staff.states import StaffRole
from tests.support.factories import (
    make_contact, make_customer, make_invoice, make_invoice_link, make_staff, sign_in, staff_sign_in,
)
from tests.support.fixtures.links import csrf_from
from tests.support.followups import report_test_payment

_KEY = re.compile(r'name="request_key" value="([^"]+)"')


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    first = make_invoice(db, clock, customer, number="INV-100", total_minor=16_500)
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=8_000)
    return customer, clerk, first, second


def _approval_form(client, invoices, days, today, **fields):
    page = client.get("/problems/new/approval", query_string=[("invoice", i.public_id) for i in invoices])
    assert page.status_code == 200, page.get_data(as_text=True)
    form = MultiDict([("csrf_token", csrf_from(page)), ("request_key", _KEY.search(page.get_data(as_text=True)).group(1)),
                      ("expected_date", (today + timedelta(days=days)).isoformat()), ("method", "ach"),
                      ("note", "The CFO signs on Thursdays")] + [("invoice", i.public_id) for i in invoices])
    for name, value in fields.items():
        form[name] = value
    return form


def test_waiting_for_approval_makes_a_promise_once_and_shows_on_the_invoice(db, clock, client, acme):
    customer, clerk, first, _ = acme
    sign_in(client, clerk, clock)
    today = today_in(clock, customer.timezone)
    form = _approval_form(client, [first], 9, today)
    response = client.post("/problems/approval", data=form)
    assert response.status_code == 303
    assert client.post("/problems/approval", data=form).headers["Location"] == response.headers["Location"]
    db.commit()
    [promise] = db.scalars(select(Promise)).all()
    assert promise.promised_date == today + timedelta(days=9)
    [followup] = db.scalars(select(Followup)).all()
    assert followup.kind == FollowupKind.AWAITING_APPROVAL and followup.details["promise"] == promise.public_id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Expected payment date" in page
    assert "Promised for" in client.get(f"/invoices/{first.public_id}").get_data(as_text=True)


@pytest.mark.parametrize(("days", "fields", "message"), [
    (0, {}, "Choose a date"),
    (400, {}, "within 30 days"),
    (5, {"expected_date": "2026-13-01"}, "That date does not exist"),
    (5, {"expected_date": "tomorrow"}, "Enter the day you expect to pay"),
    (5, {"method": "barter"}, ""),
    (5, {"note": "x" * 600}, "at most 500 characters"),
    (5, {"invoice": "not/an/id"}, "not part of your account"),
])
def test_bad_approval_input_changes_nothing(db, clock, client, acme, days, fields, message):
    customer, clerk, first, _ = acme
    sign_in(client, clerk, clock)
    response = client.post("/problems/approval", data=_approval_form(client, [first], days,
                                                                     today_in(clock, customer.timezone), **fields))
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    db.commit()
    assert db.scalar(select(func.count()).select_from(Promise)) == 0
    assert db.scalar(select(func.count()).select_from(Followup)) == 0


def test_a_link_holder_cannot_report_approval_on_another_invoice(db, clock, client, acme):
    customer, clerk, first, second = acme
    sign_in(client, clerk, clock, scope="invoices", link=make_invoice_link(db, clock, clerk, [first]))
    form = _approval_form(client, [first], 5, today_in(clock, customer.timezone))
    form.add("invoice", second.public_id)
    assert client.post("/problems/approval", data=form).status_code == 404
    assert client.get("/problems/new/approval", query_string={"invoice": second.public_id}).status_code == 404


# --- staff ------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(app, db, clock):
    client = app.test_client()
    member = make_staff(db, clock, role=StaffRole.SUPERVISOR, name="Sam Supervisor")
    staff_sign_in(client, member, clock)
    client.member = member
    return client


def test_the_queues_order_by_due_time_show_overdue_and_filter_by_team_and_queue(db, clock, acme, staff_client):
    customer, clerk, first, second = acme
    member = staff_client.member
    ctx = Context(db, clock, Actor.system("test"))
    team = create_team(ctx, TeamDetails("Cash desk", "UTC", "12345", 540, 1020, followup_queues=("cash_application",)),
                       [member.id])
    older = report_test_payment(db, clock, clerk, [first])
    clock.advance(minutes=5)  # inside the staff session's idle limit
    newer = report_test_payment(db, clock, clerk, [second])
    broken, _ = raise_followup(ctx, kind=FollowupKind.PROMISE_BROKEN, customer_id=customer.id, dedupe_key="p:1")
    db.commit()
    assert (older.team_id, older.assignee_id, broken.team_id) == (team.id, member.id, None)
    mine = staff_client.get("/admin/followups").get_data(as_text=True)
    assert mine.index(older.public_id) < mine.index(newer.public_id) and broken.public_id not in mine
    clock.advance(days=5)
    staff_sign_in(staff_client, member, clock)  # the earlier session has long been idle
    overdue = staff_client.get(f"/admin/followups?scope=team:{team.public_id}").get_data(as_text=True)
    assert overdue.count('badge-overdue') == 2
    queue = staff_client.get("/admin/followups?scope=queue:collections").get_data(as_text=True)
    assert broken.public_id in queue and older.public_id not in queue
    # Unknown filters read as the defaults, never an error.
    for bad in ("scope=team:../../x", "scope=queue:nope", "status=deleted", "page=99999999", "scope=" + "x" * 5000):
        assert staff_client.get(f"/admin/followups?{bad}").status_code == 200
    assert staff_client.get("/admin/followups?scope=%00").status_code == 400  # A14, before any view


def test_generic_steps_assign_note_ask_and_dismiss_and_their_refusals(db, clock, acme, staff_client):
    customer, clerk, first, _ = acme
    followup = report_test_payment(db, clock, clerk, [first])
    other = make_staff(db, clock, role=StaffRole.COLLECTOR, name="Cory Collector")
    gone = make_staff(db, clock, role=StaffRole.COLLECTOR, name="Gone", status="deactivated")
    db.commit()
    path = f"/admin/followups/{followup.public_id}"
    token = csrf_from(staff_client.get(path))
    assert staff_client.post(f"{path}/assign", data={"csrf_token": token, "assignee": other.public_id}).status_code == 303
    assert staff_client.post(f"{path}/assign", data={"csrf_token": token, "assignee": gone.public_id}).status_code == 400
    assert staff_client.post(f"{path}/note", data={"csrf_token": token, "text": ""}).status_code == 400
    assert staff_client.post(f"{path}/note", data={"csrf_token": token, "text": "Checked the lockbox."}).status_code == 303
    assert staff_client.post(f"{path}/ask", data={"csrf_token": token, "text": "Which bank?"}).status_code == 303
    db.expire_all()
    assert db.get(Followup, followup.id).status == FollowupStatus.WAITING
    customer_page = _customer(clock, staff_client, clerk).get(f"/problems/{followup.public_id}").get_data(as_text=True)
    assert "Which bank?" in customer_page and "Checked the lockbox." not in customer_page  # notes stay internal
    assert staff_client.post(f"{path}/dismiss", data={"csrf_token": token, "reason": ""}).status_code == 400
    assert staff_client.post(f"{path}/dismiss", data={"csrf_token": token, "reason": "Duplicate."}).status_code == 303
    db.expire_all()
    closed = db.get(Followup, followup.id)
    assert (closed.status, closed.assignee_id) == (FollowupStatus.DISMISSED, other.id)
    kinds = [m.body_text for m in db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "followup_update")
                                             .order_by(OutboxMessage.id))]  # in the order they were queued
    assert len(kinds) == 2 and "Duplicate." in kinds[1]
    assert staff_client.post(f"{path}/note", data={"text": "no token"}).status_code == 400  # CSRF
    assert staff_client.post("/admin/followups/nope/note", data={"csrf_token": token, "text": "x"}).status_code == 404


def _customer(clock, staff_client, clerk):
    client = staff_client.application.test_client()
    sign_in(client, clerk, clock)
    return client


def test_a_system_follow_up_cannot_ask_a_customer_and_includes_the_kinds_own_actions(db, clock, acme, staff_client):
    customer, *_ = acme
    followup, _ = raise_followup(Context(db, clock, Actor.system("test")), kind=FollowupKind.PROMISE_BROKEN,
                                 customer_id=customer.id, dedupe_key="promise_broken:x")
    db.commit()
    path = f"/admin/followups/{followup.public_id}"
    page = staff_client.get(path)
    assert "Ask the customer" not in page.get_data(as_text=True)
    response = staff_client.post(f"{path}/ask", data={"csrf_token": csrf_from(page), "text": "Hello?"})
    assert response.status_code == 400 and "no clerk to ask" in response.get_data(as_text=True)
    response = staff_client.post(f"{path}/not-found", data={"csrf_token": csrf_from(page), "text": "?"})
    assert response.status_code == 400 and "Only a reported payment" in response.get_data(as_text=True)


def test_admins_choose_the_queues_a_team_works_on_the_team_page(app, db, clock):
    client = app.test_client()
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.ADMIN, name="Ada Admin"), clock)
    page = client.get("/admin/teams/new")
    assert 'value="cash_application"' in page.get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "name": "Collections", "timezone": "UTC", "business_days": ["1", "2"],
            "opens": "09:00", "closes": "17:00", "followup_queues": ["collections", "billing"]}
    assert client.post("/admin/teams/new", data=form).status_code == 302
    assert "Billing, Collections" in client.get("/admin/teams").get_data(as_text=True)
    db.expire_all()
    team = db.scalar(select(Team).where(Team.name == "Collections"))
    assert sorted(team.followup_queues) == ["billing", "collections"]
    form["followup_queues"] = ["nonsense"]
    form["name"] = "Other"
    assert client.post("/admin/teams/new", data=form).status_code == 400


@contextmanager
def counted_statements(engine):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_report_counts_by_kind_and_age_with_a_fixed_number_of_statements(db, clock, engine, acme, staff_client):
    customer, clerk, first, second = acme
    report_test_payment(db, clock, clerk, [first])
    db.commit()
    with counted_statements(engine) as few:
        assert staff_client.get("/admin/followups/report").status_code == 200
    for n in range(6):
        other = make_customer(db, clock, name=f"Customer {n}")
        report_test_payment(db, clock, make_contact(db, clock, other), [make_invoice(db, clock, other)])
    db.commit()
    with counted_statements(engine) as many:
        response = staff_client.get("/admin/followups/report")
    assert len(few) == len(many)
    html = response.get_data(as_text=True)
    row = re.search(r'data-kind="already_paid"><td>[^<]+</td><td class="num">(\d+)</td>', html)
    assert row and row.group(1) == "7"
    assert "Customer 5" in html and "Acme Corp" in html
