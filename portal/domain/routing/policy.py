"""Pure routing and SLA decisions: no database, no clock, no outside service.

`route_dispute` takes a plain description of a new dispute, the ordered rules, the teams with
their members (open load, away flag) and the last member each team assigned, and answers
where the dispute goes: team, assignee (None when nobody in the team is available), priority
and SLA targets. The first active rule that matches wins; when none does (or its team is
gone) the fallback team takes the dispute with `FALLBACK_ROUTE`'s targets.

`add_business_time` and `sla_due_times` turn SLA targets into due moments in a team's
business calendar: only its business days and hours count, in its own time zone (zoneinfo,
so a DST change moves nothing by an hour), and paused intervals (waiting for the customer)
do not count at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, UTC
from zoneinfo import ZoneInfo

from portal.domain.core.money import Money
from portal.domain.routing.states import AssignmentStrategy, Priority

# The supplier's default dispute reasons (the customer picks one when raising a dispute).
DEFAULT_DISPUTE_REASONS = (
    "pricing", "quantity_short", "not_received", "damaged", "po_missing", "duplicate_billing", "tax",
    "service_quality", "other",
)


# ---------------------------------------------------------------------------------------------
# Inputs and the decision


@dataclass(frozen=True)
class DisputeFacts:
    """What routing knows about a new dispute."""

    reason: str
    amount: Money
    customer_id: int
    customer_tags: frozenset[str] = frozenset()

    @property
    def currency(self) -> str:
        return self.amount.currency


@dataclass(frozen=True)
class SlaTargets:
    first_response_hours: int
    resolution_days: int


@dataclass(frozen=True)
class Rule:
    """One routing rule as the decision sees it (built from a `RoutingRule` row)."""

    id: int
    team_id: int
    strategy: AssignmentStrategy
    priority: Priority
    sla: SlaTargets
    reasons: frozenset[str] = frozenset()
    currency: str | None = None
    min_amount_minor: int | None = None
    max_amount_minor: int | None = None
    customer_id: int | None = None
    customer_tags: frozenset[str] = frozenset()
    active: bool = True

    def matches(self, facts: DisputeFacts) -> bool:
        if not self.active:
            return False
        if self.reasons and facts.reason not in self.reasons:
            return False
        if self.currency is not None and facts.currency != self.currency:
            return False
        # Amount bounds exist only with a currency (a CHECK constraint), so minor units of one
        # currency are never compared with another's.
        if self.min_amount_minor is not None and facts.amount.minor < self.min_amount_minor:
            return False
        if self.max_amount_minor is not None and facts.amount.minor > self.max_amount_minor:
            return False
        if self.customer_id is not None and facts.customer_id != self.customer_id:
            return False
        return self.customer_tags <= facts.customer_tags


@dataclass(frozen=True)
class Member:
    staff_id: int
    open_load: int = 0
    away: bool = False


@dataclass(frozen=True)
class BusinessCalendar:
    """When a team's SLA clock runs: ISO weekdays (1 = Monday) and local opening hours."""

    timezone: str = "UTC"
    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    opens_minute: int = 9 * 60
    closes_minute: int = 17 * 60

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(1, 8)):
            raise ValueError("a business calendar needs at least one weekday (1-7)")
        if not 0 <= self.opens_minute < self.closes_minute <= 24 * 60:
            raise ValueError("business hours must open before they close, within one day")
        ZoneInfo(self.timezone)  # unknown zones fail here, not halfway through a computation

    @property
    def day_length(self) -> timedelta:
        return timedelta(minutes=self.closes_minute - self.opens_minute)

    @classmethod
    def from_digits(cls, timezone: str, days: str, opens_minute: int, closes_minute: int) -> BusinessCalendar:
        return cls(timezone, frozenset(int(day) for day in days), opens_minute, closes_minute)


@dataclass(frozen=True)
class TeamInfo:
    id: int
    members: tuple[Member, ...] = ()
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    is_fallback: bool = False


@dataclass(frozen=True)
class RouteDefaults:
    strategy: AssignmentStrategy
    priority: Priority
    sla: SlaTargets


# What a dispute no rule matches gets, in the fallback team.
FALLBACK_ROUTE = RouteDefaults(AssignmentStrategy.LEAST_OPEN_LOAD, Priority.NORMAL, SlaTargets(24, 10))
# The calendar when there is no team at all (no fallback configured yet).
DEFAULT_CALENDAR = BusinessCalendar()


@dataclass(frozen=True)
class RouteDecision:
    team_id: int | None  # None only when no rule matched and no fallback team exists
    assignee_id: int | None  # None when nobody in the team is available (all away, or none)
    priority: Priority
    sla: SlaTargets
    calendar: BusinessCalendar
    rule_id: int | None  # the rule that matched; None for the fallback


def route_dispute(facts: DisputeFacts, rules: Sequence[Rule], teams: Mapping[int, TeamInfo],
                  last_assignees: Mapping[int, int] | None = None) -> RouteDecision:
    """Where a new dispute goes. `rules` in their order; `last_assignees` maps a team id to the
    staff id it assigned most recently (for round-robin)."""
    last_assignees = last_assignees or {}
    for rule in rules:
        team = teams.get(rule.team_id)
        if team is not None and rule.matches(facts):
            return RouteDecision(team.id, choose_assignee(team.members, rule.strategy, last_assignees.get(team.id)),
                                 rule.priority, rule.sla, team.calendar, rule.id)
    fallback = next((team for team in teams.values() if team.is_fallback), None)
    if fallback is None:
        return RouteDecision(None, None, FALLBACK_ROUTE.priority, FALLBACK_ROUTE.sla, DEFAULT_CALENDAR, None)
    assignee = choose_assignee(fallback.members, FALLBACK_ROUTE.strategy, last_assignees.get(fallback.id))
    return RouteDecision(fallback.id, assignee, FALLBACK_ROUTE.priority, FALLBACK_ROUTE.sla, fallback.calendar, None)


def choose_assignee(members: Iterable[Member], strategy: AssignmentStrategy | str,
                    last_assignee: int | None = None) -> int | None:
    """The member to assign, skipping those away; None when nobody is available.

    Round-robin walks members in staff-id order and takes the first after `last_assignee`,
    wrapping around (a last assignee who left the team or is away simply is not there).
    Least open load takes the fewest open disputes, the lower staff id on a tie.
    """
    available = sorted((member for member in members if not member.away), key=lambda member: member.staff_id)
    if not available:
        return None
    if AssignmentStrategy(strategy) == AssignmentStrategy.ROUND_ROBIN:
        if last_assignee is None:
            return available[0].staff_id
        after = [member for member in available if member.staff_id > last_assignee]
        return (after or available)[0].staff_id
    return min(available, key=lambda member: (member.open_load, member.staff_id)).staff_id


# ---------------------------------------------------------------------------------------------
# SLA clock

# A target further out than this many calendar days is a configuration error, not a date.
MAX_SEARCH_DAYS = 3 * 366


@dataclass(frozen=True)
class Pause:
    """The SLA clock stopped from `start` until `end` (None: still stopped)."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class SlaDue:
    """When the first response and the resolution are due; None while the clock is stopped
    before the target is reached (the date moves when it runs again)."""

    first_response_due: datetime | None
    resolution_due: datetime | None


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("SLA times must be timezone-aware")
    return moment.astimezone(UTC)


def _business_intervals(calendar: BusinessCalendar, start: datetime):
    """(open, close) in UTC for each business day from `start`'s local date on, in order."""
    zone = ZoneInfo(calendar.timezone)
    day: date = start.astimezone(zone).date()
    for _ in range(MAX_SEARCH_DAYS):
        if day.isoweekday() in calendar.days:
            opens = _local_moment(day, calendar.opens_minute, zone)
            closes = _local_moment(day, calendar.closes_minute, zone)
            if closes > start:
                yield max(opens, start), closes
        day += timedelta(days=1)
    raise ValueError(f"no business time found within {MAX_SEARCH_DAYS} days")


def _local_moment(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """`minute` minutes after local midnight of `day`, as UTC. Wall-clock times, so 09:00
    stays 09:00 on either side of a DST change (a time the change skips is read as zoneinfo
    reads it: with the offset before the change)."""
    if minute == 24 * 60:
        day, minute = day + timedelta(days=1), 0
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return local.astimezone(UTC)


def _merged(pauses: Iterable[Pause]) -> list[tuple[datetime, datetime | None]]:
    spans = sorted(((_aware(p.start), None if p.end is None else _aware(p.end)) for p in pauses),
                   key=lambda span: span[0])
    merged: list[tuple[datetime, datetime | None]] = []
    for start, end in spans:
        if end is not None and end <= start:
            continue
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):
            last_start, last_end = merged[-1]
            merged[-1] = (last_start, None if end is None or last_end is None else max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _without_pauses(opens: datetime, closes: datetime, pauses: list[tuple[datetime, datetime | None]]):
    """The parts of [opens, closes) outside every pause, in order."""
    cursor = opens
    for start, end in pauses:
        if end is not None and end <= cursor:
            continue
        if start >= closes:
            break
        if start > cursor:
            yield cursor, start
        if end is None:
            return
        cursor = max(cursor, end)
        if cursor >= closes:
            return
    if cursor < closes:
        yield cursor, closes


def add_business_time(start: datetime, amount: timedelta, calendar: BusinessCalendar,
                      pauses: Iterable[Pause] = ()) -> datetime | None:
    """The moment `amount` of business time after `start`: only the calendar's business hours
    count, and none of the paused time. None when an open-ended pause stops the clock first."""
    start = _aware(start)
    if amount < timedelta(0):
        raise ValueError("business time only runs forward")
    merged = _merged(pauses)
    remaining = amount
    for opens, closes in _business_intervals(calendar, start):
        for piece_start, piece_end in _without_pauses(opens, closes, merged):
            if piece_end - piece_start >= remaining:
                return piece_start + remaining
            remaining -= piece_end - piece_start
        if merged and merged[-1][1] is None and merged[-1][0] <= closes:
            return None  # stopped for good (until the pause ends)
    raise AssertionError("unreachable: _business_intervals raises first")


def sla_due_times(start: datetime, sla: SlaTargets, calendar: BusinessCalendar,
                  pauses: Iterable[Pause] = ()) -> SlaDue:
    """First response due `first_response_hours` business hours after `start`; resolution due
    `resolution_days` business days after it (a business day being the team's opening hours,
    so a dispute raised at 10:00 on a Monday with 5 days is due at 10:00 the next Monday, and
    one raised on a Saturday counts from Monday's opening)."""
    pauses = tuple(pauses)
    return SlaDue(
        first_response_due=add_business_time(start, timedelta(hours=sla.first_response_hours), calendar, pauses),
        resolution_due=add_business_time(start, calendar.day_length * sla.resolution_days, calendar, pauses),
    )
