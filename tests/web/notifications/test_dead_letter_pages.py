"""The dead letters page (`/admin/outbox/dead`, MANAGE_OUTBOX: admins and supervisors): what
it lists, sending one again from the page (then delivered by the real sender to the SMTP sink),
unknown or malformed ids, bounded paging, the dashboard's count, and a fixed statement count."""

from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import select

from portal.domain.core.models import AuditEntry
from portal.domain.notifications.jobs import deliver_due
from portal.domain.notifications.queries import DEAD_PAGE_SIZE
from portal.domain.staff.states import StaffRole
from tests.integration.notifications.test_dead_letters import kill
from tests.integration.notifications.test_outbox import MAIL_FROM, POLICY, queue, reload, smtp_transport
from tests.support.factories import make_staff, staff_sign_in
from tests.support.fixtures.links import csrf_from
from tests.web.account.test_account_query_counts import counted_statements


def _bury(db, clock, count: int, to: str = "clerk{}@acme.example"):
    messages = [queue(db, clock, to=to.format(n)) for n in range(count)]
    for message in messages:
        message.status, message.attempts, message.last_error = "dead", 10, "550 mailbox unavailable"
    db.commit()
    return messages


def test_a_supervisor_sends_a_dead_message_again(client, db, clock, smtp_sink):
    message = queue(db, clock, to="ap@acme.example")
    kill(db, clock, message)
    member = make_staff(db, clock, role=StaffRole.SUPERVISOR)
    staff_sign_in(client, member, clock)
    page = client.get("/admin/outbox/dead")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "ap@acme.example" in html and "receipt" in html and f">{POLICY.max_attempts}<" in html
    last_error = reload(db, message).last_error
    assert last_error and str(escape(last_error[:300])) in html

    response = client.post(f"/admin/outbox/dead/{message.id}/retry", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/outbox/dead")
    assert reload(db, message).status == "pending"
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retried")).all()
    assert entry.actor_id == member.public_id
    assert "No dead emails" in client.get("/admin/outbox/dead").get_data(as_text=True)

    assert deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY).sent == 1
    assert [mail.to for mail in smtp_sink.wait_for(1)] == ["ap@acme.example"]

    # Sending it again once it left the dead letters changes nothing.
    again = client.post(f"/admin/outbox/dead/{message.id}/retry", data={"csrf_token": csrf_from(page)})
    assert again.status_code == 302 and reload(db, message).status == "sent"


@pytest.mark.parametrize("message_id", ["987654", "abc", "1" * 13, "-1", "١٢"])
def test_unknown_or_malformed_ids_are_404(client, db, clock, message_id):
    _bury(db, clock, 1)
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.ADMIN), clock)
    page = client.get("/admin/outbox/dead")
    response = client.post(f"/admin/outbox/dead/{message_id}/retry", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 404


@pytest.mark.parametrize(("role", "allowed"), [(StaffRole.ADMIN, True), (StaffRole.SUPERVISOR, True),
                                               (StaffRole.ANALYST, False), (StaffRole.COLLECTOR, False)])
def test_who_sees_the_dead_letters_and_their_count(client, db, clock, role, allowed):
    _bury(db, clock, 3)
    staff_sign_in(client, make_staff(db, clock, role=role), clock)
    assert client.get("/admin/outbox/dead").status_code == (200 if allowed else 403)
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert ('id="dead-messages">3<' in dashboard) is allowed


def test_paging_is_bounded_and_costs_the_same_statements(engine, client, db, clock):
    _bury(db, clock, 2)
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    client.get("/admin/outbox/dead")

    def count(path: str = "/admin/outbox/dead") -> int:
        with counted_statements(engine) as statements:
            assert client.get(path).status_code == 200
        return len(statements)

    small = count()
    _bury(db, clock, DEAD_PAGE_SIZE + 5, to="more{}@acme.example")
    assert count() == small
    html = client.get("/admin/outbox/dead").get_data(as_text=True)
    assert html.count('action="/admin/outbox/dead/') == DEAD_PAGE_SIZE
    assert 'rel="next"' in html and "Page 1 of 2" in html
    second = client.get("/admin/outbox/dead?page=2").get_data(as_text=True)
    assert second.count('action="/admin/outbox/dead/') == 7
    assert client.get("/admin/outbox/dead?page=99999999999").status_code == 200  # out of range: the first page
