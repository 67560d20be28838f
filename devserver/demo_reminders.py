"""The demo's reminders: the default policy saved as an admin would (with the year-end holidays),
one customer paused by staff, and a few reminders already sent.

The reminders sent are history written after the fact, like the kept promises: for a few
customers other than Acme Corp, each overdue invoice a reminder would chase gets the row of the
latest step it reached, dated the day it reached it, one reminder per customer and step. No
email is queued; `send-reminders` (run by the demo every minute) sends what is due now, in
each customer's business hours, Acme's included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock, today_in
from portal.domain.core.context import Context
from portal.domain.customers.models import Customer
from portal.domain.reminders.jobs import reminder_key
from portal.domain.reminders.models import ReminderSent
from portal.domain.reminders.policy import DEFAULT_STEPS, steps_to_send
from portal.domain.reminders.queries import excluded_invoice_ids, open_invoices_to_remind
from portal.domain.reminders.service import save_holidays, save_policy, set_customer_reminders

ACME = "Acme Corp"
DEMO_ACTOR = Actor.system("seed-demo")


def _year_end(today: date) -> list[date]:
    return [date(today.year, 12, 25), date(today.year, 12, 26), date(today.year + 1, 1, 1)]


def write_demo_reminders(db: Session, clock: Clock) -> int:
    """Save the policy, pause one customer, write the reminders already sent (the caller
    commits). Returns how many reminders (customer and step) were written."""
    ctx = Context(db, clock, DEMO_ACTOR)
    save_policy(ctx, [(step.offset_days, step.tone.value, step.subject, step.body) for step in DEFAULT_STEPS])
    save_holidays(ctx, _year_end(clock.now().date()))
    customers = [c for c in db.scalars(select(Customer).order_by(Customer.account_number)) if c.name != ACME]
    if customers:
        set_customer_reminders(ctx, customers[-1], paused=True, minimum=None)
    offsets = [step.offset_days for step in DEFAULT_STEPS]
    written = 0
    for customer in customers[:4]:
        today = today_in(clock, customer.timezone)
        chosen = steps_to_send(
            open_invoices_to_remind(db, customer.id, today), offsets=offsets, today=today,
            excluded_ids=excluded_invoice_ids(db, customer.id, today), already_sent=set(),
        )
        for offset, invoices in sorted(chosen.items()):
            if offset < 0:
                continue
            # The day the step was reached by the latest due of them: the reminder went out then.
            reached = max(invoice.due_date for invoice in invoices) + timedelta(days=offset)
            sent_at = datetime.combine(reached, time(15, 0), tzinfo=UTC)
            key = reminder_key(customer.id, offset, [invoice.invoice_id for invoice in invoices])
            step = next(s for s in DEFAULT_STEPS if s.offset_days == offset)
            for invoice in invoices:
                db.add(ReminderSent(invoice_id=invoice.invoice_id, customer_id=customer.id, offset_days=offset,
                                    tone=step.tone.value, sent_at=sent_at, dedupe_key=key))
            written += 1
    db.flush()
    return written


def reminders_sent_count(db: Session) -> int:
    return db.scalar(select(func.count(func.distinct(ReminderSent.dedupe_key)))) or 0
