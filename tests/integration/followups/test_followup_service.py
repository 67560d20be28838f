"""Raising follow-ups: routed to the team that works the kind's queue, idempotent per form
token and per system event, moved only as the transition table allows, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.errors import InvalidTransition
from portal.domain.core.models import AuditEntry
from portal.domain.followups.models import Followup
from portal.domain.followups.queries import followup_by_public_id, invoices_with_active_followups
from portal.domain.followups.service import move_followup, raise_followup
from portal.domain.followups.states import FollowupKind as K, FollowupStatus as S
from portal.domain.staff.service import TeamDetails, create_team
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff

REQUEST_KEY = "f" * 32


@pytest.fixture
def ctx(db, clock):
    return Context(db, clock, Actor("contact", "clerk"))


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    invoices = [make_invoice(db, clock, customer, number=f"INV-{n}", total_minor=10_000) for n in (1, 2)]
    return customer, clerk, invoices


@pytest.fixture
def cash_team(db, clock, ctx):
    busy, free = make_staff(db, clock, name="Busy"), make_staff(db, clock, name="Free")
    team = create_team(ctx, TeamDetails("Cash application", "UTC", "12345", 540, 1020), [busy.id, free.id])
    team.followup_queues = ["cash_application"]
    db.flush()
    return team, busy, free


def _report(ctx, acme, **overrides):
    customer, clerk, invoices = acme
    arguments = dict(kind=K.ALREADY_PAID, customer_id=customer.id, invoice_ids=[invoices[0].id],
                     details={"amount_minor": 10_000}, contact_id=clerk.id, request_key=REQUEST_KEY)
    return raise_followup(ctx, **{**arguments, **overrides})


def test_a_report_goes_to_the_team_of_its_queue_and_its_least_loaded_member(db, ctx, acme, cash_team):
    team, busy, free = cash_team
    first, created = _report(ctx, acme)
    assert created and (first.team_id, first.queue, first.status) == (team.id, "cash_application", S.OPEN)
    assert first.assignee_id == busy.id  # both at 0: the lower id
    second, _ = _report(ctx, acme, request_key="g" * 32)
    assert second.assignee_id == free.id  # busy has one now
    assert first.due_at is not None and [e.action for e in first.events] == ["raised"]
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "followup.raised", AuditEntry.object_id == first.public_id)) == 1


def test_the_same_form_token_or_system_event_raises_one_follow_up(db, ctx, acme, cash_team):
    first, _ = _report(ctx, acme)
    again, created = _report(ctx, acme, details={"amount_minor": 1})
    assert (again.id, created, again.details) == (first.id, False, {"amount_minor": 10_000})
    customer = acme[0]
    system = dict(kind=K.PROMISE_BROKEN, customer_id=customer.id, dedupe_key="promise_broken:abc")
    one, created_one = raise_followup(ctx, **system)
    two, created_two = raise_followup(ctx, **system)
    assert (one.id, created_one, created_two) == (two.id, True, False)
    assert db.scalar(select(func.count()).select_from(Followup)) == 2


def test_a_customer_report_must_name_its_contact_and_no_invoice_twice(ctx, acme):
    with pytest.raises(ValueError, match="contact"):
        _report(ctx, acme, contact_id=None)
    invoice_id = acme[2][0].id
    with pytest.raises(ValueError, match="twice"):
        _report(ctx, acme, invoice_ids=[invoice_id, invoice_id])


def test_without_a_team_for_the_queue_nobody_is_assigned_and_it_is_still_due(ctx, acme):
    followup, _ = _report(ctx, acme)
    assert (followup.team_id, followup.assignee_id) == (None, None) and followup.due_at is not None


def test_moves_follow_the_table_and_only_active_follow_ups_cover_invoices(db, ctx, acme, cash_team):
    customer, _, invoices = acme
    followup, _ = _report(ctx, acme)
    ids = [invoice.id for invoice in invoices]
    assert invoices_with_active_followups(db, ids) == {invoices[0].id}
    assert invoices_with_active_followups(db, ids, kinds=[K.NEEDS_PO]) == set()
    move_followup(ctx, followup, S.WAITING, text="We could not find it: please send the remittance.",
                  for_customer=True)
    assert invoices_with_active_followups(db, ids, kinds=[K.ALREADY_PAID]) == {invoices[0].id}
    move_followup(ctx, followup, S.RESOLVED, outcome="matched")
    assert (followup.outcome, followup.resolved_at) == ("matched", ctx.clock.now())
    assert invoices_with_active_followups(db, ids) == set()
    with pytest.raises(InvalidTransition):
        move_followup(ctx, followup, S.OPEN)
    assert [e.action for e in followup.events] == ["raised", "waiting", "resolved"]


def test_another_customers_follow_up_reads_as_not_found(db, clock, ctx, acme):
    followup, _ = _report(ctx, acme)
    other = make_customer(db, clock, name="Globex")
    assert followup_by_public_id(db, followup.public_id, customer_id=other.id) is None
    assert followup_by_public_id(db, followup.public_id, customer_id=acme[0].id) is followup
