"""The append-only history of entries that makes up an invoice's balance.

An invoice's open balance is the sum of its entries: `issued` is positive, settled payments
and credit notes are negative, reversals, refunds and chargebacks reopen it. Entries are never
updated or deleted (database triggers refuse it); a correction is another entry. The kinds and
their signs are `states.EntryKind`; `service.post_entry` is the one place that writes an entry,
and a trigger adds each new entry to its invoice's maintained `balance_minor`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.types import Base
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.states import kind_sign_check_sql
from portal.domain.payments import models as payments_models  # noqa: F401  (payments.id, a foreign key target)


class InvoiceEntry(Base):
    __tablename__ = "invoice_entries"
    __table_args__ = (
        CheckConstraint(kind_sign_check_sql(), name="kind_sign"),
        # A payment settles (or is reversed) on an invoice at most once: a database-level
        # guard behind the webhook deduplication.
        UniqueConstraint("payment_id", "invoice_id", "kind"),
        Index("ix_invoice_entries_invoice", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    kind: Mapped[str] = mapped_column(String(30))
    amount_minor: Mapped[int] = mapped_column(Integer)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    reference: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime]

    invoice: Mapped[Invoice] = relationship()
