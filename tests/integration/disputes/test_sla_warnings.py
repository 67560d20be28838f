"""`warn_sla_at_risk` and `flask warn-sla-at-risk`: the supervisors of the dispute's team (else
every active supervisor) are emailed once per dispute, SLA target and due time; never while
the clock is paused for the customer; again when a pause moved the due time; a bounded batch
per run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.disputes import service
from portal.domain.disputes.jobs import warn_sla_at_risk
from portal.domain.disputes.staff_notifications import StaffMail
from portal.domain.notifications.models import OutboxMessage
from portal.domain.staff.models import StaffMember
from portal.domain.staff.service import TeamDetails, create_team
from portal.domain.staff.states import StaffRole, StaffStatus
from tests.support.concurrency import run_at_once
from tests.support.disputes import contact_access, contact_context, raise_test_dispute, staff_context
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff

WINDOW = timedelta(hours=4)


@pytest.fixture
def desk(db, clock):
    """Sue supervises the pricing desk; Max supervises without a team; Old is deactivated. The
    freight desk has no supervisor."""
    ctx = Context(db, clock, Actor.system("test"))
    ana = make_staff(db, clock, name="Ana Pereira", email="ana@northwind.example")
    sue = make_staff(db, clock, role=StaffRole.SUPERVISOR, name="Sue Supervisor", email="sue@northwind.example")
    make_staff(db, clock, role=StaffRole.SUPERVISOR, name="Max Supervisor", email="max@northwind.example")
    old = make_staff(db, clock, role=StaffRole.SUPERVISOR, name="Old Supervisor", email="old@northwind.example",
                     status=StaffStatus.DEACTIVATED)
    pricing = create_team(ctx, TeamDetails("Pricing desk", "UTC", "12345", 540, 1020), [ana.id, sue.id])
    freight = create_team(ctx, TeamDetails("Freight desk", "UTC", "12345", 540, 1020), [ana.id, old.id])
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    return {"ana": ana, "sue": sue, "pricing": pricing, "freight": freight, "customer": customer, "clerk": clerk}


def _dispute(db, clock, desk, *, team="pricing", first_in=None, resolution_in=None, responded=False):
    """A dispute raised now, owned by Ana in `team` (None: no team), with its SLA dates that far ahead."""
    invoice = make_invoice(db, clock, desk["customer"], total_minor=12_500)
    dispute = raise_test_dispute(db, clock, desk["clerk"], [invoice])
    now = clock.now()
    dispute.team_id = desk[team].id if team else None
    dispute.assignee_id = desk["ana"].id
    dispute.first_response_due_at = now + first_in if first_in is not None else None
    dispute.resolution_due_at = now + resolution_in if resolution_in is not None else None
    dispute.first_responded_at = now if responded else None
    db.flush()
    return dispute


def _warnings(db) -> list[OutboxMessage]:
    db.flush()
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dispute_sla_warning")
                           .order_by(OutboxMessage.id)))


def _run(db, clock, supplier, **kwargs):
    return warn_sla_at_risk(db, clock, StaffMail(supplier), window=kwargs.pop("window", WINDOW), **kwargs)


def test_a_run_twice_sends_once_to_the_teams_supervisor(db, clock, desk, supplier):
    dispute = _dispute(db, clock, desk, first_in=timedelta(hours=3), resolution_in=timedelta(days=3))
    _dispute(db, clock, desk, first_in=timedelta(hours=5), resolution_in=timedelta(days=3))  # beyond the window

    first = _run(db, clock, supplier)
    assert (first.warned, first.emails, first.already_warned) == (1, 1, 0)
    [warning] = _warnings(db)
    assert warning.to_address == "sue@northwind.example" and warning.cc_addresses == ""
    assert warning.subject == "SLA at risk: first response due in 3 h, Acme Corp, Pricing, $125.00"
    assert "is due 15 Jun 2026, 17:30 UTC, in 3 h." in warning.body_text
    assert "Owner: Ana Pereira (Pricing desk)" in warning.body_text
    assert f"http://localhost/admin/disputes/{dispute.public_id}" in warning.body_text
    assert f'href="http://localhost/admin/disputes/{dispute.public_id}"' in warning.body_html

    again = _run(db, clock, supplier)
    assert (again.warned, again.emails, again.already_warned) == (0, 0, 1)
    assert again.summary() == "sla warnings: 0 queued (0 emails), 1 already sent"
    assert len(_warnings(db)) == 1


def test_without_a_supervisor_in_the_team_every_active_supervisor_is_told(db, clock, desk, supplier):
    _dispute(db, clock, desk, team="freight", resolution_in=timedelta(hours=1), responded=True)
    _dispute(db, clock, desk, team=None, resolution_in=timedelta(hours=2), responded=True)
    report = _run(db, clock, supplier)
    assert (report.warned, report.emails) == (2, 4)
    # Max and Sue for each; never the deactivated supervisor on the freight desk.
    assert sorted(m.to_address for m in _warnings(db)) == ["max@northwind.example", "max@northwind.example",
                                                           "sue@northwind.example", "sue@northwind.example"]


def test_nobody_to_tell_is_reported(db, clock, desk, supplier):
    for member in db.scalars(select(StaffMember).where(StaffMember.role == StaffRole.SUPERVISOR)):
        member.status = StaffStatus.DEACTIVATED
    _dispute(db, clock, desk, first_in=timedelta(hours=1))
    report = _run(db, clock, supplier)
    assert (report.warned, report.without_supervisor) == (0, 1)
    assert "1 with no active supervisor to tell" in report.summary()
    assert _warnings(db) == []


def test_past_due_dates_are_warned_about_once_and_answered_ones_not_at_all(db, clock, desk, supplier):
    late = _dispute(db, clock, desk, first_in=timedelta(hours=2), resolution_in=timedelta(hours=3))
    _dispute(db, clock, desk, first_in=timedelta(hours=1), resolution_in=timedelta(days=5), responded=True)
    clock.advance(hours=30)  # nobody ran the job meanwhile: both dates of `late` are long past
    report = _run(db, clock, supplier)
    assert (report.warned, report.emails) == (2, 2)
    first, resolution = _warnings(db)
    assert first.subject.startswith("SLA missed: first response overdue by 1 d 4 h")
    assert resolution.subject.startswith("SLA missed: resolution overdue by 1 d 3 h")
    assert "was due 15 Jun 2026, 17:30 UTC, 1 d 3 h ago." in resolution.body_text
    assert all(late.public_id in m.body_text for m in (first, resolution))
    assert _run(db, clock, supplier).warned == 0


def test_paused_disputes_are_not_warned_and_a_moved_due_time_warns_again(db, clock, desk, supplier):
    dispute = _dispute(db, clock, desk, resolution_in=timedelta(hours=2), responded=True)
    assert _run(db, clock, supplier).warned == 1

    # We ask the customer: the clock stands still, whatever the stored date says.
    service.request_information(staff_context(db, clock), None, dispute.public_id, "Which PO was this?")
    clock.advance(hours=6)
    assert (_run(db, clock, supplier).warned, len(_warnings(db))) == (0, 1)

    # They answer: the resolution date moves 6 hours later, into the window again: a new warning.
    service.add_message(contact_context(db, clock, desk["clerk"]), contact_access(desk["clerk"]), dispute.public_id,
                        "PO 7781.")
    report = _run(db, clock, supplier)
    assert report.warned == 1
    earlier, moved = _warnings(db)
    assert earlier.dedupe_key != moved.dedupe_key
    assert "is due 15 Jun 2026, 22:30 UTC, in 2 h." in moved.body_text
    assert _run(db, clock, supplier).warned == 0


def test_closed_disputes_are_not_warned(db, clock, desk, supplier):
    dispute = _dispute(db, clock, desk, first_in=timedelta(hours=1), resolution_in=timedelta(hours=2))
    service.reject(staff_context(db, clock), None, dispute.public_id, "The price is the agreed one.")
    assert _run(db, clock, supplier).warned == 0


def test_a_batch_is_bounded_and_the_rest_wait_for_the_next_run(db, clock, desk, supplier):
    for _ in range(3):
        _dispute(db, clock, desk, resolution_in=timedelta(hours=1), responded=True)
    first = _run(db, clock, supplier, batch_size=2)
    assert (first.warned, first.batch_full) == (2, True)
    assert first.summary().endswith("; batch full, the rest next run")
    second = _run(db, clock, supplier, batch_size=2)
    assert (second.warned, second.already_warned, second.batch_full) == (1, 2, False)
    assert len(_warnings(db)) == 3


def test_the_command_uses_the_window_setting_and_commits_once(make_app, db, clock, desk):
    _dispute(db, clock, desk, first_in=timedelta(hours=3))
    db.commit()
    narrow = make_app(sla_warning_hours=2).test_cli_runner().invoke(args=["warn-sla-at-risk"])
    assert narrow.exit_code == 0, narrow.output
    assert narrow.output.strip() == "sla warnings: 0 queued (0 emails), 0 already sent"

    runner = make_app().test_cli_runner()  # the default window: 4 hours
    result = runner.invoke(args=["warn-sla-at-risk"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sla warnings: 1 queued (1 email), 0 already sent"
    db.rollback()
    assert [m.to_address for m in _warnings(db)] == ["sue@northwind.example"]
    again = runner.invoke(args=["warn-sla-at-risk", "--batch-size", "10"])
    assert again.output.strip() == "sla warnings: 0 queued (0 emails), 1 already sent"


@pytest.mark.postgres_only
def test_two_runs_at_once_queue_each_warning_once(session_factory, db, clock, desk, supplier):
    for _ in range(20):
        _dispute(db, clock, desk, team=None, resolution_in=timedelta(hours=1), responded=True)
    db.commit()
    def run() -> None:
        with session_factory() as session:
            warn_sla_at_risk(session, clock, StaffMail(supplier), window=WINDOW, batch_size=5)
            session.commit()

    run_at_once(run)
    db.rollback()
    keys = [m.dedupe_key for m in _warnings(db)]
    dates = {key.rsplit(":", 1)[0] for key in keys}  # dispute, target and due time, without the supervisor
    assert len(keys) == len(set(keys)) == 2 * len(dates)  # Sue and Max, once each
    assert 5 <= len(dates) <= 10  # each run warned about at most its batch of 5
