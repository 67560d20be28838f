"""What staff and admins do with staff accounts and teams: one function each.

Every function takes a `Context` (session, clock, actor) and writes an audit row for what it
changed (SECURITY.md L1); the web glue or the command runner commits. Refusals raise a
`DomainError` with a message fit to show, and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select, update

from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.errors import DomainError, NotFound
from portal.domain.followups.states import FollowupQueue
from portal.domain.staff.credentials import PasswordHasher, is_totp_secret, matching_totp_step, new_totp_secret
from portal.domain.staff.models import StaffMember, StaffSession, Team, TeamMembership
from portal.domain.staff.policy import (
    normalize_staff_email, password_problem, timezone_problem, totp_required,
)
from portal.domain.staff.sessions import StartedStaffSession, end_sessions_of, start_staff_session
from portal.domain.staff.states import STAFF_STATUS_TRANSITIONS, StaffRole, StaffStatus

MAX_NAME_LENGTH = 200


class SignInRefused(DomainError):
    """The one answer to any failed sign-in, whatever failed (no account, wrong password,
    wrong or missing code, deactivated): nothing tells an attacker which."""

    def __init__(self) -> None:
        super().__init__("That email, password or code is not right.")


def _staff_snapshot(staff: StaffMember) -> dict:
    return {"email": staff.email, "name": staff.name, "role": staff.role, "status": staff.status,
            "away": staff.away, "timezone": staff.timezone, "totp": staff.totp_enrolled}


def _role(role: str) -> StaffRole:
    try:
        return StaffRole(role)
    except ValueError:
        raise DomainError(f"Unknown role {role!r}: one of {', '.join(StaffRole)}.") from None


def _checked_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise DomainError(f"Enter a name of at most {MAX_NAME_LENGTH} characters.")
    return name


def _checked_timezone(name: str) -> str:
    problem = timezone_problem(name)
    if problem:
        raise DomainError(problem)
    return name


def _checked_email(email: str) -> str:
    email = normalize_staff_email(email)
    local, at, domain = email.partition("@")
    if not (at and local and "." in domain and len(email) <= 254 and not any(c.isspace() for c in email)):
        raise DomainError("Enter the staff member's email address.")
    return email


# ---------------------------------------------------------------------------------------------
# Accounts


def create_staff(ctx: Context, hasher: PasswordHasher, *, email: str, name: str, role: str, password: str,
                 timezone: str = "UTC", away: bool = False) -> StaffMember:
    """A new active staff member. Admins must then enrol a TOTP code at their first sign-in."""
    email = _checked_email(email)
    role = _role(role)
    problem = password_problem(password, email=email)
    if problem:
        raise DomainError(problem)
    if ctx.db.scalar(select(StaffMember.id).where(StaffMember.email == email)) is not None:
        raise DomainError(f"{email} already has a staff account.")
    now = ctx.clock.now()
    staff = StaffMember(email=email, name=_checked_name(name), role=role, status=StaffStatus.ACTIVE,
                        password_hash=hasher.hash(password), away=away, timezone=_checked_timezone(timezone),
                        created_at=now, password_changed_at=now)
    ctx.db.add(staff)
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "staff.created", "staff", staff.public_id,
                 after=_staff_snapshot(staff))
    return staff


def _active_admins(ctx: Context) -> int:
    return ctx.db.scalar(select(func.count()).select_from(StaffMember).where(
        StaffMember.role == StaffRole.ADMIN, StaffMember.status == StaffStatus.ACTIVE))


def update_staff(ctx: Context, staff: StaffMember, *, name: str, role: str, timezone: str, away: bool,
                 status: str) -> StaffMember:
    """Change a member's details. Deactivating ends their sessions at once; the last active
    admin can be neither demoted nor deactivated (nobody could manage staff any more)."""
    before = _staff_snapshot(staff)
    role = _role(role)
    target = STAFF_STATUS_TRANSITIONS.statuses(status) if status in set(StaffStatus) else None
    if target is None:
        raise DomainError("Unknown status.")
    if target != staff.status:
        STAFF_STATUS_TRANSITIONS.check(staff.status, target, staff.email)
    was_active_admin = staff.role == StaffRole.ADMIN and staff.is_active
    stays_active_admin = role == StaffRole.ADMIN and target == StaffStatus.ACTIVE
    if was_active_admin and not stays_active_admin and _active_admins(ctx) <= 1:
        raise DomainError("This is the last active admin: make someone else an admin first.")
    staff.name = _checked_name(name)
    staff.role = role
    staff.timezone = _checked_timezone(timezone)
    staff.away = bool(away)
    staff.status = target
    ctx.db.flush()
    if target == StaffStatus.DEACTIVATED:
        end_sessions_of(ctx.db, ctx.clock, staff.id, reason="deactivated")
    after = _staff_snapshot(staff)
    if after != before:
        audit.record(ctx.db, ctx.clock, ctx.actor, "staff.updated", "staff", staff.public_id,
                     before=before, after=after)
    return staff


def set_away(ctx: Context, staff: StaffMember, away: bool) -> None:
    """A member marks themselves away (skipped by routing) or back."""
    if staff.away != away:
        audit.record(ctx.db, ctx.clock, ctx.actor, "staff.away" if away else "staff.back", "staff",
                     staff.public_id, before={"away": staff.away}, after={"away": away})
        staff.away = away


def end_all_sessions(ctx: Context, staff: StaffMember) -> int:
    """Sign a member out everywhere (a lost laptop, a leaving employee)."""
    ended = end_sessions_of(ctx.db, ctx.clock, staff.id, reason="revoked")
    audit.record(ctx.db, ctx.clock, ctx.actor, "staff.sessions_revoked", "staff", staff.public_id,
                 after={"sessions": ended})
    return ended


def change_password(ctx: Context, hasher: PasswordHasher, staff: StaffMember, *, current: str, new: str,
                    keep_session: StaffSession | None = None) -> None:
    """A member changes their own password; their other sessions end."""
    if not hasher.verify(staff.password_hash, current):
        raise DomainError("The current password is not right.")
    problem = password_problem(new, email=staff.email)
    if problem:
        raise DomainError(problem)
    staff.password_hash = hasher.hash(new)
    staff.password_changed_at = ctx.clock.now()
    conditions = [StaffSession.staff_id == staff.id, StaffSession.ended_at.is_(None)]
    if keep_session is not None:
        conditions.append(StaffSession.id != keep_session.id)
    ctx.db.execute(update(StaffSession).where(*conditions)
                   .values(ended_at=ctx.clock.now(), end_reason="revoked")
                   .execution_options(synchronize_session=False))
    audit.record(ctx.db, ctx.clock, ctx.actor, "staff.password_changed", "staff", staff.public_id)


def set_password(ctx: Context, hasher: PasswordHasher, staff: StaffMember, password: str) -> None:
    """An operator (the CLI) sets a member's password; every session of theirs ends."""
    problem = password_problem(password, email=staff.email)
    if problem:
        raise DomainError(problem)
    staff.password_hash = hasher.hash(password)
    staff.password_changed_at = ctx.clock.now()
    end_sessions_of(ctx.db, ctx.clock, staff.id, reason="revoked")
    audit.record(ctx.db, ctx.clock, ctx.actor, "staff.password_set", "staff", staff.public_id)


# ---------------------------------------------------------------------------------------------
# Signing in


class FailureReason(StrEnum):
    UNKNOWN = "unknown_email"
    PASSWORD = "password"
    CODE = "code"
    DEACTIVATED = "deactivated"


@dataclass(frozen=True)
class SignedIn:
    staff: StaffMember
    session: StartedStaffSession


def _check_code(ctx: Context, staff: StaffMember, code: str) -> bool:
    """True when `code` is the member's current TOTP code and not one used before."""
    step = matching_totp_step(staff.totp_secret, code, ctx.clock.now())
    if step is None or (staff.totp_last_step is not None and step <= staff.totp_last_step):
        return False
    staff.totp_last_step = step
    return True


def _credentials_problem(ctx: Context, hasher: PasswordHasher, staff: StaffMember | None, password: str,
                         code: str) -> FailureReason | None:
    if staff is None:
        hasher.waste_time(password)
        return FailureReason.UNKNOWN
    if not hasher.verify(staff.password_hash, password):
        return FailureReason.PASSWORD
    if staff.totp_enrolled and not _check_code(ctx, staff, code):
        return FailureReason.CODE
    if not staff.is_active:
        return FailureReason.DEACTIVATED
    return None


def _record_failure(ctx: Context, action: str, staff: StaffMember | None, reason: FailureReason) -> None:
    # An unknown address is not written down: people type passwords into the email field.
    audit.record(ctx.db, ctx.clock, ctx.actor, action, "staff", staff.public_id if staff else "unknown",
                 after={"reason": str(reason)})


def sign_in_staff(ctx: Context, hasher: PasswordHasher, *, email: str, password: str, code: str = "") -> SignedIn:
    """Check the credentials and start a session; `SignInRefused` (and an audit row) otherwise.

    The caller has already counted the attempt against the per-account and per-address limits.
    The audit row of a refusal must be committed: the caller returns the refusal as a page
    rather than raising past the commit.
    """
    staff = ctx.db.scalar(select(StaffMember).where(StaffMember.email == normalize_staff_email(email)))
    problem = _credentials_problem(ctx, hasher, staff, password, code)
    if problem is not None:
        _record_failure(ctx, "staff.sign_in_failed", staff, problem)
        raise SignInRefused()
    if hasher.needs_rehash(staff.password_hash):
        staff.password_hash = hasher.hash(password)
    started = start_staff_session(ctx.db, ctx.clock, staff, ip=ctx.actor.ip)
    audit.record(ctx.db, ctx.clock, audit.Actor("staff", staff.public_id, ctx.actor.ip), "staff.signed_in",
                 "staff", staff.public_id, after={"totp": staff.totp_enrolled})
    return SignedIn(staff, started)


def confirm_identity(ctx: Context, hasher: PasswordHasher, session: StaffSession, *, password: str,
                     code: str = "") -> None:
    """Re-authentication on a live session, before crediting or refunding: the password (and
    code, when enrolled) again; the session's `authenticated_at` moves to now."""
    problem = _credentials_problem(ctx, hasher, session.staff, password, code)
    if problem is not None:
        _record_failure(ctx, "staff.reauthentication_failed", session.staff, problem)
        raise SignInRefused()
    session.authenticated_at = ctx.clock.now()
    audit.record(ctx.db, ctx.clock, ctx.actor, "staff.reauthenticated", "staff", session.staff.public_id)


def record_sign_out(ctx: Context, session: StaffSession) -> None:
    audit.record(ctx.db, ctx.clock, ctx.actor, "staff.signed_out", "staff", session.staff.public_id)


# ---------------------------------------------------------------------------------------------
# Second factor


def needs_totp_enrolment(staff: StaffMember) -> bool:
    """Whether the member must enrol before doing anything else (admins without a code)."""
    return totp_required(staff.role) and not staff.totp_enrolled


def propose_totp_secret() -> str:
    """A fresh secret for the enrolment page. Nothing is stored until a code from it is
    confirmed (`enrol_totp`), so showing the page writes nothing."""
    return new_totp_secret()


def enrol_totp(ctx: Context, staff: StaffMember, secret: str, code: str) -> None:
    """Make `secret` the member's second factor once `code` proves their authenticator has it.
    Replacing an enrolled secret is the same call (the page asks for a recent sign-in)."""
    if not is_totp_secret(secret):
        raise DomainError("Start the set-up again: the secret was not recognised.")
    step = matching_totp_step(secret, code, ctx.clock.now())
    if step is None:
        raise DomainError("That code does not match. Check the time on your device and enter the current code.")
    replaced = staff.totp_enrolled
    staff.totp_secret, staff.totp_last_step = secret, step
    audit.record(ctx.db, ctx.clock, ctx.actor, "staff.totp_replaced" if replaced else "staff.totp_enrolled",
                 "staff", staff.public_id)


# ---------------------------------------------------------------------------------------------
# Teams

WEEKDAYS = "1234567"
FOLLOWUP_QUEUE_NAMES = frozenset(queue.value for queue in FollowupQueue)


@dataclass(frozen=True)
class TeamDetails:
    name: str
    timezone: str
    business_days: str  # ISO weekday digits, "12345"
    opens_minute: int
    closes_minute: int
    is_fallback: bool = False
    # The follow-up queues the team works (`followups.states.FollowupQueue` values).
    followup_queues: tuple[str, ...] = ()


def _checked_team(details: TeamDetails) -> TeamDetails:
    name = (details.name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("Enter a team name of at most 100 characters.")
    days = "".join(sorted(set(details.business_days)))
    if not days or any(day not in WEEKDAYS for day in days):
        raise DomainError("Choose at least one business day.")
    if not 0 <= details.opens_minute < details.closes_minute <= 24 * 60:
        raise DomainError("Business hours must open before they close, within one day.")
    queues = tuple(sorted(set(details.followup_queues)))
    if any(queue not in FOLLOWUP_QUEUE_NAMES for queue in queues):
        raise DomainError("Choose follow-up queues from the list.")
    return TeamDetails(name, _checked_timezone(details.timezone), days, details.opens_minute,
                       details.closes_minute, bool(details.is_fallback), queues)


def _team_snapshot(team: Team) -> dict:
    return {"name": team.name, "timezone": team.timezone, "business_days": team.business_days,
            "opens_minute": team.opens_minute, "closes_minute": team.closes_minute,
            "is_fallback": team.is_fallback, "followup_queues": sorted(team.followup_queues or []),
            "members": sorted(membership.staff_id for membership in team.memberships)}


def _make_fallback(ctx: Context, team: Team) -> None:
    # Unset the old fallback first: the partial unique index allows one at a time.
    ctx.db.execute(update(Team).where(Team.is_fallback, Team.id != team.id).values(is_fallback=False)
                   .execution_options(synchronize_session="fetch"))
    ctx.db.flush()


def _name_taken(ctx: Context, name: str, team_id: int | None) -> bool:
    query = select(Team.id).where(func.lower(Team.name) == name.lower())
    if team_id is not None:
        query = query.where(Team.id != team_id)
    return ctx.db.scalar(query) is not None


def create_team(ctx: Context, details: TeamDetails, member_ids: list[int] = ()) -> Team:
    details = _checked_team(details)
    if _name_taken(ctx, details.name, None):
        raise DomainError(f"A team called {details.name} exists already.")
    team = Team(name=details.name, timezone=details.timezone, business_days=details.business_days,
                opens_minute=details.opens_minute, closes_minute=details.closes_minute, is_fallback=False,
                followup_queues=list(details.followup_queues), created_at=ctx.clock.now())
    ctx.db.add(team)
    ctx.db.flush()
    if details.is_fallback:
        _make_fallback(ctx, team)
        team.is_fallback = True
    _set_members(ctx, team, member_ids)
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "team.created", "team", team.public_id, after=_team_snapshot(team))
    return team


def update_team(ctx: Context, team: Team, details: TeamDetails, member_ids: list[int]) -> Team:
    details = _checked_team(details)
    if _name_taken(ctx, details.name, team.id):
        raise DomainError(f"A team called {details.name} exists already.")
    before = _team_snapshot(team)
    if details.is_fallback and not team.is_fallback:
        _make_fallback(ctx, team)
    team.name, team.timezone, team.business_days = details.name, details.timezone, details.business_days
    team.opens_minute, team.closes_minute, team.is_fallback = (details.opens_minute, details.closes_minute,
                                                               details.is_fallback)
    team.followup_queues = list(details.followup_queues)
    _set_members(ctx, team, member_ids)
    ctx.db.flush()
    after = _team_snapshot(team)
    if after != before:
        audit.record(ctx.db, ctx.clock, ctx.actor, "team.updated", "team", team.public_id, before=before, after=after)
    return team


def _set_members(ctx: Context, team: Team, member_ids) -> None:
    wanted = set(member_ids)
    if wanted:
        found = set(ctx.db.scalars(select(StaffMember.id).where(StaffMember.id.in_(sorted(wanted)))))
        if found != wanted:
            raise NotFound("A chosen staff member does not exist.")
    current = {membership.staff_id: membership for membership in team.memberships}
    for staff_id, membership in current.items():
        if staff_id not in wanted:
            team.memberships.remove(membership)
    for staff_id in sorted(wanted - set(current)):
        team.memberships.append(TeamMembership(team_id=team.id, staff_id=staff_id))
