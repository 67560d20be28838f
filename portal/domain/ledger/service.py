"""Writing the ledger: `post_entry` is the one function that appends an `InvoiceEntry`.

Every entry passes the same checks (a known kind, an integer amount with that kind's sign, a
reference that fits) before it is added, so a wrong sign is refused with a message instead of
surfacing as a constraint violation at commit. The database keeps the invoice's maintained
balance in the same transaction (trigger on insert); the caller commits.

Every entry but `issued` is a cash row of the ERP export, so this is also where its outgoing
webhook deliveries are queued, in the same transaction (`webhooks.service.enqueue_cash_event`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portal.domain.core.errors import DomainError
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.states import EntryKind
from portal.domain.webhooks.service import enqueue_cash_event

MAX_REFERENCE_LENGTH = 120


class EntryRefused(DomainError):
    """The entry would break a rule of the ledger; nothing was written."""


def post_entry(db: Session, *, invoice_id: int, kind: EntryKind | str, amount_minor: int, at: datetime,
               payment_id: int | None = None, reference: str = "") -> InvoiceEntry:
    """Append one entry to an invoice's history and flush it (so its balance has moved).

    `amount_minor` is signed as the kind requires: positive for what reopens the invoice
    (issued, reversals, refunds, chargebacks), negative for what settles it (payments, credit
    notes, chargeback reversals).
    """
    try:
        kind = EntryKind(kind)
    except ValueError:
        raise EntryRefused(f"Unknown ledger entry kind: {kind!r}") from None
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise EntryRefused("A ledger amount is a whole number of minor units")
    if not kind.accepts(amount_minor):
        expected = "positive" if kind.sign > 0 else "negative"
        raise EntryRefused(f"A {kind.label.lower()} entry must be {expected}, not {amount_minor}")
    if len(reference) > MAX_REFERENCE_LENGTH:
        raise EntryRefused(f"An entry reference has at most {MAX_REFERENCE_LENGTH} characters")
    if at.tzinfo is None:
        raise EntryRefused("An entry's time must be an aware UTC datetime")
    entry = InvoiceEntry(invoice_id=invoice_id, kind=kind.value, amount_minor=amount_minor,
                         payment_id=payment_id, reference=reference, created_at=at)
    db.add(entry)
    db.flush()
    enqueue_cash_event(db, entry_id=entry.id, kind=kind, at=at)
    return entry
