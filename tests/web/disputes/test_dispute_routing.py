"""A dispute raised through the web is routed by the stored rules: the matching rule's team,
its next member round-robin, its priority and SLA dates in the team's calendar; a dispute no
rule matches goes to the fallback team; and the customer's page names the owner."""

from __future__ import annotations

from datetime import datetime, UTC

import pytest
from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.disputes.models import Dispute
from portal.domain.routing.service import RuleDetails, create_rule
from portal.domain.staff.service import TeamDetails, create_team
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, sign_in
from tests.web.disputes.test_dispute_pages import _form, _post


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    return (customer, clerk, make_invoice(db, clock, customer, number="INV-100", total_minor=16_500),
            make_invoice(db, clock, customer, number="INV-200", total_minor=8_000))


@pytest.fixture
def signed_in(client, acme, clock):
    sign_in(client, acme[1], clock)
    return client


@pytest.fixture
def desks(db, clock):
    ctx = Context(db, clock, Actor.system("test"))
    ana = make_staff(db, clock, name="Ana Pereira")
    bo = make_staff(db, clock, name="Bo Lindqvist")
    dee = make_staff(db, clock, name="Dee Okafor")
    pricing = create_team(ctx, TeamDetails("Pricing desk", "UTC", "12345", 540, 1020), [ana.id, bo.id])
    general = create_team(ctx, TeamDetails("General", "UTC", "12345", 540, 1020, is_fallback=True), [dee.id])
    create_rule(ctx, RuleDetails("Pricing questions", pricing.id, "round_robin", "high", 4, 3, reasons=("pricing",)))
    db.commit()
    return pricing, general, ana, bo, dee


def _raise(client, invoice, reason="pricing") -> Dispute:
    response = _post(client, _form(client, [invoice], reason=reason, **{f"mode-{invoice.public_id}": "amount",
                                                                         f"amount-{invoice.public_id}": "10.00"}))
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def _dispute(db, location: str) -> Dispute:
    db.expire_all()
    return db.scalar(select(Dispute).where(Dispute.public_id == location.rstrip("/").rsplit("/", 1)[-1]))


def test_a_raised_dispute_goes_round_robin_to_the_rules_team_and_its_page_names_them(signed_in, db, acme, desks):
    _, _, invoice, second = acme
    pricing, _, ana, bo, _ = desks

    first = _raise(signed_in, invoice)
    dispute = _dispute(db, first.headers["Location"])
    assert (dispute.team_id, dispute.assignee_id, dispute.priority) == (pricing.id, ana.id, "high")
    # Raised Monday 15 June 2026 at 14:30 UTC; the desk works 9:00-17:00 UTC on weekdays.
    assert dispute.first_response_due_at == datetime(2026, 6, 16, 10, 30, tzinfo=UTC)  # 4 business hours
    assert dispute.resolution_due_at == datetime(2026, 6, 18, 14, 30, tzinfo=UTC)  # 3 business days
    page = signed_in.get(first.headers["Location"]).get_data(as_text=True)
    assert "Ana Pereira (Pricing desk)" in page
    assert "Expected resolution</dt><dd>18 Jun 2026" in page

    # The next pricing dispute goes to the next member after the team's last assignee.
    second_response = _raise(signed_in, second)
    assert _dispute(db, second_response.headers["Location"]).assignee_id == bo.id
    page = signed_in.get(second_response.headers["Location"]).get_data(as_text=True)
    assert "Bo Lindqvist (Pricing desk)" in page


def test_a_dispute_no_rule_matches_goes_to_the_fallback_team(signed_in, db, acme, desks):
    _, _, invoice, _ = acme
    _, general, _, _, dee = desks
    response = _raise(signed_in, invoice, reason="damaged")
    dispute = _dispute(db, response.headers["Location"])
    assert (dispute.team_id, dispute.assignee_id, dispute.priority) == (general.id, dee.id, "normal")
    assert "Dee Okafor (General)" in signed_in.get(response.headers["Location"]).get_data(as_text=True)


def test_without_any_team_a_dispute_waits_unassigned(signed_in, db, acme):
    _, _, invoice, _ = acme
    response = _raise(signed_in, invoice)
    dispute = _dispute(db, response.headers["Location"])
    assert (dispute.team_id, dispute.assignee_id) == (None, None)
    assert "Not yet assigned" in signed_in.get(response.headers["Location"]).get_data(as_text=True)
