"""`dispute_numbers`, the supervisors' read model, over disputes in known states: open ones by
age, reason and team; cycle-time percentiles, late first responses and resolutions, and the
share ended with a credit over the last 90 days (withdrawn and older ones left out); open ones
past due (not while paused); what active disputes hold per currency."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.money import Money
from portal.domain.disputes import queries, service
from portal.domain.disputes.queries import CycleTime, Tally, dispute_numbers
from portal.domain.staff.service import TeamDetails, create_team
from tests.support.disputes import contact_access, contact_context, raise_test_dispute, staff_context
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff

D, H = timedelta(days=1), timedelta(hours=1)


@pytest.fixture
def history(db, clock):
    """Open: A (today, pricing desk), A2 (2 days 23 hours, pricing desk), B (5 days, no team,
    first response overdue), C (10 days, pricing desk, paused with its dates past), D (40 days,
    freight desk, resolution overdue, EUR). Decided in the window: E (credited in full), F
    (rejected, both dates missed), I (credited in part). Left out: G (withdrawn), K (decided
    100 days ago). Returns the moment the numbers are read at."""
    now = clock.now()
    ctx = Context(db, clock, Actor.system("test"))
    member = make_staff(db, clock)
    pricing = create_team(ctx, TeamDetails("Pricing desk", "UTC", "12345", 540, 1020), [member.id])
    freight = create_team(ctx, TeamDetails("Freight desk", "UTC", "12345", 540, 1020), [member.id])
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer)
    staff = staff_context(db, clock)
    invoices = {}

    def raise_at(ago, *, total, reason="pricing", team=None, currency="USD", first_due=None, resolution_due=None):
        clock.set(now - ago)
        invoice = make_invoice(db, clock, customer, total_minor=total, currency=currency)
        dispute = raise_test_dispute(db, clock, clerk, [invoice], reason=reason)
        invoices[dispute.id] = invoice
        dispute.team_id = team.id if team else None
        dispute.first_response_due_at = now - ago + first_due if first_due is not None else None
        dispute.resolution_due_at = now - ago + resolution_due if resolution_due is not None else None
        db.flush()
        return dispute

    def at(moment):
        clock.set(now - moment)

    raise_at(timedelta(0), total=12_500, team=pricing, first_due=4 * H)                           # A
    raise_at(2 * D + 23 * H, total=1_000, reason="tax", team=pricing)                             # A2
    raise_at(5 * D, total=2_000, reason="damaged", first_due=1 * D, resolution_due=10 * D)         # B
    c = raise_at(10 * D, total=3_000, team=pricing, first_due=4 * H, resolution_due=5 * D)        # C
    at(9 * D)
    service.request_information(staff, None, c.public_id, "Which PO was this?")
    d = raise_at(40 * D, total=5_000, team=freight, currency="EUR", first_due=4 * H, resolution_due=39 * D)  # D
    at(40 * D - 1 * H)
    service.reply(staff, None, d.public_id, "We are looking into it.")

    e = raise_at(20 * D, total=4_000, team=pricing, first_due=4 * H, resolution_due=15 * D)       # E
    at(20 * D - 2 * H)
    service.reply(staff, None, e.public_id, "Checking.")
    at(10 * D)
    service.resolve_accept(staff, None, e.public_id)
    f = raise_at(30 * D, total=6_000, team=pricing, first_due=4 * H, resolution_due=2 * D)        # F
    at(30 * D - 10 * H)
    service.reply(staff, None, f.public_id, "Checking.")
    at(5 * D)
    service.reject(staff, None, f.public_id, "The price is the agreed one.")
    i = raise_at(6 * D, total=7_000, first_due=4 * H, resolution_due=10 * D)                      # I
    at(6 * D - 30 * timedelta(minutes=1))
    service.reply(staff, None, i.public_id, "Checking.")
    at(1 * D)
    service.resolve_accept(staff, None, i.public_id, credits={invoices[i.id].public_id: Money(1_000, "USD")})
    g = raise_at(3 * D, total=8_000)                                                              # G
    at(2 * D)
    service.withdraw(contact_context(db, clock, clerk), contact_access(clerk), g.public_id)
    k = raise_at(120 * D, total=9_000, first_due=4 * H, resolution_due=5 * D)                     # K
    at(120 * D - 1 * H)
    service.reply(staff, None, k.public_id, "Checking.")
    at(100 * D)
    service.reject(staff, None, k.public_id, "No.")
    clock.set(now)
    db.flush()
    return now


def test_open_disputes_by_age_reason_and_team(db, history):
    numbers = dispute_numbers(db, history)
    assert numbers.open_total == 5
    assert numbers.open_by_age == (Tally("0–2 days", 2), Tally("3–7 days", 1), Tally("8–30 days", 1),
                                   Tally("Over 30 days", 1))
    assert numbers.open_by_reason == (Tally("Pricing", 3), Tally("Damaged", 1), Tally("Tax", 1))
    assert numbers.open_by_team == (Tally("Freight desk", 1), Tally("Pricing desk", 3), Tally("Unassigned", 1))
    assert numbers.held == (Money(5_000, "EUR"), Money(12_500 + 1_000 + 2_000 + 3_000, "USD"))


def test_sla_breaches_open_and_over_the_window(db, history):
    numbers = dispute_numbers(db, history)
    # B's first response is overdue; D's resolution; C's dates are past but its clock stands still.
    assert (numbers.open_first_response_overdue, numbers.open_resolution_overdue) == (1, 1)
    # Decided in the last 90 days: E, F and I (G was withdrawn, K decided 100 days ago).
    assert numbers.decided == 3
    assert (numbers.first_response_late, numbers.resolution_late) == (1, 1)  # F, both
    assert numbers.credited == 2 and numbers.credited_share == pytest.approx(2 / 3)


def test_cycle_time_percentiles(db, history):
    numbers = dispute_numbers(db, history)
    # First responses after 2 h (E), 10 h (F), 30 min (I); resolutions after 10, 25 and 5 days.
    assert numbers.first_response == CycleTime(3, 2 * H, timedelta(hours=8, minutes=24))
    assert numbers.resolution == CycleTime(3, 10 * D, 22 * D)
    assert not numbers.sampled


def test_the_percentiles_read_a_bounded_sample_of_the_latest(db, history, monkeypatch):
    monkeypatch.setattr(queries, "MAX_CYCLE_SAMPLE", 2)
    numbers = dispute_numbers(db, history)
    assert numbers.decided == 3 and numbers.sampled  # the counts still cover every decided dispute
    # The latest two decided: I (30 min, 5 days) and F (10 h, 25 days).
    assert numbers.first_response == CycleTime(2, timedelta(hours=5, minutes=15), timedelta(hours=9, minutes=3))
    assert numbers.resolution == CycleTime(2, 15 * D, 23 * D)


def test_nothing_yet(db, clock):
    numbers = dispute_numbers(db, clock.now())
    assert numbers.open_total == 0 and [tally.count for tally in numbers.open_by_age] == [0, 0, 0, 0]
    assert (numbers.open_by_reason, numbers.open_by_team, numbers.held) == ((), (), ())
    assert numbers.decided == 0 and numbers.credited_share is None
    assert numbers.first_response == CycleTime(0, None, None) == numbers.resolution
