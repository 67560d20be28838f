"""What the disputes area emails our own staff: the owner of a dispute when it arrives, when
the customer writes in its thread or answers our question, and when it is given to them; the
supervisors when an SLA date is near or past (`jobs.warn_sla_at_risk` picks the disputes).

Who owns a dispute: its assignee while they are active; with nobody (active) assigned, the
active members of its team who are not away; with neither, nobody is emailed. The staff
member whose action it was (reassigning a dispute to themselves) is never told of it.

A staff email links to the dispute's admin page by its absolute address on the portal
(`PUBLIC_URL` + `/admin/disputes/<public id>`): that page asks for the staff sign-in, so no
signed link is made and nothing in the email opens anything by itself. It names the customer,
the reason, the amount and the SLA dates (in the recipient's own time zone, one message per
recipient), and quotes what the customer wrote: every line marked in the text part, escaped
in the HTML part, so it cannot pass for a line of ours.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock
from portal.domain.core.context import Context
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.disputes.models import Dispute, DisputeInvoice, DisputeReason
from portal.domain.disputes.policy import SLA_TARGET_LABELS, SlaDue, duration_text
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import enqueue
from portal.domain.staff.models import StaffMember, Team, TeamMembership
from portal.domain.staff.states import StaffRole, StaffStatus

log = logging.getLogger(__name__)

# The admin blueprint's page of one dispute (`admin.dispute`), under PUBLIC_URL.
ADMIN_DISPUTE_PATH = "/admin/disputes/{public_id}"
# Keys looked up at once when checking which warnings were already queued.
_KEYS_PER_LOOKUP = 500


class StaffNotice(StrEnum):
    RAISED = "raised"
    CUSTOMER_WROTE = "customer_wrote"
    CUSTOMER_ANSWERED = "customer_answered"  # the answer to our request for information
    REASSIGNED = "reassigned"


@dataclass(frozen=True)
class StaffMail:
    """What a staff email needs: who we are, and the portal's address its link is built on."""

    supplier: SupplierDetails

    def dispute_url(self, dispute: Dispute) -> str:
        return self.supplier.url(ADMIN_DISPUTE_PATH.format(public_id=dispute.public_id))


@dataclass(frozen=True)
class DisputeSummary:
    """What a staff email says about a dispute."""

    dispute: Dispute
    customer_name: str
    reason: str
    amount: Money
    invoice_numbers: tuple[str, ...]
    team: str | None
    assignee: str | None


def summaries(db: Session, disputes: Sequence[Dispute]) -> dict[int, DisputeSummary]:
    """Customer, reason, amount, invoices and owner of each dispute, by dispute id (four
    statements, however many disputes)."""
    if not disputes:
        return {}
    ids = [d.id for d in disputes]
    names = dict(db.execute(select(Customer.id, Customer.name)
                            .where(Customer.id.in_({d.customer_id for d in disputes}))).all())
    reasons = dict(db.execute(select(DisputeReason.id, DisputeReason.label)
                              .where(DisputeReason.id.in_({d.reason_id for d in disputes}))).all())
    covered: dict[int, list[tuple[str, int]]] = {}
    for dispute_id, number, disputed in db.execute(
        select(DisputeInvoice.dispute_id, Invoice.number, DisputeInvoice.disputed_minor)
        .join(Invoice, Invoice.id == DisputeInvoice.invoice_id)
        .where(DisputeInvoice.dispute_id.in_(ids)).order_by(Invoice.number)
    ):
        covered.setdefault(dispute_id, []).append((number, disputed))
    team_ids = {d.team_id for d in disputes if d.team_id is not None}
    staff_ids = {d.assignee_id for d in disputes if d.assignee_id is not None}
    teams = dict(db.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all()) if team_ids else {}
    people = (dict(db.execute(select(StaffMember.id, StaffMember.name).where(StaffMember.id.in_(staff_ids))).all())
              if staff_ids else {})
    return {
        d.id: DisputeSummary(
            dispute=d, customer_name=names.get(d.customer_id, ""), reason=reasons.get(d.reason_id, ""),
            amount=Money(sum(minor for _, minor in covered.get(d.id, [])), d.currency),
            invoice_numbers=tuple(number for number, _ in covered.get(d.id, [])),
            team=teams.get(d.team_id), assignee=people.get(d.assignee_id),
        )
        for d in disputes
    }


# --------------------------------------------------------------------------------------------
# The owner


def is_actor(actor: Actor, member: StaffMember) -> bool:
    """Whether `actor` is this staff member (named by public id; by database id in jobs and
    tests that act as a numbered member)."""
    return actor.type == "staff" and actor.id in (member.public_id, str(member.id))


def owners(db: Session, dispute: Dispute) -> list[StaffMember]:
    """Who is told about the dispute: its active assignee, else its team's active members who
    are not away, else nobody."""
    if dispute.assignee_id is not None:
        assignee = db.get(StaffMember, dispute.assignee_id)
        if assignee is not None and assignee.is_active:
            return [assignee]
    if dispute.team_id is None:
        return []
    return list(db.scalars(
        select(StaffMember).join(TeamMembership, TeamMembership.staff_id == StaffMember.id)
        .where(TeamMembership.team_id == dispute.team_id, StaffMember.status == StaffStatus.ACTIVE,
               StaffMember.away.is_(False))
        .order_by(StaffMember.name, StaffMember.id)
    ))


def notify_staff(ctx: Context, mail: StaffMail | None, dispute: Dispute, notice: StaffNotice, *,
                 message: str = "", previous_owner: tuple[int | None, int | None] | None = None) -> None:
    """Queue `notice` for the dispute's owner; `message` is what the customer wrote (quoted).
    On reassignment, `previous_owner` is the (team id, assignee id) before it: nothing is sent
    when the owner did not change.

    `mail=None` sends nothing: only for history written after the fact (the demo's data).
    """
    if mail is None:
        return
    if previous_owner is not None and previous_owner == (dispute.team_id, dispute.assignee_id):
        return
    recipients = [member for member in owners(ctx.db, dispute) if not is_actor(ctx.actor, member)]
    if not recipients:
        log.info("dispute %s: no staff member to tell (%s)", dispute.public_id, notice)
        return
    summary = summaries(ctx.db, [dispute])[dispute.id]
    for member in recipients:
        zone = _zone(member.timezone)
        email = render_email(
            "dispute_staff_notice", supplier=mail.supplier, notice=str(notice), staff=member, summary=summary,
            message=message, quoted=quoted(message), url=mail.dispute_url(dispute),
            first_response_due=_moment(dispute.first_response_due_at, zone) if dispute.first_responded_at is None
            else "", resolution_due=_moment(dispute.resolution_due_at, zone),
        )
        enqueue(ctx.db, ctx.clock, kind=f"dispute_staff_{notice}", to=member.email, email=email)


# --------------------------------------------------------------------------------------------
# SLA warnings to supervisors


@dataclass(frozen=True)
class Supervisors:
    """The active supervisors, and which of them are members of each team."""

    everyone: tuple[StaffMember, ...]
    by_team: dict[int, tuple[StaffMember, ...]]

    def for_dispute(self, dispute: Dispute) -> tuple[StaffMember, ...]:
        """The supervisors of the dispute's team, else every supervisor."""
        team = self.by_team.get(dispute.team_id, ()) if dispute.team_id is not None else ()
        return team or self.everyone


def active_supervisors(db: Session) -> Supervisors:
    """Every active supervisor and their teams (two statements)."""
    everyone = tuple(db.scalars(
        select(StaffMember).where(StaffMember.role == StaffRole.SUPERVISOR, StaffMember.status == StaffStatus.ACTIVE)
        .order_by(StaffMember.name, StaffMember.id)
    ))
    by_id = {member.id: member for member in everyone}
    by_team: dict[int, list[StaffMember]] = {}
    if by_id:
        for team_id, staff_id in db.execute(
            select(TeamMembership.team_id, TeamMembership.staff_id).where(TeamMembership.staff_id.in_(sorted(by_id)))
            .order_by(TeamMembership.team_id)
        ):
            by_team.setdefault(team_id, []).append(by_id[staff_id])
    return Supervisors(everyone, {team_id: tuple(sorted(members, key=lambda m: (m.name, m.id)))
                                  for team_id, members in by_team.items()})


def sla_warning_key(dispute: Dispute, due: SlaDue, member: StaffMember) -> str:
    """The outbox key of one warning: once per dispute, SLA target, due time and supervisor,
    so a second run queues nothing and a due time moved by a pause is warned about again."""
    at = due.due_at.astimezone(UTC)
    return f"dispute-sla:{dispute.public_id}:{due.target}:{at:%Y%m%dT%H%M%S.%f}Z:{member.public_id}"


def queued_keys(db: Session, keys: Iterable[str]) -> set[str]:
    """Which of `keys` are in the outbox already (one statement per 500 keys)."""
    keys = sorted(set(keys))
    found: set[str] = set()
    for start in range(0, len(keys), _KEYS_PER_LOOKUP):
        chunk = keys[start:start + _KEYS_PER_LOOKUP]
        found.update(db.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(chunk))))
    return found


def queue_sla_warning(db: Session, clock: Clock, mail: StaffMail, summary: DisputeSummary, due: SlaDue,
                      recipients: Sequence[StaffMember]) -> None:
    """Queue the warning about `due` to each of `recipients` (each message under its
    `sla_warning_key`, so queuing it twice is a no-op)."""
    dispute, now = summary.dispute, clock.now()
    for member in recipients:
        zone = _zone(member.timezone)
        email = render_email(
            "dispute_sla_warning", supplier=mail.supplier, staff=member, summary=summary,
            target=SLA_TARGET_LABELS[due.target], due=_moment(due.due_at, zone), overdue=due.due_at <= now,
            distance=duration_text(abs(due.due_at - now)),
            url=mail.dispute_url(dispute),
        )
        enqueue(db, clock, kind="dispute_sla_warning", to=member.email, email=email,
                dedupe_key=sla_warning_key(dispute, due, member))


# --------------------------------------------------------------------------------------------
# Text


def quoted(text: str) -> str:
    """What the customer wrote, each line marked as theirs for the text part ("> ...")."""
    return "\n".join(f"> {line}".rstrip() for line in (text or "").splitlines())


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _moment(value: datetime | None, zone: ZoneInfo) -> str:
    """"16 Jun 2026, 10:30 CEST" in the recipient's zone; "" for no date."""
    return value.astimezone(zone).strftime("%d %b %Y, %H:%M %Z") if value is not None else ""
