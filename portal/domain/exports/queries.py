"""Cash out: what moved money on invoices since a cursor, for the ERP to apply exactly once.

Every row is one ledger entry other than `issued`: a settled payment's allocation to one
invoice, its reversal, a credit note (including the imported ones and voids), a refund, a
chargeback and a chargeback reversal. Entries are append-only, so a row never changes once
exported and its reference (`LE` and the entry's id) is stable: the ERP applies each
reference once.

The cursor. Entry ids come from a sequence, and on PostgreSQL ids are taken when a row is
inserted, not when its transaction commits: a transaction that took id 41 may commit after
one that took 42. A cursor "after id 42" would then skip 41 for ever. So each entry also
records the id of the transaction that wrote it (`export_xid`, from `pg_current_xact_id()`),
and the export reads in (transaction id, entry id) order and only entries whose transaction
id is below the oldest transaction of this database still running (`_postgres_horizon`).
Those transactions have all ended, so no entry can ever appear behind the cursor; an entry
of a still-running transaction (and any after it) waits for the next export. On SQLite every writer
holds the database's write lock (`BEGIN IMMEDIATE`) until it commits, so ids are handed out
in commit order and the entry id alone is the cursor (its transaction part stays 0).

The cursor's text is `<transaction id>-<entry id>`; `0-0` (or nothing) is the beginning.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.orm import Session, aliased

from portal.domain.core.errors import DomainError
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.imports.models import ErpRecord
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.states import EntryKind
from portal.domain.payments.models import Payment

DEFAULT_PAGE = 5_000
MAX_PAGE = 20_000
_CURSOR = re.compile(r"([0-9]{1,19})-([0-9]{1,19})", re.ASCII)

COLUMNS = ("reference", "cursor", "kind", "occurred_at", "customer_account", "customer_erp_id", "invoice_number",
           "invoice_erp_id", "currency", "amount", "amount_minor", "payment_reference", "payment_method",
           "document")


class CursorInvalid(DomainError):
    pass


@dataclass(frozen=True, order=True)
class CashCursor:
    xid: int = 0
    entry_id: int = 0

    def __str__(self) -> str:
        return f"{self.xid}-{self.entry_id}"


def parse_cursor(text: str | None) -> CashCursor:
    """A cursor the export gave out; empty means from the beginning."""
    text = (text or "").strip()
    if not text:
        return CashCursor()
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise CursorInvalid("A cursor looks like 0-1234: the next_cursor an earlier export gave")
    xid, entry_id = int(match.group(1)), int(match.group(2))
    if xid >= 2**63 or entry_id >= 2**63:
        raise CursorInvalid("That cursor is out of range")
    return CashCursor(xid, entry_id)


@dataclass(frozen=True)
class CashRow:
    reference: str
    cursor: CashCursor
    kind: str
    occurred_at: datetime
    customer_account: str
    customer_erp_id: str
    invoice_number: str
    invoice_erp_id: str
    amount: Money
    payment_reference: str
    payment_method: str
    document: str

    def cells(self) -> list[str]:
        text = _spreadsheet_safe
        return [self.reference, str(self.cursor), self.kind, self.occurred_at.isoformat(), text(self.customer_account),
                text(self.customer_erp_id), text(self.invoice_number), text(self.invoice_erp_id), self.amount.currency,
                self.amount.plain(), str(self.amount.minor), self.payment_reference, self.payment_method,
                text(self.document)]


def _spreadsheet_safe(value: str) -> str:
    """Text from the ERP or staff, made inert for a spreadsheet: a cell starting with = + - @
    would be read as a formula, so it gets a leading apostrophe."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


@dataclass(frozen=True)
class CashPage:
    rows: list[CashRow]
    next_cursor: CashCursor
    more: bool  # the page was full: ask again from next_cursor


_XID_WRAP = 1 << 32


def _postgres_horizon(db: Session) -> int:
    """The lowest transaction id (64-bit, as `export_xid` holds it) that may still commit an
    entry: the oldest transaction of this database running now, or the next id to be given.

    Read in its own statement before the rows are: the statement's snapshot (its `xmax`, the
    next transaction id) comes first, then the running transactions of this database
    (`pg_stat_activity.backend_xid`, read fresh: `pg_stat_clear_snapshot`). Any transaction
    below the horizon had ended before the rows are read (READ COMMITTED: the next statement
    sees it); any that starts later gets an id at or above it. Other databases on the server
    cannot write our entries, so their transactions do not hold the export back. (The portal
    uses no prepared transactions, which `pg_stat_activity` would not list.)
    """
    db.execute(text("SELECT pg_stat_clear_snapshot()"))
    xmax, running = db.execute(text(
        "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, "
        "ARRAY(SELECT backend_xid::text::bigint FROM pg_stat_activity "
        "WHERE datname = current_database() AND backend_xid IS NOT NULL)"
    )).one()
    horizon = xmax
    for short_xid in running:
        # backend_xid is the 32-bit id: put it in the epoch of xmax (or the one before).
        full = (xmax & ~(_XID_WRAP - 1)) | short_xid
        if full >= xmax:
            if full - xmax < _XID_WRAP // 2:
                continue  # began after the snapshot: above the horizon anyway
            full -= _XID_WRAP
        horizon = min(horizon, full)
    return horizon


def entry_reference(entry_id: int) -> str:
    return f"LE{entry_id:010d}"


def _cash_query():
    """Every entry with what a cash row shows of it, unfiltered and unordered."""
    invoice_erp = aliased(ErpRecord)
    customer_erp = aliased(ErpRecord)
    xid = func.coalesce(InvoiceEntry.export_xid, 0)
    return (
        select(InvoiceEntry.id, xid, InvoiceEntry.kind, InvoiceEntry.created_at, InvoiceEntry.amount_minor,
               InvoiceEntry.reference, Invoice.number, Invoice.currency, Customer.account_number,
               invoice_erp.erp_id, customer_erp.erp_id, Payment.reference, Payment.method)
        .join(Invoice, Invoice.id == InvoiceEntry.invoice_id)
        .join(Customer, Customer.id == Invoice.customer_id)
        .outerjoin(Payment, Payment.id == InvoiceEntry.payment_id)
        .outerjoin(invoice_erp, (invoice_erp.kind == "invoice") & (invoice_erp.invoice_id == Invoice.id))
        .outerjoin(customer_erp, (customer_erp.kind == "customer") & (customer_erp.customer_id == Customer.id))
    )


def _cash_row(found) -> CashRow:
    (entry_id, entry_xid, kind, at, amount_minor, document, number, currency, account, invoice_erp_id,
     customer_erp_id, payment_reference, method) = found
    return CashRow(
        reference=entry_reference(entry_id), cursor=CashCursor(int(entry_xid), entry_id), kind=kind, occurred_at=at,
        customer_account=account, customer_erp_id=customer_erp_id or "", invoice_number=number,
        invoice_erp_id=invoice_erp_id or "", amount=Money(amount_minor, currency),
        payment_reference=payment_reference or "", payment_method=method or "", document=document or "",
    )


def cash_since(db: Session, cursor: CashCursor, *, limit: int = DEFAULT_PAGE) -> CashPage:
    """The cash rows after `cursor`, at most `limit` entries read (issued entries are read to
    move the cursor past them, and left out)."""
    limit = max(1, min(limit, MAX_PAGE))
    postgres = db.get_bind().dialect.name == "postgresql"
    query = _cash_query()
    if postgres:
        horizon = _postgres_horizon(db)
        query = (query.where(tuple_(InvoiceEntry.export_xid, InvoiceEntry.id) > tuple_(cursor.xid, cursor.entry_id),
                             InvoiceEntry.export_xid < horizon)
                 .order_by(InvoiceEntry.export_xid, InvoiceEntry.id))
    else:
        query = query.where(InvoiceEntry.id > cursor.entry_id).order_by(InvoiceEntry.id)
    found = db.execute(query.limit(limit)).all()
    rows = []
    next_cursor = cursor
    for row in found:
        next_cursor = CashCursor(int(row[1]), row[0])
        if row[2] == EntryKind.ISSUED:
            continue
        rows.append(_cash_row(row))
    return CashPage(rows=rows, next_cursor=next_cursor, more=len(found) == limit)


def cash_rows_of_entries(db: Session, entry_ids: Collection[int]) -> dict[int, CashRow]:
    """The rows the export lists for these entries, by entry id, in one statement (`issued`
    entries and unknown ids left out). The outgoing webhooks send exactly these rows, read
    once the entries' transactions have committed (an import writes its ERP ids last)."""
    if not entry_ids:
        return {}
    found = db.execute(_cash_query().where(InvoiceEntry.id.in_(sorted(set(entry_ids))))).all()
    return {row[0]: _cash_row(row) for row in found if row[2] != EntryKind.ISSUED}


def all_cash_since(db: Session, cursor: CashCursor, *, page: int = DEFAULT_PAGE,
                   max_rows: int | None = None) -> tuple[Iterator[CashRow], list[CashCursor]]:
    """Every cash row after `cursor`, page by page; the second value holds the next cursor
    once the iterator is exhausted. `max_rows` stops early (the cursor says where)."""
    final = [cursor]

    def rows() -> Iterator[CashRow]:
        current, given = cursor, 0
        while True:
            result = cash_since(db, current, limit=page)
            for row in result.rows:
                yield row
                given += 1
            current = result.next_cursor
            final[0] = current
            if not result.more or (max_rows is not None and given >= max_rows):
                return

    return rows(), final
