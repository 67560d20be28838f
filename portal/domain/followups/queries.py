"""Reading follow-ups: by public id within a scope, and which invoices active ones cover."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.followups.models import Followup, FollowupInvoice
from portal.domain.followups.states import ACTIVE, FollowupKind


def followup_by_public_id(db: Session, public_id: str, *, customer_id: int | None = None) -> Followup | None:
    """The follow-up, or None; with `customer_id`, only that customer's (anything else reads as
    not found, so another company's id reveals nothing)."""
    query = select(Followup).where(Followup.public_id == public_id)
    if customer_id is not None:
        query = query.where(Followup.customer_id == customer_id)
    return db.scalar(query)


def invoices_with_active_followups(db: Session, invoice_ids: Iterable[int],
                                   kinds: Iterable[FollowupKind] | None = None) -> set[int]:
    """Of `invoice_ids`, those an active follow-up (of one of `kinds`, or any) covers."""
    ids = list(invoice_ids)
    if not ids:
        return set()
    query = (select(FollowupInvoice.invoice_id).join(Followup, Followup.id == FollowupInvoice.followup_id)
             .where(FollowupInvoice.invoice_id.in_(ids), Followup.status.in_(ACTIVE)))
    if kinds is not None:
        query = query.where(Followup.kind.in_([FollowupKind(kind).value for kind in kinds]))
    return set(db.scalars(query))
