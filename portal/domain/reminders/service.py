"""What staff change in the reminders: the policy's steps and holidays (admins), and one
customer's overrides (a pause, a minimum amount). Each change is audited; the caller commits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from sqlalchemy import delete, select

from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.errors import NotFound
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.reminders.models import CustomerReminderSettings, ReminderHoliday, ReminderStep
from portal.domain.reminders.policy import ReminderPolicyRefused, StepSpec, checked_steps
from portal.domain.reminders.queries import holidays, policy_steps

MAX_HOLIDAYS = 60
MAX_MINIMUM_MINOR = 10**12


def _snapshot(steps: Sequence[StepSpec]) -> dict:
    return {"steps": [{"offset_days": s.offset_days, "tone": s.tone.value, "subject": s.subject} for s in steps]}


def save_policy(ctx: Context, steps: Sequence[tuple[object, object, object, object]]) -> list[StepSpec]:
    """Replace the policy's steps with `steps` (offset, tone, subject, body each), checked
    whole first (`policy.checked_steps`): a refusal changes nothing."""
    checked = checked_steps(steps)
    before = policy_steps(ctx.db)
    ctx.db.execute(delete(ReminderStep))
    now = ctx.clock.now()
    for step in checked:
        ctx.db.add(ReminderStep(offset_days=step.offset_days, tone=step.tone.value, subject=step.subject,
                                body=step.body, updated_at=now))
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "reminder_policy.updated", "reminder_policy", "steps",
                 before=_snapshot(before), after=_snapshot(checked))
    return checked


def parse_holidays(text: str) -> list[date]:
    """Holidays as typed, one ISO date (YYYY-MM-DD) per line or comma-separated."""
    days: set[date] = set()
    for part in re.split(r"[\s,]+", text.strip()) if text.strip() else []:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", part):
            raise ReminderPolicyRefused(f"Holidays are dates such as 2026-12-25; {part[:20]!r} is not one.")
        try:
            days.add(date.fromisoformat(part))
        except ValueError:
            raise ReminderPolicyRefused(f"{part} is not a date of the calendar.") from None
    if len(days) > MAX_HOLIDAYS:
        raise ReminderPolicyRefused(f"At most {MAX_HOLIDAYS} holidays.")
    return sorted(days)


def save_holidays(ctx: Context, days: Sequence[date]) -> None:
    """Replace the supplier's holidays (days no reminder is sent, in each customer's calendar)."""
    before = [day.isoformat() for day in holidays(ctx.db)]
    ctx.db.execute(delete(ReminderHoliday))
    for day in sorted(set(days)):
        ctx.db.add(ReminderHoliday(day=day))
    ctx.db.flush()
    after = [day.isoformat() for day in sorted(set(days))]
    if before != after:
        audit.record(ctx.db, ctx.clock, ctx.actor, "reminder_holidays.updated", "reminder_policy", "holidays",
                     before={"days": before}, after={"days": after})


def set_customer_reminders(ctx: Context, customer: Customer | None, *, paused: bool,
                           minimum: Money | None) -> CustomerReminderSettings:
    """Pause or resume one customer's reminders and set the least amount worth a reminder
    (None: any amount)."""
    if customer is None:
        raise NotFound("No customer has this account number.")
    minimum_minor = minimum.minor if minimum is not None else 0
    if not 0 <= minimum_minor <= MAX_MINIMUM_MINOR:
        raise ReminderPolicyRefused("The minimum amount is out of range.")
    settings = ctx.db.scalar(select(CustomerReminderSettings)
                             .where(CustomerReminderSettings.customer_id == customer.id))
    before = ({"paused": settings.paused, "minimum_minor": settings.minimum_minor,
               "minimum_currency": settings.minimum_currency} if settings else None)
    if settings is None:
        settings = CustomerReminderSettings(customer_id=customer.id)
        ctx.db.add(settings)
    settings.paused = paused
    settings.minimum_minor = minimum_minor
    settings.minimum_currency = minimum.currency if minimum is not None else None
    settings.updated_at = ctx.clock.now()
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "customer_reminders.updated", "customer", customer.account_number,
                 before=before, after={"paused": paused, "minimum_minor": minimum_minor,
                        "minimum_currency": settings.minimum_currency})
    return settings
