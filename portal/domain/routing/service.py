"""Editing the routing rules (admins) and routing a new dispute with them.

`route_new_dispute` is what the disputes area calls: it reads the rules and teams, then asks
the pure `policy.route_dispute`. The open load of each member and each team's last assignee
come from the caller, who owns the disputes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.errors import DomainError, NotFound
from portal.domain.core.money import MoneyError, normalize_currency
from portal.domain.customers.models import Customer
from portal.domain.routing.models import RoutingRule
from portal.domain.routing.policy import (
    BusinessCalendar, DisputeFacts, Member, RouteDecision, Rule, SlaTargets, TeamInfo, route_dispute,
)
from portal.domain.routing.states import AssignmentStrategy, Priority
from portal.domain.staff.models import StaffMember, Team, TeamMembership
from portal.domain.staff.states import StaffStatus

MAX_TAGS = 10
MAX_FIRST_RESPONSE_HOURS = 24 * 30
MAX_RESOLUTION_DAYS = 120


@dataclass(frozen=True)
class RuleDetails:
    """A rule as an admin enters it; amounts already parsed to minor units of `currency`."""

    name: str
    team_id: int
    strategy: str
    priority: str
    first_response_hours: int
    resolution_days: int
    reasons: tuple[str, ...] = ()
    currency: str | None = None
    min_amount_minor: int | None = None
    max_amount_minor: int | None = None
    customer_id: int | None = None
    customer_tags: tuple[str, ...] = ()
    active: bool = True


def _checked(db: Session, details: RuleDetails) -> RuleDetails:
    name = (details.name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("Give the rule a name of at most 100 characters.")
    try:
        strategy, priority = AssignmentStrategy(details.strategy), Priority(details.priority)
    except ValueError:
        raise DomainError("Choose an assignment strategy and a priority from the lists.") from None
    if not 0 < details.first_response_hours <= MAX_FIRST_RESPONSE_HOURS:
        raise DomainError(f"Hours to first response: 1 to {MAX_FIRST_RESPONSE_HOURS}.")
    if not 0 < details.resolution_days <= MAX_RESOLUTION_DAYS:
        raise DomainError(f"Business days to resolution: 1 to {MAX_RESOLUTION_DAYS}.")
    currency = None
    if details.currency:
        try:
            currency = normalize_currency(details.currency)
        except MoneyError as error:
            raise DomainError(str(error)) from None
    low, high = details.min_amount_minor, details.max_amount_minor
    if (low is not None or high is not None) and currency is None:
        raise DomainError("An amount range needs a currency.")
    if (low is not None and low < 0) or (high is not None and high < 0):
        raise DomainError("Amounts cannot be negative.")
    if low is not None and high is not None and low > high:
        raise DomainError("The smallest amount must not be above the largest.")
    if db.get(Team, details.team_id) is None:
        raise NotFound("That team does not exist.")
    if details.customer_id is not None and db.get(Customer, details.customer_id) is None:
        raise NotFound("That customer does not exist.")
    tags = tuple(sorted({tag.strip().lower() for tag in details.customer_tags if tag.strip()}))
    if len(tags) > MAX_TAGS or any(len(tag) > 40 for tag in tags):
        raise DomainError(f"At most {MAX_TAGS} tags of at most 40 characters.")
    reasons = tuple(sorted(set(details.reasons)))
    return RuleDetails(name, details.team_id, strategy, priority, details.first_response_hours,
                       details.resolution_days, reasons, currency, low, high, details.customer_id, tags,
                       bool(details.active))


def _snapshot(rule: RoutingRule) -> dict:
    return {"position": rule.position, "name": rule.name, "active": rule.active, "reasons": list(rule.reasons),
            "currency": rule.currency, "min_amount_minor": rule.min_amount_minor,
            "max_amount_minor": rule.max_amount_minor, "customer_id": rule.customer_id,
            "customer_tags": list(rule.customer_tags), "team_id": rule.team_id, "strategy": rule.strategy,
            "priority": rule.priority, "first_response_hours": rule.first_response_hours,
            "resolution_days": rule.resolution_days}


def _apply(rule: RoutingRule, details: RuleDetails) -> None:
    rule.name, rule.team_id, rule.strategy, rule.priority = (details.name, details.team_id, details.strategy,
                                                             details.priority)
    rule.first_response_hours, rule.resolution_days = details.first_response_hours, details.resolution_days
    rule.reasons, rule.currency = list(details.reasons), details.currency
    rule.min_amount_minor, rule.max_amount_minor = details.min_amount_minor, details.max_amount_minor
    rule.customer_id, rule.customer_tags, rule.active = details.customer_id, list(details.customer_tags), details.active


def create_rule(ctx: Context, details: RuleDetails) -> RoutingRule:
    """A new rule, placed last."""
    details = _checked(ctx.db, details)
    last = ctx.db.scalar(select(func.max(RoutingRule.position))) or 0
    now = ctx.clock.now()
    rule = RoutingRule(position=last + 1, created_at=now, updated_at=now)
    _apply(rule, details)
    ctx.db.add(rule)
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "routing_rule.created", "routing_rule", rule.public_id,
                 after=_snapshot(rule))
    return rule


def update_rule(ctx: Context, rule: RoutingRule, details: RuleDetails) -> RoutingRule:
    details = _checked(ctx.db, details)
    before = _snapshot(rule)
    _apply(rule, details)
    rule.updated_at = ctx.clock.now()
    ctx.db.flush()
    after = _snapshot(rule)
    if after != before:
        audit.record(ctx.db, ctx.clock, ctx.actor, "routing_rule.updated", "routing_rule", rule.public_id,
                     before=before, after=after)
    return rule


def move_rule(ctx: Context, rule: RoutingRule, direction: str) -> None:
    """Move a rule one place "up" (earlier, matched first) or "down"; the list is renumbered
    1..n so positions stay dense."""
    if direction not in ("up", "down"):
        raise DomainError("Move a rule up or down.")
    rules = list(ctx.db.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)))
    index = next(i for i, candidate in enumerate(rules) if candidate.id == rule.id)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rules):
        return
    order_before = [candidate.public_id for candidate in rules]
    rules[index], rules[other] = rules[other], rules[index]
    for position, candidate in enumerate(rules, start=1):
        candidate.position = position
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "routing_rule.moved", "routing_rule", rule.public_id,
                 before={"order": order_before}, after={"order": [candidate.public_id for candidate in rules]})


def delete_rule(ctx: Context, rule: RoutingRule) -> None:
    audit.record(ctx.db, ctx.clock, ctx.actor, "routing_rule.deleted", "routing_rule", rule.public_id,
                 before=_snapshot(rule))
    ctx.db.delete(rule)
    ctx.db.flush()


# ---------------------------------------------------------------------------------------------
# Reading rules and teams for the decision


def rules_in_order(db: Session) -> list[RoutingRule]:
    return list(db.scalars(select(RoutingRule).options(selectinload(RoutingRule.team),
                                                       selectinload(RoutingRule.customer))
                           .order_by(RoutingRule.position, RoutingRule.id)))


def rule_by_public_id(db: Session, public_id: str) -> RoutingRule:
    rule = db.scalar(select(RoutingRule).where(RoutingRule.public_id == public_id))
    if rule is None:
        raise NotFound()
    return rule


def as_policy_rule(rule: RoutingRule) -> Rule:
    return Rule(
        id=rule.id, team_id=rule.team_id, strategy=AssignmentStrategy(rule.strategy), priority=Priority(rule.priority),
        sla=SlaTargets(rule.first_response_hours, rule.resolution_days), reasons=frozenset(rule.reasons),
        currency=rule.currency, min_amount_minor=rule.min_amount_minor, max_amount_minor=rule.max_amount_minor,
        customer_id=rule.customer_id, customer_tags=frozenset(rule.customer_tags), active=rule.active,
    )


def team_calendar(team: Team) -> BusinessCalendar:
    return BusinessCalendar.from_digits(team.timezone, team.business_days, team.opens_minute, team.closes_minute)


def teams_for_routing(db: Session, open_loads: Mapping[int, int]) -> dict[int, TeamInfo]:
    """Every team with its active members (their open load from `open_loads`, by staff id)."""
    teams = db.scalars(select(Team).options(
        selectinload(Team.memberships).selectinload(TeamMembership.staff)))
    return {
        team.id: TeamInfo(
            id=team.id, calendar=team_calendar(team), is_fallback=team.is_fallback,
            members=tuple(Member(m.staff_id, open_loads.get(m.staff_id, 0), m.staff.away)
                          for m in team.memberships if m.staff.status == StaffStatus.ACTIVE),
        )
        for team in teams
    }


def route_new_dispute(db: Session, facts: DisputeFacts, *, open_loads: Mapping[int, int],
                      last_assignees: Mapping[int, int]) -> RouteDecision:
    """Route a dispute with the rules and teams as they are now (three queries)."""
    rules = [as_policy_rule(rule) for rule in db.scalars(
        select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id))]
    return route_dispute(facts, rules, teams_for_routing(db, open_loads), last_assignees)


def staff_names(db: Session, staff_ids: list[int]) -> dict[int, str]:
    return dict(db.execute(select(StaffMember.id, StaffMember.name).where(StaffMember.id.in_(staff_ids))).all())
