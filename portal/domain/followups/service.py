"""Writing follow-ups: raising one (routed, idempotent), its thread, and moving its status.

Every kind's own flow (the clerk's form, what resolving it does at the source) lives beside
this, in the area that owns the source, and calls these functions; they audit each step.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.followups.models import MAX_TEXT_LENGTH, Followup, FollowupEvent, FollowupFile, FollowupInvoice
from portal.domain.followups.policy import QueueTeam, parse_queues, route_followup
from portal.domain.followups.states import (
    ACTIVE, FOLLOWUP_TRANSITIONS, KIND_QUEUES, KIND_SOURCES, FollowupKind, FollowupSource, FollowupStatus,
)
from portal.domain.payments.service import lock_customer
from portal.domain.routing.policy import Member
from portal.domain.routing.service import team_calendar
from portal.domain.staff.models import Team, TeamMembership
from portal.domain.staff.states import StaffStatus


def _clean_text(value: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueError(f"follow-up text over {MAX_TEXT_LENGTH} characters")
    return value


def active_loads(db: Session) -> dict[int, int]:
    """Active follow-ups per assignee (staff id)."""
    return dict(db.execute(
        select(Followup.assignee_id, func.count()).where(Followup.status.in_(ACTIVE), Followup.assignee_id.is_not(None))
        .group_by(Followup.assignee_id)
    ).all())


def queue_teams(db: Session) -> list[QueueTeam]:
    loads = active_loads(db)
    teams = db.scalars(select(Team).options(selectinload(Team.memberships).selectinload(TeamMembership.staff)))
    return [
        QueueTeam(
            id=team.id, queues=parse_queues(team.followup_queues or ()), calendar=team_calendar(team),
            is_fallback=team.is_fallback,
            members=tuple(Member(m.staff_id, loads.get(m.staff_id, 0), m.staff.away)
                          for m in team.memberships if m.staff.status == StaffStatus.ACTIVE),
        )
        for team in teams
    ]


def raise_followup(
    ctx: Context, *, kind: FollowupKind | str, customer_id: int, invoice_ids: Sequence[int] = (),
    details: dict | None = None, note: str = "", contact_id: int | None = None, link_id: int | None = None,
    request_key: str | None = None, dedupe_key: str | None = None,
) -> tuple[Followup, bool]:
    """Raise a follow-up of `kind` about `invoice_ids` of one customer, routed to its queue's
    team and person; `(followup, created)`.

    Idempotent: the same `request_key` for the customer (a clerk's double submit), or the same
    `dedupe_key` (a system event seen twice), returns the follow-up the first call raised,
    with `created` False. The customer row is locked first (as payments do), so two requests
    at once cannot both raise it. Callers have parsed and checked their input; this checks
    only what it owns. The caller commits.
    """
    db, now = ctx.db, ctx.clock.now()
    kind = FollowupKind(kind)
    source = KIND_SOURCES[kind]
    if source == FollowupSource.CUSTOMER and contact_id is None:
        raise ValueError("a customer's report names the contact who made it")
    if len(set(invoice_ids)) != len(invoice_ids):
        raise ValueError("an invoice appears twice")
    note = _clean_text(note)
    lock_customer(db, customer_id)
    existing = None
    if request_key is not None:
        existing = db.scalar(select(Followup).where(Followup.customer_id == customer_id,
                                                    Followup.request_key == request_key))
    if existing is None and dedupe_key is not None:
        existing = db.scalar(select(Followup).where(Followup.dedupe_key == dedupe_key))
    if existing is not None:
        return existing, False
    queue = KIND_QUEUES[kind]
    route = route_followup(queue, queue_teams(db), now)
    followup = Followup(
        customer_id=customer_id, kind=kind.value, queue=queue.value, source=source.value,
        status=FollowupStatus.OPEN.value, team_id=route.team_id, assignee_id=route.assignee_id,
        reported_by_contact_id=contact_id, link_id=link_id, request_key=request_key, dedupe_key=dedupe_key,
        details=dict(details or {}), note=note, outcome="", due_at=route.due_at, created_at=now, updated_at=now,
        resolved_at=None, invoices=[FollowupInvoice(invoice_id=invoice_id) for invoice_id in invoice_ids],
    )
    db.add(followup)
    db.flush()
    followup.events.append(FollowupEvent(action="raised", contact_id=contact_id, text=note, for_customer=False,
                                         created_at=now))
    audit.record(db, ctx.clock, ctx.actor, "followup.raised", "followup", followup.public_id, after={
        "kind": kind.value, "queue": queue.value, "team_id": route.team_id, "assignee_id": route.assignee_id,
        "invoices": len(invoice_ids),
    })
    return followup, True


def add_event(ctx: Context, followup: Followup, action: str, *, text: str = "", staff_id: int | None = None,
              contact_id: int | None = None, for_customer: bool = False) -> FollowupEvent:
    """Add a step to the thread (a note, a question, an answer), audited."""
    now = ctx.clock.now()
    event = FollowupEvent(action=action, staff_id=staff_id, contact_id=contact_id, text=_clean_text(text),
                          for_customer=for_customer, created_at=now)
    followup.events.append(event)
    followup.updated_at = now
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, f"followup.{action}", "followup", followup.public_id,
                 after={"for_customer": for_customer, "length": len(event.text)})
    return event


def attach_file(ctx: Context, followup: Followup, file_id: int, event: FollowupEvent | None = None) -> FollowupFile:
    link = FollowupFile(followup_id=followup.id, event_id=event.id if event is not None else None, file_id=file_id,
                        created_at=ctx.clock.now())
    ctx.db.add(link)
    ctx.db.flush()
    return link


def move_followup(ctx: Context, followup: Followup, target: FollowupStatus | str, *, outcome: str = "",
                  text: str = "", staff_id: int | None = None, contact_id: int | None = None,
                  for_customer: bool = False) -> Followup:
    """Move the status by the transition table (`InvalidTransition` otherwise), with a thread
    event saying why; a final status records `outcome` and the time."""
    now = ctx.clock.now()
    before = followup.status
    target = FOLLOWUP_TRANSITIONS.check(followup.status, target, followup.public_id)
    followup.status = target.value
    followup.updated_at = now
    if target not in ACTIVE:
        followup.outcome = outcome
        followup.resolved_at = now
    followup.events.append(FollowupEvent(action=target.value, staff_id=staff_id, contact_id=contact_id,
                                         text=_clean_text(text), for_customer=for_customer, created_at=now))
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, f"followup.{target.value}", "followup", followup.public_id,
                 before={"status": before}, after={"status": target.value, "outcome": outcome})
    return followup


def assign_followup(ctx: Context, followup: Followup, assignee_id: int | None) -> Followup:
    before = followup.assignee_id
    followup.assignee_id = assignee_id
    followup.updated_at = ctx.clock.now()
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "followup.assigned", "followup", followup.public_id,
                 before={"assignee_id": before}, after={"assignee_id": assignee_id})
    return followup
