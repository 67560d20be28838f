"""Routing rules: an ordered list, first match wins, edited by admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base, PublicIdMixin
from portal.domain.customers.models import Customer
from portal.domain.routing.states import AssignmentStrategy, Priority
from portal.domain.staff.models import Team


class RoutingRule(PublicIdMixin, Base):
    """Conditions on a new dispute, and where a match sends it.

    Every condition left empty matches anything: `reasons` (any of them), the amount range
    (inclusive minor units, only together with a `currency`, so amounts are never compared
    across currencies), the `currency`, one `customer`, and `customer_tags` (the customer
    must have all of them).
    """

    __tablename__ = "routing_rules"
    __table_args__ = (
        CheckConstraint(sql_in("strategy", AssignmentStrategy), name="strategy_known"),
        CheckConstraint(sql_in("priority", Priority), name="priority_known"),
        CheckConstraint("(min_amount_minor IS NULL AND max_amount_minor IS NULL) OR currency IS NOT NULL",
                        name="amounts_need_currency"),
        CheckConstraint("min_amount_minor IS NULL OR max_amount_minor IS NULL OR min_amount_minor <= max_amount_minor",
                        name="amount_range_ordered"),
        CheckConstraint("first_response_hours > 0 AND resolution_days > 0", name="sla_positive"),
        Index("ix_routing_rules_position", "position", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    currency: Mapped[str | None] = mapped_column(String(3))
    min_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    max_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    customer_tags: Mapped[list] = mapped_column(JSON, default=list)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    strategy: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10))
    first_response_hours: Mapped[int] = mapped_column(Integer)
    resolution_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    team: Mapped[Team] = relationship()
    customer: Mapped[Customer | None] = relationship()
