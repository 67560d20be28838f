"""Pure decisions about follow-ups: which team takes one, who in it, and when it is due.

A team takes the queues listed in its `followup_queues` (cash application, billing,
collections); the first such team by id takes a queue, the fallback team what no team lists.
Inside the team the available member with the fewest active follow-ups is assigned (nobody
when all are away). The due time is the queue's target in the team's business hours
(`routing.policy.add_business_time`), so a report on Friday evening is due on Monday.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from portal.domain.followups.states import FollowupQueue
from portal.domain.routing.policy import (
    DEFAULT_CALENDAR, AssignmentStrategy, BusinessCalendar, Member, add_business_time, choose_assignee,
)

# Business hours from report to "due", per queue.
DEFAULT_DUE_HOURS: Mapping[FollowupQueue, int] = {
    FollowupQueue.CASH_APPLICATION: 16,  # two business days: the bank statement has to show it
    FollowupQueue.BILLING: 8,            # one business day to re-issue an invoice
    FollowupQueue.COLLECTIONS: 8,
}


@dataclass(frozen=True)
class QueueTeam:
    id: int
    queues: frozenset[FollowupQueue] = frozenset()
    members: tuple[Member, ...] = ()
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    is_fallback: bool = False


@dataclass(frozen=True)
class FollowupRoute:
    team_id: int | None      # None only when no team lists the queue and there is no fallback
    assignee_id: int | None  # None when nobody in the team is available
    due_at: datetime


def route_followup(queue: FollowupQueue, teams: Sequence[QueueTeam], now: datetime,
                   due_hours: Mapping[FollowupQueue, int] = DEFAULT_DUE_HOURS) -> FollowupRoute:
    queue = FollowupQueue(queue)
    ordered = sorted(teams, key=lambda team: team.id)
    team = next((team for team in ordered if queue in team.queues), None)
    if team is None:
        team = next((team for team in ordered if team.is_fallback), None)
    calendar = team.calendar if team is not None else DEFAULT_CALENDAR
    due_at = add_business_time(now, timedelta(hours=due_hours[queue]), calendar)
    assert due_at is not None  # no pauses given: the clock always reaches the target
    if team is None:
        return FollowupRoute(None, None, due_at)
    return FollowupRoute(team.id, choose_assignee(team.members, AssignmentStrategy.LEAST_OPEN_LOAD), due_at)


def parse_queues(values: Iterable[str]) -> frozenset[FollowupQueue]:
    """A team's stored queue names as members; an unknown name is a programming error."""
    return frozenset(FollowupQueue(value) for value in values)
