"""Installment plans: the plan, the invoices it covers, its installments, each collection
attempt, and the agreement the customer accepted.

Dates (`due_on`, `retry_on`) are calendar dates in the customer's own time zone. Amounts are
minor units of the plan's one currency. `PlanInvoice.amount_minor` is what the plan covers of
each invoice (what was payable when it was proposed); the installments split their sum exactly
(`policy.schedule`). Every collection of an installment is an `InstallmentAttempt`, numbered
from 1 and unique per installment, whose idempotency key is committed before Stripe is called
(SECURITY.md P7); the money itself moves as an ordinary card payment (`payments.Payment`),
which the webhook settles like every other.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.states import sql_in
from portal.domain.core.types import Base, PublicIdMixin
from portal.domain.plans.policy import POLICY_BOUNDS
from portal.domain.plans.states import AmendmentStatus, Cadence, InstallmentStatus, PayBy, PlanStatus


class Plan(PublicIdMixin, Base):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint(sql_in("status", PlanStatus), name="status_known"),
        CheckConstraint(sql_in("cadence", Cadence), name="cadence_known"),
        CheckConstraint(sql_in("pay_by", PayBy), name="pay_by_known"),
        CheckConstraint("total_minor > 0", name="total_positive"),
        CheckConstraint("installment_count BETWEEN 2 AND 12", name="count_in_range"),
        CheckConstraint("failures >= 0", name="failures_not_negative"),
        CheckConstraint("pay_by <> 'autopay' OR saved_method_id IS NOT NULL", name="autopay_has_method"),
        UniqueConstraint("customer_id", "request_key"),
        Index("ix_plans_customer_status", "customer_id", "status"),
        Index("ix_plans_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    proposed_by_contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    request_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(Integer)
    installment_count: Mapped[int] = mapped_column(Integer)
    cadence: Mapped[str] = mapped_column(String(10))
    first_due_on: Mapped[date] = mapped_column(Date)
    pay_by: Mapped[str] = mapped_column(String(10))
    saved_method_id: Mapped[int | None] = mapped_column(ForeignKey("saved_methods.id"))
    # Why the proposal waits for staff ("" when it was inside the policy).
    policy_reasons: Mapped[str] = mapped_column(Text, default="")
    # Failed collections so far (the plan defaults at the policy's limit).
    failures: Mapped[int] = mapped_column(Integer, default=0)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    invoices: Mapped[list[PlanInvoice]] = relationship(
        back_populates="plan", order_by="PlanInvoice.id", cascade="all, delete-orphan",
    )
    installments: Mapped[list[Installment]] = relationship(
        back_populates="plan", order_by="Installment.number", cascade="all, delete-orphan",
    )


class PlanInvoice(Base):
    __tablename__ = "plan_invoices"
    __table_args__ = (
        UniqueConstraint("plan_id", "invoice_id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_plan_invoices_invoice", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    amount_minor: Mapped[int] = mapped_column(Integer)

    plan: Mapped[Plan] = relationship(back_populates="invoices")


class Installment(PublicIdMixin, Base):
    __tablename__ = "plan_installments"
    __table_args__ = (
        UniqueConstraint("plan_id", "number"),
        CheckConstraint(sql_in("status", InstallmentStatus), name="status_known"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("number >= 1", name="number_positive"),
        # The collector reads the due installments by date.
        Index("ix_plan_installments_status_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    number: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    # A soft decline's next try (the customer's date); None: not charged again off-session.
    retry_on: Mapped[date | None] = mapped_column(Date)
    failure_code: Mapped[str] = mapped_column(String(80), default="")
    # The payment of the latest attempt (in flight, paid or failed).
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    paid_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    plan: Mapped[Plan] = relationship(back_populates="installments")


class InstallmentAttempt(Base):
    """One off-session charge of one installment: (installment, attempt) is unique, so two
    collectors cannot both make attempt N; the key is committed before Stripe is called."""

    __tablename__ = "plan_installment_attempts"
    __table_args__ = (
        UniqueConstraint("installment_id", "attempt"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    installment_id: Mapped[int] = mapped_column(ForeignKey("plan_installments.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    outcome: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime]


class PlanAgreement(Base):
    """The customer's acceptance of a plan's terms: who, when, from where, the exact words."""

    __tablename__ = "plan_agreements"
    __table_args__ = (Index("ix_plan_agreements_plan", "plan_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    terms_text: Mapped[str] = mapped_column(Text)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    accepted_at: Mapped[datetime]


class StoredPlanPolicy(Base):
    """The plan policy an admin set (one row, id 1); without it the PLAN_* settings apply.
    Each value is bounded here as on the admin page (`policy.POLICY_BOUNDS`)."""

    __tablename__ = "plan_policy"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        *(CheckConstraint(f"{field} BETWEEN {low} AND {high}", name=f"{field}_in_range")
          for field, (low, high) in POLICY_BOUNDS.items()),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    max_total_minor: Mapped[int] = mapped_column(BigInteger)
    max_count: Mapped[int] = mapped_column(Integer)
    max_length_days: Mapped[int] = mapped_column(Integer)
    min_first_payment_minor: Mapped[int] = mapped_column(BigInteger)
    default_lookback_months: Mapped[int] = mapped_column(Integer)
    retry_after_days: Mapped[int] = mapped_column(Integer)
    max_failures: Mapped[int] = mapped_column(Integer)
    reminder_days_before: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class PlanAmendment(PublicIdMixin, Base):
    """A new schedule staff propose for what remains unpaid of a running plan. It changes
    nothing until the customer accepts it (a new `PlanAgreement`); at most one waits per plan.
    `remaining_minor` is what was unpaid when it was proposed: accepting checks it still is."""

    __tablename__ = "plan_amendments"
    __table_args__ = (
        CheckConstraint(sql_in("status", AmendmentStatus), name="status_known"),
        CheckConstraint(sql_in("cadence", Cadence), name="cadence_known"),
        CheckConstraint("installment_count BETWEEN 2 AND 12", name="count_in_range"),
        CheckConstraint("remaining_minor > 0", name="remaining_positive"),
        Index("uq_plan_amendments_one_proposed", "plan_id", unique=True,
              postgresql_where=text("status = 'proposed'"), sqlite_where=text("status = 'proposed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    installment_count: Mapped[int] = mapped_column(Integer)
    cadence: Mapped[str] = mapped_column(String(10))
    first_due_on: Mapped[date] = mapped_column(Date)
    remaining_minor: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    proposed_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
