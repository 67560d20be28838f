"""Scheduled work of the reminders.

`send_reminders` (`flask --app wsgi send-reminders`, hourly on working days): for each customer
with open invoices, inside their business hours (`policy.in_business_hours`) and not paused,
the invoices that reached a step of the policy and were not yet reminded at it are gathered
(`policy.steps_to_send`), and ONE email per customer per step lists them all
(`notifications.queue_reminder`).

Each step is sent once per invoice, even with two runs at once: a `reminders_sent` row per
(invoice, step) is inserted, in its own savepoint, before the email is queued. On PostgreSQL a
second run's insert of the same pair waits for the first run's commit and then fails on the
unique constraint: that invoice is someone else's, and a step whose invoices were all taken
sends nothing. Invoices are claimed in the same order (customer, step, invoice id) by every
run, so two runs never wait on each other in a cycle. SQLite serializes the writers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock, today_in
from portal.domain.customers.models import Contact, Customer
from portal.domain.disputes.policy import MAX_INVOICES_PER_DISPUTE
from portal.domain.invoicing.models import Invoice
from portal.domain.payments.policy import MAX_INVOICES_PER_PAYMENT
from portal.domain.promises.policy import MAX_INVOICES_PER_PROMISE
from portal.domain.reminders.models import ReminderSent
from portal.domain.reminders.notifications import ReminderMail, queue_reminder, recipients
from portal.domain.reminders.policy import InvoiceToRemind, StepSpec, in_business_hours, steps_to_send
from portal.domain.reminders.queries import (
    already_sent, customer_overrides, excluded_invoice_ids, holidays,
    open_invoices_to_remind, policy_steps,
)

DEFAULT_REMINDER_BATCH = 200
# One link must open the pay, dispute and promise forms for all of a reminder's invoices.
MAX_INVOICES_PER_REMINDER = min(MAX_INVOICES_PER_PAYMENT, MAX_INVOICES_PER_DISPUTE, MAX_INVOICES_PER_PROMISE)

@dataclass
class ReminderReport:
    emails: int = 0
    invoices: int = 0
    outside_hours: int = 0
    paused: int = 0
    batch_full: bool = False

    def summary(self) -> str:
        line = (f"reminders: {self.emails} email{'' if self.emails == 1 else 's'} for {self.invoices} "
                f"invoice{'' if self.invoices == 1 else 's'}; {self.outside_hours} customer(s) outside business "
                f"hours, {self.paused} paused")
        if self.batch_full:
            line += "; batch full, the rest next run"
        return line


def _claim(db: Session, clock: Clock, customer_id: int, step: StepSpec, invoices: list[InvoiceToRemind],
           dedupe_key: str) -> list[int]:
    """Insert the (invoice, step) rows; the ids of the invoices this run won."""
    won: list[int] = []
    now = clock.now()
    for invoice in sorted(invoices, key=lambda i: i.invoice_id):
        savepoint = db.begin_nested()
        try:
            db.add(ReminderSent(invoice_id=invoice.invoice_id, customer_id=customer_id, offset_days=step.offset_days,
                                tone=step.tone.value, sent_at=now, dedupe_key=dedupe_key))
            db.flush()
        except IntegrityError:
            savepoint.rollback()
            continue
        savepoint.commit()
        won.append(invoice.invoice_id)
    return won


def reminder_key(customer_id: int, offset_days: int, invoice_ids: list[int]) -> str:
    digest = hashlib.sha256(",".join(str(i) for i in sorted(invoice_ids)).encode()).hexdigest()[:24]
    return f"reminder:{customer_id}:{offset_days}:{digest}"


def send_reminders(db: Session, clock: Clock, mail: ReminderMail, *, batch_size: int = DEFAULT_REMINDER_BATCH) -> ReminderReport:
    """Queue the reminders due now, at most `batch_size` emails per run; the caller commits once.

    Idempotent: a second run finds every (invoice, step) already recorded. Only the latest step
    an invoice reached is sent, so chasing that resumes (a promise broken, a pause lifted, a
    dispute closed) picks up where the invoice stands, without a burst of the missed steps.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    steps = {step.offset_days: step for step in policy_steps(db)}
    offsets = sorted(steps)
    days_off = set(holidays(db))
    now = clock.now()
    # Due dates worth reading, in any customer's calendar (a day either side of UTC's).
    due_by = now.date() + timedelta(days=1 - offsets[0])
    report = ReminderReport()
    after_id = 0
    while not report.batch_full:
        page = db.scalars(
            select(Customer).where(Customer.id > after_id, Customer.id.in_(
                select(Invoice.customer_id).where(Invoice.balance_minor > 0, Invoice.due_date <= due_by)))
            .order_by(Customer.id).limit(batch_size)
        ).all()
        if not page:
            break
        after_id = page[-1].id
        for customer in page:
            overrides = customer_overrides(db, customer.id)
            if overrides.paused:
                report.paused += 1
                continue
            if not in_business_hours(now, customer.timezone, days_off):
                report.outside_hours += 1
                continue
            contacts = db.scalars(select(Contact).where(Contact.customer_id == customer.id)
                                  .order_by(Contact.id)).all()
            if recipients(contacts) is None:
                continue
            today = today_in(clock, customer.timezone)
            candidates = open_invoices_to_remind(db, customer.id, today - timedelta(days=offsets[0]))
            chosen = steps_to_send(
                candidates, offsets=offsets, today=today, minimum=overrides.minimum,
                excluded_ids=excluded_invoice_ids(db, customer.id, today),
                already_sent=already_sent(db, [candidate.invoice_id for candidate in candidates]),
            )
            for offset in sorted(chosen):
                if report.emails >= batch_size:
                    report.batch_full = True
                    break
                group = chosen[offset][:MAX_INVOICES_PER_REMINDER]
                key = reminder_key(customer.id, offset, [invoice.invoice_id for invoice in group])
                won = _claim(db, clock, customer.id, steps[offset], group, key)
                if not won:
                    continue
                if len(won) < len(group):
                    # Another run took some of them: this email is about the rest, under its own key.
                    key = reminder_key(customer.id, offset, won)
                    db.execute(update(ReminderSent).where(ReminderSent.invoice_id.in_(won),
                                                          ReminderSent.offset_days == offset)
                               .values(dedupe_key=key).execution_options(synchronize_session=False))
                invoices = db.scalars(select(Invoice).where(Invoice.id.in_(won))
                                      .order_by(Invoice.due_date, Invoice.number)).all()
                queue_reminder(db, clock, mail, customer=customer, contacts=contacts, step=steps[offset],
                               invoices=invoices,
                               remindable={i.invoice_id: i.remindable_minor for i in group if i.invoice_id in won},
                               dedupe_key=key)
                report.emails += 1
                report.invoices += len(won)
            if report.batch_full:
                break
        if len(page) < batch_size:
            break
    db.flush()
    return report
