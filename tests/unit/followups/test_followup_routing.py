"""Which team and person a follow-up goes to, and when it is due, as a table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.domain.followups.policy import DEFAULT_DUE_HOURS, QueueTeam, route_followup
from portal.domain.followups.states import KIND_QUEUES, KIND_SOURCES, FollowupKind, FollowupQueue as Q
from portal.domain.routing.policy import BusinessCalendar, Member

CASH, BILLING, FALLBACK, AWAY = 1, 2, 3, 4
TOKYO = BusinessCalendar("Asia/Tokyo")
TEAMS = [
    QueueTeam(BILLING, frozenset({Q.BILLING}), (Member(21, 4), Member(22, 1)), calendar=TOKYO),
    QueueTeam(CASH, frozenset({Q.CASH_APPLICATION}), (Member(11, 2), Member(12, 2), Member(13, 0, away=True))),
    QueueTeam(FALLBACK, frozenset(), (Member(31, 0),), is_fallback=True),
    QueueTeam(AWAY, frozenset({Q.CASH_APPLICATION}), (Member(41, 0, away=True),)),
]
# A Monday, 10:00 UTC (19:00 in Tokyo, after hours there).
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
FRIDAY_16 = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(("queue", "teams", "now", "team", "assignee", "due"), [
    # The first team (by id) listing the queue; the least loaded available member, lower id on a tie.
    # 16 business hours: 7 on Monday, 8 on Tuesday, 1 on Wednesday.
    (Q.CASH_APPLICATION, TEAMS, MONDAY_10, CASH, 11, datetime(2026, 12, 2, 10, 0, tzinfo=UTC)),
    # Counted in the team's own hours: Tokyo is closed at 19:00, opens Tuesday 09:00 (00:00 UTC),
    # and 8 hours later is 17:00 there.
    (Q.BILLING, TEAMS, MONDAY_10, BILLING, 22, datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
    # No team lists collections: the fallback takes it. Friday 16:00 + 8 hours: 1 on Friday, 7 on Monday.
    (Q.COLLECTIONS, TEAMS, FRIDAY_16, FALLBACK, 31, datetime(2026, 12, 7, 16, 0, tzinfo=UTC)),
    # No team at all: nobody, due in the default calendar.
    (Q.COLLECTIONS, [], MONDAY_10, None, None, datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
    # The only team listing the queue has nobody available: the team, nobody assigned.
    (Q.CASH_APPLICATION, [TEAMS[3]], MONDAY_10, AWAY, None, datetime(2026, 12, 2, 10, 0, tzinfo=UTC)),
])
def test_route(queue, teams, now, team, assignee, due):
    route = route_followup(queue, teams, now)
    assert (route.team_id, route.assignee_id, route.due_at) == (team, assignee, due)


def test_every_kind_has_a_queue_and_a_source_and_every_queue_a_target():
    assert set(KIND_QUEUES) == set(FollowupKind) == set(KIND_SOURCES)
    assert set(DEFAULT_DUE_HOURS) == set(Q)
