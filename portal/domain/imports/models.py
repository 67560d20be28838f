"""What the ERP sent, by its own ids: one row per imported customer, contact, invoice, credit
note or void, unique per kind, with a fingerprint of the content last imported.

The fingerprint is what makes an import idempotent: a row whose content hashes to the stored
fingerprint is "unchanged" and nothing is written; a different one is an update, which the
import applies through the owning area's service or refuses with a message.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.core.types import Base
from portal.domain.imports.states import RecordKind

MAX_ERP_ID_LENGTH = 64


def _kinds_sql() -> str:
    return "kind IN (" + ", ".join(f"'{kind.value}'" for kind in RecordKind if kind != RecordKind.LINE) + ")"


class ErpRecord(Base):
    __tablename__ = "erp_records"
    __table_args__ = (
        UniqueConstraint("kind", "erp_id"),
        CheckConstraint(_kinds_sql(), name="kind_known"),
        CheckConstraint("length(erp_id) > 0", name="erp_id_not_empty"),
        Index("ix_erp_records_invoice", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    erp_id: Mapped[str] = mapped_column(String(MAX_ERP_ID_LENGTH))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_entries.id"))
    # SHA-256 (hex) of the record's parsed content as last imported.
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
