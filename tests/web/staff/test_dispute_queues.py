"""The staff dispute queues: each tab shows its own disputes, the "all" tab only to roles with
VIEW_ALL_DISPUTES, filters by state and reason, search by customer or invoice number, SLA due
order, bad input refused or ignored, and a statement count that does not grow with the data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.disputes.models import Dispute
from portal.domain.staff.service import TeamDetails, create_team
from portal.domain.staff.states import StaffRole
from tests.support.disputes import raise_test_dispute
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, staff_sign_in
from tests.web.account.test_account_query_counts import counted_statements


def _dispute(db, clock, customer_name: str, number: str, *, reason="pricing", team=None, assignee=None,
             due_in_hours: float | None = None) -> Dispute:
    customer = make_customer(db, clock, name=customer_name)
    clerk = make_contact(db, clock, customer)
    invoice = make_invoice(db, clock, customer, number=number, total_minor=10_000)
    dispute = raise_test_dispute(db, clock, clerk, [invoice], reason=reason)
    dispute.team_id = team.id if team is not None else None
    dispute.assignee_id = assignee.id if assignee is not None else None
    if due_in_hours is not None:
        dispute.resolution_due_at = clock.now() + timedelta(hours=due_in_hours)
    db.flush()
    return dispute


@pytest.fixture
def queues(db, clock):
    ctx = Context(db, clock, Actor.system("test"))
    ana, bo = make_staff(db, clock, name="Ana Pereira"), make_staff(db, clock, name="Bo Lindqvist")
    outsider = make_staff(db, clock, name="Cy Outside")
    desk = create_team(ctx, TeamDetails("Pricing desk", "UTC", "12345", 540, 1020), [ana.id, bo.id])
    other = create_team(ctx, TeamDetails("Elsewhere", "UTC", "12345", 540, 1020), [outsider.id])
    _dispute(db, clock, "Acme Corp", "INV-A1", team=desk, assignee=ana, due_in_hours=6)  # outside the window
    _dispute(db, clock, "Beta Ltd", "INV-B1", team=desk, assignee=ana, due_in_hours=3)   # at risk (4 h window)
    _dispute(db, clock, "Gamma GmbH", "INV-G1", reason="damaged", team=desk, assignee=bo, due_in_hours=200)
    _dispute(db, clock, "Delta Inc", "INV-D1", reason="damaged")  # nobody's
    _dispute(db, clock, "Epsilon SA", "INV-E1", team=other, assignee=outsider, due_in_hours=300)
    db.commit()
    return ana, bo, outsider


def _shown(html: str) -> list[str]:
    numbers = ["INV-A1", "INV-B1", "INV-G1", "INV-D1", "INV-E1"]
    return sorted((n for n in numbers if n in html), key=html.index)


def test_each_tab_shows_its_disputes_soonest_sla_first(client, db, clock, queues):
    ana, _, _ = queues
    staff_sign_in(client, ana, clock)
    mine = client.get("/admin/disputes")
    assert mine.status_code == 200
    assert _shown(mine.get_data(as_text=True)) == ["INV-B1", "INV-A1"]  # due in 3 hours, then in 6
    assert "at risk" in mine.get_data(as_text=True)
    assert _shown(client.get("/admin/disputes?tab=team").get_data(as_text=True)) == ["INV-B1", "INV-A1", "INV-G1"]
    assert _shown(client.get("/admin/disputes?tab=unassigned").get_data(as_text=True)) == ["INV-D1"]
    assert _shown(client.get("/admin/disputes?tab=at_risk").get_data(as_text=True)) == ["INV-B1"]


def test_only_supervisors_and_admins_see_every_dispute(client, db, clock, queues):
    ana, _, _ = queues
    staff_sign_in(client, ana, clock)
    assert client.get("/admin/disputes/all").status_code == 403
    # Asking the ordinary queue for the "all" tab is no way around it: it shows the member's own.
    sneaky = client.get("/admin/disputes?tab=all").get_data(as_text=True)
    assert _shown(sneaky) == ["INV-B1", "INV-A1"]
    assert "/admin/disputes/all" not in sneaky

    boss = make_staff(db, clock, role=StaffRole.SUPERVISOR)
    staff_sign_in(client, boss, clock)
    everything = client.get("/admin/disputes/all")
    assert everything.status_code == 200
    assert _shown(everything.get_data(as_text=True)) == ["INV-B1", "INV-A1", "INV-G1", "INV-E1", "INV-D1"]


def test_filters_and_search(client, db, clock, queues):
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    assert _shown(client.get("/admin/disputes/all?reason=damaged").get_data(as_text=True)) == ["INV-G1", "INV-D1"]
    assert _shown(client.get("/admin/disputes/all?q=beta").get_data(as_text=True)) == ["INV-B1"]
    assert _shown(client.get("/admin/disputes/all?q=inv-g").get_data(as_text=True)) == ["INV-G1"]
    assert _shown(client.get("/admin/disputes/all?q=100%25").get_data(as_text=True)) == []  # % is no wildcard
    assert _shown(client.get("/admin/disputes/all?status=rejected").get_data(as_text=True)) == []
    assert len(_shown(client.get("/admin/disputes/all?status=open").get_data(as_text=True))) == 5
    # Unknown values fall back to the defaults; a search that is too long is refused.
    assert len(_shown(client.get("/admin/disputes/all?status=nonsense&reason=nope&page=x").get_data(
        as_text=True))) == 5
    assert client.get("/admin/disputes/all?q=" + "x" * 101).status_code == 400
    assert client.get("/admin/disputes/all?q=a%00b").status_code == 400


def test_the_queue_costs_the_same_statements_whatever_its_size(app, engine, client, db, clock, queues):
    ana, _, _ = queues
    staff_sign_in(client, ana, clock)
    client.get("/admin/disputes")  # the first request writes the session's "last seen"

    def count(path: str) -> int:
        with counted_statements(engine) as statements:
            assert client.get(path).status_code == 200
        return len(statements)

    few = {path: count(path) for path in ("/admin/disputes", "/admin/disputes?tab=team", "/admin/disputes?q=inv")}
    desk_member = db.scalar(select(Dispute).where(Dispute.assignee_id == ana.id))
    for n in range(30):
        _dispute(db, clock, f"Customer {n}", f"INV-X{n:03d}", due_in_hours=n + 1).assignee_id = ana.id
    assert desk_member is not None
    db.commit()
    many = {path: count(path) for path in few}
    assert many == few
    assert max(many.values()) <= 9, many
