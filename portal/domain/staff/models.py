"""Staff members, their server-side sessions, teams and team memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base, PublicIdMixin
from portal.domain.staff.states import StaffRole, StaffStatus


class StaffMember(PublicIdMixin, Base):
    """Someone who signs in to the admin side. Never deleted: deactivated."""

    __tablename__ = "staff_members"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint(sql_in("role", StaffRole), name="role_known"),
        CheckConstraint(sql_in("status", StaffStatus), name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lower-cased on the way in (and checked), so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=StaffStatus.ACTIVE)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Base32 TOTP secret once enrolled. The last accepted time step refuses a code a second
    # time (replay).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Away staff are skipped when disputes are assigned.
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]

    memberships: Mapped[list[TeamMembership]] = relationship(back_populates="staff", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:
        return self.status == StaffStatus.ACTIVE

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_secret is not None


class StaffSession(Base):
    """A signed-in staff member's session (SECURITY.md A9, A13), like `CustomerSession`.

    The cookie carries a random id; only its SHA-256 is stored. `authenticated_at` is when the
    password (and code) were last given, for actions that need a recent sign-in.
    """

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_staff", "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[datetime]
    authenticated_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str] = mapped_column(String(20), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")

    staff: Mapped[StaffMember] = relationship()


class Team(PublicIdMixin, Base):
    """A group disputes are routed to, with the calendar its SLA counts in.

    Business days are ISO weekday digits ("12345" is Monday to Friday); hours are minutes
    after local midnight, `opens_minute` < `closes_minute` (1440 is the end of the day). One
    team at most is the fallback that takes what no rule matches.
    """

    __tablename__ = "teams"
    __table_args__ = (
        CheckConstraint("0 <= opens_minute AND opens_minute < closes_minute AND closes_minute <= 1440",
                        name="business_hours_valid"),
        CheckConstraint("length(business_days) BETWEEN 1 AND 7", name="business_days_present"),
        Index("uq_teams_one_fallback", "is_fallback", unique=True,
              sqlite_where=text("is_fallback"), postgresql_where=text("is_fallback")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    business_days: Mapped[str] = mapped_column(String(7), default="12345")
    opens_minute: Mapped[int] = mapped_column(Integer, default=9 * 60)
    closes_minute: Mapped[int] = mapped_column(Integer, default=17 * 60)
    is_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    # The follow-up queues (`followups.states.FollowupQueue` values) the team works.
    followup_queues: Mapped[list] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    created_at: Mapped[datetime]

    memberships: Mapped[list[TeamMembership]] = relationship(back_populates="team", cascade="all, delete-orphan",
                                                             order_by="TeamMembership.staff_id")


class TeamMembership(Base):
    __tablename__ = "team_memberships"
    __table_args__ = (Index("ix_team_memberships_staff", "staff_id"),)

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), primary_key=True)

    team: Mapped[Team] = relationship(back_populates="memberships")
    staff: Mapped[StaffMember] = relationship(back_populates="memberships")
