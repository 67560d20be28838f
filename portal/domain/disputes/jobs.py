"""Scheduled work on disputes.

`check_holds`: each invoice's `held_minor` equals what its active disputes hold. The dispute
service moves `invoices.held_minor` in the same transaction as the dispute
(`service._move_hold`); this proves it against the disputes themselves, reading every
invoice that holds something or is covered by an active dispute once (a job, not a page).

`warn_sla_at_risk`: email the supervisors about disputes whose first response or resolution
is due within the warning window, or already past, while the SLA clock runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock
from portal.domain.disputes.models import Dispute, DisputeInvoice
from portal.domain.disputes.policy import SlaDue, sla_dues_to_warn
from portal.domain.disputes.staff_notifications import (
    StaffMail, active_supervisors, queue_sla_warning, queued_keys, sla_warning_key, summaries,
)
from portal.domain.disputes.states import ACTIVE, SLA_RUNNING
from portal.domain.invoicing.models import Invoice

DEFAULT_SLA_WARNING_WINDOW = timedelta(hours=4)
DEFAULT_SLA_WARNING_BATCH = 200


@dataclass(frozen=True)
class HoldDifference:
    invoice_number: str
    stored: int
    computed: int

    def __str__(self) -> str:
        return f"{self.invoice_number}: held_minor is {self.stored}, its active disputes hold {self.computed}"


def check_holds(db: Session) -> list[HoldDifference]:
    holds = (
        select(DisputeInvoice.invoice_id, func.sum(DisputeInvoice.held_minor).label("total"))
        .join(Dispute, Dispute.id == DisputeInvoice.dispute_id)
        .where(Dispute.status.in_([str(s) for s in ACTIVE]))
        .group_by(DisputeInvoice.invoice_id)
        .subquery("active_holds")
    )
    computed = func.coalesce(holds.c.total, 0)
    rows = db.execute(
        select(Invoice.number, Invoice.held_minor, computed)
        .outerjoin(holds, holds.c.invoice_id == Invoice.id)
        .where(or_(Invoice.held_minor != 0, holds.c.total.is_not(None)), Invoice.held_minor != computed)
        .order_by(Invoice.number)
    ).all()
    return [HoldDifference(number, int(stored), int(total)) for number, stored, total in rows]


# --------------------------------------------------------------------------------------------
# SLA warnings


@dataclass
class SlaWarningReport:
    warned: int = 0  # SLA dates warned about in this run (a dispute may have two)
    emails: int = 0
    already_warned: int = 0
    without_supervisor: int = 0
    batch_full: bool = False

    def summary(self) -> str:
        line = (f"sla warnings: {self.warned} queued ({self.emails} email{'' if self.emails == 1 else 's'}), "
                f"{self.already_warned} already sent")
        if self.without_supervisor:
            line += f", {self.without_supervisor} with no active supervisor to tell"
        if self.batch_full:
            line += "; batch full, the rest next run"
        return line


def warn_sla_at_risk(db: Session, clock: Clock, mail: StaffMail, *, window: timedelta = DEFAULT_SLA_WARNING_WINDOW,
                     batch_size: int = DEFAULT_SLA_WARNING_BATCH) -> SlaWarningReport:
    """Warn the supervisors of each active dispute whose SLA clock runs (not while it waits for
    the customer) and whose first response (not yet given) or resolution is due within
    `window`, or is past and was not warned about yet. The supervisors are the active ones who
    are members of the dispute's team; with none there, every active supervisor.

    Idempotent: each warning is one outbox message per supervisor under a key naming the
    dispute, the SLA target and its due time (`staff_notifications.sla_warning_key`), so a
    second run queues nothing, and a due time a pause moved later is warned about again.

    At most `batch_size` dates are warned about per run; the rest wait for the next. The
    disputes are read in id order a page at a time, the already-warned ones skipped by their
    keys (one lookup per page), so old warnings never crowd out new ones. Each page's dispute
    rows are locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serializes writers), so two
    runs at once do not queue the same warning twice. The caller commits, once.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    now = clock.now()
    horizon = now + window
    report = SlaWarningReport()
    supervisors = active_supervisors(db)
    after_id = 0
    while not report.batch_full:
        page = list(db.scalars(
            select(Dispute)
            .where(Dispute.id > after_id, Dispute.status.in_([str(s) for s in SLA_RUNNING]),
                   or_(and_(Dispute.first_responded_at.is_(None), Dispute.first_response_due_at <= horizon),
                       Dispute.resolution_due_at <= horizon))
            .order_by(Dispute.id).limit(batch_size)
            .with_for_update(skip_locked=True, of=Dispute)
        ))
        if not page:
            break
        after_id = page[-1].id
        due: list[tuple[Dispute, SlaDue]] = [
            (dispute, item) for dispute in page
            for item in sla_dues_to_warn(now, window, status=dispute.status,
                                         first_response_due_at=dispute.first_response_due_at,
                                         first_responded_at=dispute.first_responded_at,
                                         resolution_due_at=dispute.resolution_due_at)
        ]
        queued = queued_keys(db, (sla_warning_key(dispute, item, member) for dispute, item in due
                                  for member in supervisors.for_dispute(dispute)))
        to_warn = []
        for dispute, item in due:
            recipients = supervisors.for_dispute(dispute)
            if not recipients:
                report.without_supervisor += 1
                continue
            new = [member for member in recipients if sla_warning_key(dispute, item, member) not in queued]
            if not new:
                report.already_warned += 1
                continue
            if len(to_warn) + report.warned >= batch_size:
                report.batch_full = True
                break
            to_warn.append((dispute, item, new))
        about = summaries(db, list({dispute.id: dispute for dispute, _, _ in to_warn}.values()))
        for dispute, item, new in to_warn:
            queue_sla_warning(db, clock, mail, about[dispute.id], item, new)
            report.warned += 1
            report.emails += len(new)
        if len(page) < batch_size:
            break
    db.flush()
    return report
