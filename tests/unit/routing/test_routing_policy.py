"""Routing as a table: each row a dispute, the rules and teams it meets, and where it must go."""

from __future__ import annotations

from dataclasses import replace

import pytest

from portal.domain.core.money import Money
from portal.domain.routing.policy import (
    DEFAULT_CALENDAR, FALLBACK_ROUTE, BusinessCalendar, DisputeFacts, Member, Rule, SlaTargets, TeamInfo,
    choose_assignee, route_dispute,
)
from portal.domain.routing.states import AssignmentStrategy as S, Priority as P

PRICING_TEAM, BIG_TEAM, KEY_TEAM, JAPAN_TEAM, FALLBACK_TEAM, EMPTY_TEAM = 1, 2, 3, 4, 5, 6
ACME, GLOBEX = 100, 200
LONDON = BusinessCalendar("Europe/London")

TEAMS = {
    PRICING_TEAM: TeamInfo(PRICING_TEAM, (Member(11, 3), Member(12, 1), Member(13, 0, away=True))),
    BIG_TEAM: TeamInfo(BIG_TEAM, (Member(21, 5), Member(22, 5), Member(23, 2))),
    KEY_TEAM: TeamInfo(KEY_TEAM, (Member(31, 0), Member(32, 0), Member(33, 0)), calendar=LONDON),
    JAPAN_TEAM: TeamInfo(JAPAN_TEAM, (Member(41, 0),), calendar=BusinessCalendar("Asia/Tokyo")),
    FALLBACK_TEAM: TeamInfo(FALLBACK_TEAM, (Member(51, 4), Member(52, 2)), is_fallback=True),
    EMPTY_TEAM: TeamInfo(EMPTY_TEAM, (Member(61, 0, away=True),)),
}

RULES = [
    Rule(1, KEY_TEAM, S.ROUND_ROBIN, P.URGENT, SlaTargets(2, 3), customer_tags=frozenset({"key-account"})),
    Rule(2, BIG_TEAM, S.LEAST_OPEN_LOAD, P.HIGH, SlaTargets(4, 5), currency="USD", min_amount_minor=1_000_000),
    Rule(3, BIG_TEAM, S.LEAST_OPEN_LOAD, P.HIGH, SlaTargets(4, 5), currency="EUR", min_amount_minor=900_000,
         max_amount_minor=5_000_000),
    Rule(4, PRICING_TEAM, S.LEAST_OPEN_LOAD, P.NORMAL, SlaTargets(8, 10), reasons=frozenset({"pricing", "tax"})),
    Rule(5, JAPAN_TEAM, S.ROUND_ROBIN, P.NORMAL, SlaTargets(8, 10), currency="JPY"),
    Rule(6, EMPTY_TEAM, S.ROUND_ROBIN, P.LOW, SlaTargets(24, 20), customer_id=GLOBEX, reasons=frozenset({"damaged"})),
    Rule(7, PRICING_TEAM, S.ROUND_ROBIN, P.URGENT, SlaTargets(1, 1), reasons=frozenset({"other"}), active=False),
    Rule(8, 999, S.ROUND_ROBIN, P.URGENT, SlaTargets(1, 1), reasons=frozenset({"duplicate_billing"})),  # team gone
]


def facts(reason="quantity_short", amount=(10_000, "USD"), customer=ACME, tags=()):
    return DisputeFacts(reason, Money(*amount), customer, frozenset(tags))


# (case, dispute, last assignees, expected team, assignee, priority, rule)
CASES = [
    ("tagged customer wins first, round robin from the start",
     facts(tags={"key-account"}), {}, KEY_TEAM, 31, P.URGENT, 1),
    ("round robin continues after the last assignee",
     facts(tags={"key-account", "retail"}), {KEY_TEAM: 31}, KEY_TEAM, 32, P.URGENT, 1),
    ("round robin wraps around",
     facts(tags={"key-account"}), {KEY_TEAM: 33}, KEY_TEAM, 31, P.URGENT, 1),
    ("round robin after someone who left the team",
     facts(tags={"key-account"}), {KEY_TEAM: 99}, KEY_TEAM, 31, P.URGENT, 1),
    ("another tag is not the rule's tag",
     facts(reason="pricing", tags={"key"}), {}, PRICING_TEAM, 12, P.NORMAL, 4),
    ("big USD amount, least load",
     facts(amount=(1_000_000, "USD")), {}, BIG_TEAM, 23, P.HIGH, 2),
    ("one cent below the USD bound falls through",
     facts(amount=(999_999, "USD")), {}, FALLBACK_TEAM, 52, FALLBACK_ROUTE.priority, None),
    ("the same minor units in JPY are not USD",
     facts(amount=(1_000_000, "JPY")), {}, JAPAN_TEAM, 41, P.NORMAL, 5),
    ("EUR range, inclusive at both ends (low)",
     facts(amount=(900_000, "EUR")), {}, BIG_TEAM, 23, P.HIGH, 3),
    ("EUR range, inclusive at both ends (high)",
     facts(amount=(5_000_000, "EUR")), {}, BIG_TEAM, 23, P.HIGH, 3),
    ("above the EUR range",
     facts(amount=(5_000_001, "EUR")), {}, FALLBACK_TEAM, 52, FALLBACK_ROUTE.priority, None),
    ("reason rule, away member skipped, least load",
     facts(reason="tax"), {}, PRICING_TEAM, 12, P.NORMAL, 4),
    ("an earlier matching rule wins over a later one",
     facts(reason="pricing", amount=(2_000_000, "USD")), {}, BIG_TEAM, 23, P.HIGH, 2),
    ("customer rule matches that customer only",
     facts(reason="damaged", customer=GLOBEX), {}, EMPTY_TEAM, None, P.LOW, 6),
    ("customer rule: another customer falls through",
     facts(reason="damaged", customer=ACME), {}, FALLBACK_TEAM, 52, FALLBACK_ROUTE.priority, None),
    ("inactive rule is skipped",
     facts(reason="other"), {}, FALLBACK_TEAM, 52, FALLBACK_ROUTE.priority, None),
    ("a rule whose team is gone is skipped",
     facts(reason="duplicate_billing"), {}, FALLBACK_TEAM, 52, FALLBACK_ROUTE.priority, None),
    ("fallback uses least load even with a last assignee",
     facts(), {FALLBACK_TEAM: 52}, FALLBACK_TEAM, 52, FALLBACK_ROUTE.priority, None),
]


@pytest.mark.parametrize(("case", "dispute", "last", "team", "assignee", "priority", "rule"), CASES,
                         ids=[case[0] for case in CASES])
def test_routing_table(case, dispute, last, team, assignee, priority, rule):
    decision = route_dispute(dispute, RULES, TEAMS, last)
    assert (decision.team_id, decision.assignee_id, decision.priority, decision.rule_id) == (
        team, assignee, priority, rule)
    expected_sla = next((r.sla for r in RULES if r.id == rule), FALLBACK_ROUTE.sla)
    assert decision.sla == expected_sla
    assert decision.calendar == TEAMS[team].calendar


def test_no_rule_and_no_fallback_leaves_the_dispute_unrouted():
    teams = {key: replace(team, is_fallback=False) for key, team in TEAMS.items()}
    decision = route_dispute(facts(), RULES, teams)
    assert (decision.team_id, decision.assignee_id, decision.rule_id) == (None, None, None)
    assert decision.sla == FALLBACK_ROUTE.sla and decision.calendar == DEFAULT_CALENDAR


def test_rule_order_decides():
    tagged = facts(reason="pricing", tags={"key-account"})
    assert route_dispute(tagged, RULES, TEAMS).team_id == KEY_TEAM
    assert route_dispute(tagged, [RULES[3], RULES[0]], TEAMS).team_id == PRICING_TEAM


def test_no_rules_at_all_goes_to_the_fallback():
    assert route_dispute(facts(), [], TEAMS).team_id == FALLBACK_TEAM


@pytest.mark.parametrize(("members", "strategy", "last", "expected"), [
    ((), S.ROUND_ROBIN, None, None),
    ((Member(1, away=True), Member(2, away=True)), S.LEAST_OPEN_LOAD, None, None),
    ((Member(3, 1), Member(1, 1), Member(2, 1)), S.LEAST_OPEN_LOAD, None, 1),   # tie: lowest id
    ((Member(1, 9), Member(2, 0, away=True), Member(3, 4)), S.LEAST_OPEN_LOAD, None, 3),
    ((Member(5), Member(1), Member(3)), S.ROUND_ROBIN, 3, 5),                   # id order, not list order
    ((Member(5), Member(1), Member(3, away=True)), S.ROUND_ROBIN, 1, 5),        # away skipped
    ((Member(5), Member(1)), S.ROUND_ROBIN, 5, 1),                              # wraps
    ((Member(7),), S.ROUND_ROBIN, 7, 7),                                        # alone: again
])
def test_choose_assignee(members, strategy, last, expected):
    assert choose_assignee(members, strategy, last) == expected


def test_round_robin_spreads_evenly_over_many_disputes():
    team = TeamInfo(1, (Member(1), Member(2), Member(3, away=True), Member(4)))
    last, counts = None, {}
    for _ in range(30):
        last = route_dispute(facts(), [Rule(1, 1, S.ROUND_ROBIN, P.NORMAL, SlaTargets(8, 5))], {1: team},
                             {1: last} if last else {}).assignee_id
        counts[last] = counts.get(last, 0) + 1
    assert counts == {1: 10, 2: 10, 4: 10}
