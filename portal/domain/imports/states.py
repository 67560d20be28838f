"""The kinds of record an ERP import file holds, in the order they are applied."""

from __future__ import annotations

from enum import StrEnum


class RecordKind(StrEnum):
    CUSTOMER = "customer"
    CONTACT = "contact"
    INVOICE = "invoice"
    LINE = "line"          # belongs to the invoice row it names; never stored on its own
    CREDIT_NOTE = "credit_note"
    VOID = "void"


APPLY_ORDER = (RecordKind.CUSTOMER, RecordKind.CONTACT, RecordKind.INVOICE, RecordKind.CREDIT_NOTE, RecordKind.VOID)
