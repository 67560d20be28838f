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
from datetime import date, datetime, timedelta

from portal.domain.core.errors import DomainError, FieldName
from portal.domain.core.locales import N_
from portal.domain.followups.states import FollowupQueue, OfflineMethod
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


# ---------------------------------------------------------------------------------------------
# What the clerk reports, and what staff answer: checked before anything is locked or written.

MAX_INVOICES_PER_REPORT = 20
MAX_REFERENCE_LENGTH = 100
MAX_ANSWER_LENGTH = 2000
# How far back a reported payment may be dated: older than this is a statement question.
MAX_PAID_DAYS_AGO = 365


class FollowupRefused(DomainError):
    """A report or a step on a follow-up that cannot be accepted, with the reason to show."""


def check_paid_on(paid_on: date, today: date) -> date:
    """The day the clerk says they paid: not after `today` (their own date), not more than
    `MAX_PAID_DAYS_AGO` days before it."""
    if paid_on > today:
        raise FollowupRefused(N_("The payment date cannot be in the future."))
    if paid_on < today - timedelta(days=MAX_PAID_DAYS_AGO):
        raise FollowupRefused(N_("The payment date must be within the last %(limit)s days."), limit=MAX_PAID_DAYS_AGO)
    return paid_on


def check_offline_method(value: str) -> OfflineMethod:
    try:
        return OfflineMethod(value)
    except ValueError:
        raise FollowupRefused(N_("Choose how you paid.")) from None


def check_reference(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise FollowupRefused(N_("Enter the payment's reference (the wire or check number, or your payment run's id)."))
    if len(value) > MAX_REFERENCE_LENGTH:
        raise FollowupRefused(N_("The reference can be at most %(count)s characters."), count=MAX_REFERENCE_LENGTH)
    return value


# The clerk's words on a report, as refusals name them (staff's own fields stay English).
THE_NOTE = FieldName(N_("The note"), N_("the note"))
YOUR_ANSWER = FieldName(N_("Your answer"), N_("your answer"))


def check_text(value: str, what: FieldName, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise FollowupRefused(N_("Write %(what)s."), what=what.object)
    if len(value) > MAX_ANSWER_LENGTH:
        raise FollowupRefused(N_("%(what)s can be at most %(count)s characters."), what=what.subject,
                              count=MAX_ANSWER_LENGTH)
    return value


def allocate_received(amount_minor: int, payable: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spread money received over invoices `(invoice id, payable minor)` in the order given,
    each up to what is payable on it: `[(invoice id, amount)]` for the invoices it reaches.
    More than all of them together is refused (staff record the rest as it is explained)."""
    if amount_minor <= 0:
        raise FollowupRefused("The amount received must be more than zero.")
    if amount_minor > sum(max(minor, 0) for _, minor in payable):
        raise FollowupRefused("That is more than is open on these invoices.")
    allocations, left = [], amount_minor
    for invoice_id, minor in payable:
        if left == 0:
            break
        share = min(max(minor, 0), left)
        if share > 0:
            allocations.append((invoice_id, share))
            left -= share
    return allocations
