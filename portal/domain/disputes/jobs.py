"""`check_holds`: each invoice's `held_minor` equals what its active disputes hold.

The dispute service moves `invoices.held_minor` in the same transaction as the dispute
(`service._move_hold`); this proves it against the disputes themselves, reading every
invoice that holds something or is covered by an active dispute once (a job, not a page).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal.domain.disputes.models import Dispute, DisputeInvoice
from portal.domain.disputes.states import ACTIVE
from portal.domain.invoicing.models import Invoice


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
