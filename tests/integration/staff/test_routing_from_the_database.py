"""`route_new_dispute` reads the rules, teams and members as they are stored: rule order,
customer tags, members away or deactivated, a team's calendar."""

from __future__ import annotations

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.money import Money
from portal.domain.customers.models import CustomerTag
from portal.domain.customers.queries import customer_tags
from portal.domain.routing.policy import BusinessCalendar, DisputeFacts, SlaTargets
from portal.domain.routing.service import RuleDetails, create_rule, move_rule, route_new_dispute
from portal.domain.routing.states import Priority
from portal.domain.staff.service import TeamDetails, create_team
from tests.support.factories import make_customer, make_staff


def test_a_dispute_is_routed_with_the_stored_rules(db, clock):
    ctx = Context(db, clock, Actor.system("test"))
    key_customer, plain_customer = make_customer(db, clock), make_customer(db, clock)
    db.add_all([CustomerTag(customer_id=key_customer.id, tag="key-account"),
                CustomerTag(customer_id=key_customer.id, tag="retail")])
    ana, bo, cy = make_staff(db, clock), make_staff(db, clock, away=True), make_staff(db, clock, status="deactivated")
    dee = make_staff(db, clock)
    key_team = create_team(ctx, TeamDetails("Key accounts", "Europe/London", "12345", 510, 1050), [ana.id, bo.id, cy.id])
    general = create_team(ctx, TeamDetails("General", "UTC", "1234567", 0, 1440, is_fallback=True), [dee.id])
    key_rule = create_rule(ctx, RuleDetails("Key accounts", key_team.id, "round_robin", "urgent", 2, 3,
                                            customer_tags=("Key-Account",)))
    create_rule(ctx, RuleDetails("Everything else", general.id, "least_open_load", "low", 24, 10))

    tags = customer_tags(db, key_customer.id)
    assert tags == {"key-account", "retail"}
    decision = route_new_dispute(db, DisputeFacts("pricing", Money(5_000, "GBP"), key_customer.id, tags),
                                 open_loads={ana.id: 7}, last_assignees={key_team.id: ana.id})
    # Bo is away and Cy deactivated: round robin comes back to Ana.
    assert (decision.team_id, decision.assignee_id, decision.priority) == (key_team.id, ana.id, Priority.URGENT)
    assert decision.sla == SlaTargets(2, 3)
    assert decision.calendar == BusinessCalendar("Europe/London", frozenset({1, 2, 3, 4, 5}), 510, 1050)

    plain = route_new_dispute(db, DisputeFacts("pricing", Money(5_000, "GBP"), plain_customer.id,
                                               customer_tags(db, plain_customer.id)),
                              open_loads={}, last_assignees={})
    assert (plain.team_id, plain.assignee_id, plain.priority) == (general.id, dee.id, Priority.LOW)

    # Moving the catch-all rule first changes where the key customer's dispute goes.
    move_rule(ctx, key_rule, "down")
    moved = route_new_dispute(db, DisputeFacts("pricing", Money(5_000, "GBP"), key_customer.id, tags),
                              open_loads={}, last_assignees={})
    assert moved.team_id == general.id
