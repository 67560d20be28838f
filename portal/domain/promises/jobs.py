"""Scheduled work on promises.

`check_promises` (`flask --app wsgi check-promises`, daily or more often): decides every open
promise whose outcome is known (`policy.decide`): kept as soon as nothing is left to pay on its
invoices, broken once the customer's date plus the grace has passed with money still owed
(the customer is emailed once, `notifications.queue_broken_notice`). A payment settling does
not touch promises itself; the next run marks the promise kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock, today_in
from portal.domain.core.context import Context
from portal.domain.customers.models import Customer
from portal.domain.followups.service import raise_followup, settle_from_promise
from portal.domain.followups.states import FollowupKind
from portal.domain.invoicing.models import Invoice
from portal.domain.promises.models import Promise, PromiseInvoice
from portal.domain.promises.notifications import PromiseMail, queue_broken_notice
from portal.domain.promises.policy import InvoiceFigures, PromisePolicy, decide
from portal.domain.promises.service import settle_promise
from portal.domain.promises.states import PromiseStatus

DEFAULT_PROMISE_BATCH = 200
JOB_ACTOR = Actor.system("check-promises")


@dataclass
class PromiseCheckReport:
    kept: int = 0
    broken: int = 0
    still_open: int = 0
    emails: int = 0
    batch_full: bool = False

    def summary(self) -> str:
        line = (f"promises: {self.kept} kept, {self.broken} broken ({self.emails} email"
                f"{'' if self.emails == 1 else 's'}), {self.still_open} still open")
        if self.batch_full:
            line += "; batch full, the rest next run"
        return line


def check_promises(db: Session, clock: Clock, mail: PromiseMail, policy: PromisePolicy, *,
                   batch_size: int = DEFAULT_PROMISE_BATCH) -> PromiseCheckReport:
    """Decide the open promises whose outcome is known, at most `batch_size` per run.

    The open promises are read in id order a page at a time, each page's rows locked
    (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serializes writers), so two runs at once do
    not decide the same promise twice. Idempotent: a decided promise is final and no longer
    read; the broken email has a dedupe key. The caller commits, once.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    ctx = Context(db, clock, JOB_ACTOR)
    report = PromiseCheckReport()
    after_id = 0
    while not report.batch_full:
        page = db.execute(
            select(Promise, Customer.timezone).join(Customer, Customer.id == Promise.customer_id)
            .where(Promise.id > after_id, Promise.status == PromiseStatus.OPEN.value)
            .order_by(Promise.id).limit(batch_size)
            .with_for_update(skip_locked=True, of=Promise)
        ).all()
        if not page:
            break
        after_id = page[-1][0].id
        figures: dict[int, list[InvoiceFigures]] = {}
        for promise_id, balance, in_flight, held in db.execute(
            select(PromiseInvoice.promise_id, Invoice.balance_minor, Invoice.in_flight_minor, Invoice.held_minor)
            .join(Invoice, Invoice.id == PromiseInvoice.invoice_id)
            .where(PromiseInvoice.promise_id.in_([promise.id for promise, _ in page]))
        ):
            figures.setdefault(promise_id, []).append(InvoiceFigures(balance, in_flight, held))
        for promise, timezone in page:
            outcome = decide(policy, promised_date=promise.promised_date, today=today_in(clock, timezone),
                             invoices=figures.get(promise.id, []))
            if outcome is None:
                report.still_open += 1
                continue
            if report.kept + report.broken >= batch_size:
                report.batch_full = True
                break
            settle_promise(ctx, promise, outcome)
            # An approval the clerk reported ("waiting for approval on our side") became this
            # promise: it ends with it.
            settle_from_promise(ctx, promise.public_id, kept=outcome == PromiseStatus.KEPT)
            if outcome == PromiseStatus.KEPT:
                report.kept += 1
            else:
                report.broken += 1
                raise_followup(
                    ctx, kind=FollowupKind.PROMISE_BROKEN, customer_id=promise.customer_id,
                    invoice_ids=[line.invoice_id for line in promise.invoices],
                    details={"promise": promise.public_id, "promised_date": promise.promised_date.isoformat(),
                             "total_minor": promise.total_minor, "currency": promise.currency},
                    dedupe_key=f"promise_broken:{promise.public_id}",
                )
                if queue_broken_notice(db, clock, mail, promise):
                    report.emails += 1
        if len(page) < batch_size:
            break
        if report.kept + report.broken >= batch_size:
            # Full: the next page is left unread (and unlocked) for the next run.
            report.batch_full = True
    db.flush()
    return report
