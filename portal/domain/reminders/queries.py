"""Read models of the reminders: the policy in force, the holidays, a customer's overrides and
what can be reminded, and the admin page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock, today_in
from portal.domain.core.errors import NotFound
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.customers.queries import customer_by_account_number
from portal.domain.notifications.rendering import RenderedEmail, SupplierDetails
from portal.domain.invoicing.models import Invoice
from portal.domain.followups.queries import reported_paid_invoice_ids
from portal.domain.plans.queries import invoices_in_active_plans
from portal.domain.promises.queries import promised_invoice_ids
from portal.domain.reminders.models import (
    MAX_OFFSET_DAYS, CustomerReminderSettings, ReminderHoliday, ReminderSent, ReminderStep,
)
from portal.domain.reminders.notifications import PREVIEW_LINK, PROBLEM_REASONS, reminder_email, reminder_lines
from portal.domain.reminders.policy import DEFAULT_STEPS, InvoiceToRemind, StepSpec, remindable
from portal.domain.reminders.states import Tone

RECENT_REMINDERS = 20
PREVIEW_INVOICES = 20

def excluded_invoice_ids(db: Session, customer_id: int, today: date) -> set[int]:
    """The customer's invoices no reminder may chase: under an open promise to pay, in a
    running installment plan (`plans.queries.invoices_in_active_plans`), or reported paid and
    being matched (`followups.queries.reported_paid_invoice_ids`). (Disputed, in-flight and
    paid amounts are left out by `policy.steps_to_send` from the invoices' own figures.)"""
    return (promised_invoice_ids(db, customer_id, today) | invoices_in_active_plans(db, customer_id)
            | reported_paid_invoice_ids(db, customer_id))


def policy_steps(db: Session) -> list[StepSpec]:
    """The steps in force, by offset: the admins' policy, or `DEFAULT_STEPS` until one is saved."""
    rows = db.scalars(select(ReminderStep).order_by(ReminderStep.offset_days)).all()
    if not rows:
        return list(DEFAULT_STEPS)
    return [StepSpec(row.offset_days, Tone(row.tone), row.subject, row.body) for row in rows]


def holidays(db: Session) -> list[date]:
    return list(db.scalars(select(ReminderHoliday.day).order_by(ReminderHoliday.day)))


@dataclass(frozen=True)
class CustomerOverrides:
    paused: bool = False
    minimum: tuple[str, int] | None = None  # (currency, minor units)


def customer_overrides(db: Session, customer_id: int) -> CustomerOverrides:
    row = db.get(CustomerReminderSettings, customer_id)
    if row is None:
        return CustomerOverrides()
    minimum = (row.minimum_currency, row.minimum_minor) if row.minimum_currency and row.minimum_minor else None
    return CustomerOverrides(row.paused, minimum)


def open_invoices_to_remind(db: Session, customer_id: int, due_by: date) -> list[InvoiceToRemind]:
    """The customer's invoices with a balance, due on or before `due_by`, with the figures the
    exclusions need (column reads: the balances are kept by database triggers)."""
    return [InvoiceToRemind(*row) for row in db.execute(
        select(Invoice.id, Invoice.due_date, Invoice.currency, Invoice.balance_minor, Invoice.in_flight_minor, Invoice.held_minor)
        .where(Invoice.customer_id == customer_id, Invoice.balance_minor > 0, Invoice.due_date <= due_by)
        .order_by(Invoice.due_date, Invoice.number)
    )]


def already_sent(db: Session, invoice_ids: list[int]) -> set[tuple[int, int]]:
    if not invoice_ids:
        return set()
    return {(invoice_id, offset) for invoice_id, offset in db.execute(
        select(ReminderSent.invoice_id, ReminderSent.offset_days).where(ReminderSent.invoice_id.in_(invoice_ids)))}


@dataclass(frozen=True)
class SentLine:
    customer_name: str
    account_number: str
    offset_days: int
    tone: str
    invoices: int
    sent_at: datetime


@dataclass(frozen=True)
class PausedLine:
    customer_name: str
    account_number: str
    paused: bool
    minimum_minor: int
    minimum_currency: str | None

    @property
    def minimum_text(self) -> str:
        if not self.minimum_currency or not self.minimum_minor:
            return ""
        return Money(self.minimum_minor, self.minimum_currency).format()


@dataclass(frozen=True)
class RemindersPage:
    steps: list[StepSpec]
    holidays: list[date]
    overrides: list[PausedLine]
    recent: list[SentLine]


def reminders_page(db: Session) -> RemindersPage:
    """The admin page: the policy, the holidays, the customers with overrides, the latest sends."""
    overrides = [PausedLine(*row) for row in db.execute(
        select(Customer.name, Customer.account_number, CustomerReminderSettings.paused,
               CustomerReminderSettings.minimum_minor, CustomerReminderSettings.minimum_currency)
        .join(Customer, Customer.id == CustomerReminderSettings.customer_id).order_by(Customer.name).limit(200)
    )]
    recent = [SentLine(*row) for row in db.execute(
        select(Customer.name, Customer.account_number, ReminderSent.offset_days, ReminderSent.tone,
               func.count(ReminderSent.id), ReminderSent.sent_at)
        .join(Customer, Customer.id == ReminderSent.customer_id)
        .group_by(ReminderSent.dedupe_key, Customer.name, Customer.account_number, ReminderSent.offset_days,
                  ReminderSent.tone, ReminderSent.sent_at)
        .order_by(ReminderSent.sent_at.desc()).limit(RECENT_REMINDERS)
    )]
    return RemindersPage(policy_steps(db), holidays(db), overrides, recent)


@dataclass(frozen=True)
class ReminderPreview:
    customer_name: str
    step: StepSpec
    email: RenderedEmail | None
    problem: str = ""


def preview_reminder(db: Session, clock: Clock, supplier: SupplierDetails, *, account_number: str,
                     offset_days: int) -> ReminderPreview:
    """The email step `offset_days` of the policy in force would send this customer now, with
    their invoices that can be reminded (every exclusion applied; whether a step was already
    sent, and the business hours, are left aside). Writes nothing: the link is a stand-in."""
    customer = customer_by_account_number(db, account_number)
    if customer is None:
        raise NotFound("No customer has this account number.")
    step = next((s for s in policy_steps(db) if s.offset_days == offset_days), None)
    if step is None:
        raise NotFound("The policy has no such step.")
    today = today_in(clock, customer.timezone)
    overrides = customer_overrides(db, customer.id)
    picked = remindable(open_invoices_to_remind(db, customer.id, today + timedelta(days=MAX_OFFSET_DAYS)),
                        excluded_ids=excluded_invoice_ids(db, customer.id, today),
                        minimum=overrides.minimum)[:PREVIEW_INVOICES]
    if not picked:
        return ReminderPreview(customer.name, step, None, "This customer has no invoice a reminder would list now.")
    invoices = db.scalars(select(Invoice).where(Invoice.id.in_([i.invoice_id for i in picked]))
                          .order_by(Invoice.due_date, Invoice.number)).all()
    lines = reminder_lines(invoices, {i.invoice_id: i.remindable_minor for i in picked})
    email = reminder_email(supplier, customer_name=customer.name, step=step, lines=lines, url=PREVIEW_LINK,
                           problem_links=[(label, PREVIEW_LINK) for label, _ in PROBLEM_REASONS])
    return ReminderPreview(customer.name, step, email)
