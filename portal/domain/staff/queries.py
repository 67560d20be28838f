"""Read models for the admin pages about staff and teams (a constant number of statements)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.domain.core.errors import NotFound
from portal.domain.staff.models import StaffMember, Team, TeamMembership
from portal.domain.staff.policy import normalize_staff_email


def staff_list(db: Session) -> list[StaffMember]:
    """Every member, active first, by name, with their teams."""
    return list(db.scalars(
        select(StaffMember).options(selectinload(StaffMember.memberships).selectinload(TeamMembership.team))
        .order_by(StaffMember.status, StaffMember.name, StaffMember.id)
    ))


def staff_member(db: Session, public_id: str) -> StaffMember:
    staff = db.scalar(select(StaffMember).where(StaffMember.public_id == public_id))
    if staff is None:
        raise NotFound()
    return staff


def staff_by_email(db: Session, email: str) -> StaffMember | None:
    return db.scalar(select(StaffMember).where(StaffMember.email == normalize_staff_email(email)))


def team_list(db: Session) -> list[Team]:
    """Every team by name, with its members."""
    return list(db.scalars(
        select(Team).options(selectinload(Team.memberships).selectinload(TeamMembership.staff)).order_by(Team.name)
    ))


def team(db: Session, public_id: str) -> Team:
    found = db.scalar(select(Team).options(selectinload(Team.memberships)).where(Team.public_id == public_id))
    if found is None:
        raise NotFound()
    return found


def owner_names(db: Session, team_ids: set[int], staff_ids: set[int]) -> tuple[dict[int, str], dict[int, str]]:
    """Names of the teams and staff members with these ids, as a dispute's owner is shown
    (at most two statements)."""
    teams = dict(db.execute(select(Team.id, Team.name).where(Team.id.in_(sorted(team_ids)))).all()) if team_ids else {}
    people = (dict(db.execute(select(StaffMember.id, StaffMember.name).where(StaffMember.id.in_(sorted(staff_ids))))
                   .all()) if staff_ids else {})
    return teams, people
