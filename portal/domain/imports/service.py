"""Importing an ERP file: all of it or none of it, and the same file twice changes nothing.

`import_erp_file` works in three passes over the parsed file (`policy.parse_import`):

1. **parse**: every cell of every row, without the database;
2. **check**: with the database, still writing nothing: is the customer known (in the file or
   imported before), is the invoice number free, does a changed invoice have payments,
   disputes, a plan or a promise (then the change is refused: the ERP sends a credit note),
   does a credit note fit in what is still open;
3. **write**: through the owning services (`invoicing.service`, the one write path for
   invoices and credit notes; `customers.service`), each record remembered by its ERP id and
   the fingerprint of its content (`ErpRecord`). A row whose fingerprint is already stored is
   "unchanged" and not touched.

Any error in any pass raises `ImportRefused` with every error and its line; the caller rolls
back, so a file is imported whole or not at all. The caller commits on success.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.audit import record
from portal.domain.core.context import Context
from portal.domain.core.errors import DomainError
from portal.domain.core.money import Money
from portal.domain.customers.service import create_contact, create_customer, update_contact, update_customer
from portal.domain.customers.models import Contact, Customer
from portal.domain.imports.models import ErpRecord
from portal.domain.imports.policy import (
    ContactRecord, CreditNoteRecord, CustomerRecord, ImportFile, InvoiceRecord, RowError, VoidRecord, limited,
    parse_import,
)
from portal.domain.imports.states import RecordKind
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.service import (
    NewLine, change_invoice_terms, invoice_activity, issue_credit_note, issue_invoice, void_invoice,
)

CHUNK = 500


class ImportRefused(DomainError):
    """Nothing was imported; `errors` says which rows are wrong and why."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = limited(list(errors))
        count = len({error.line for error in errors})
        super().__init__(f"The file was not imported: {count} row{'s' if count != 1 else ''} "
                         f"{'have' if count != 1 else 'has'} errors. Nothing was changed.")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class _Plan:
    """What the check pass decided for each row: new, changed (with its stored record) or
    unchanged, and the running open balance of each invoice the file touches."""

    known: dict[tuple[str, str], ErpRecord] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)


def _chunks(values: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _load_known(db: Session, parsed: ImportFile) -> dict[tuple[str, str], ErpRecord]:
    """The stored records of every ERP id the file names, by (kind, ERP id)."""
    wanted: dict[str, set[str]] = {kind.value: set() for kind in RecordKind if kind != RecordKind.LINE}
    wanted["customer"].update(r.erp_id for r in parsed.customers)
    wanted["customer"].update(r.customer_erp_id for r in [*parsed.contacts, *parsed.invoices])
    wanted["contact"].update(r.erp_id for r in parsed.contacts)
    wanted["invoice"].update(r.erp_id for r in parsed.invoices)
    wanted["invoice"].update(r.invoice_erp_id for r in [*parsed.credit_notes, *parsed.voids])
    wanted["credit_note"].update(r.erp_id for r in parsed.credit_notes)
    wanted["void"].update(r.erp_id for r in parsed.voids)
    known = {}
    for kind, ids in wanted.items():
        for chunk in _chunks(sorted(ids)):
            for row in db.scalars(select(ErpRecord).where(ErpRecord.kind == kind, ErpRecord.erp_id.in_(chunk))):
                known[(kind, row.erp_id)] = row
    return known


def _taken_numbers(db: Session, numbers: list[str]) -> set[str]:
    taken: set[str] = set()
    for chunk in _chunks(numbers):
        taken.update(db.scalars(select(Invoice.number).where(Invoice.number.in_(chunk))))
    return taken


def _taken_accounts(db: Session, accounts: list[str]) -> dict[str, int]:
    taken: dict[str, int] = {}
    for chunk in _chunks(accounts):
        taken.update(db.execute(select(Customer.account_number, Customer.id)
                                .where(Customer.account_number.in_(chunk))).all())
    return taken


def _conflict(line: int, message: str) -> RowError:
    """An error of the check pass: what is already stored does not allow the row."""
    return RowError(line, message, reason="conflict")


def _check(db: Session, parsed: ImportFile) -> _Plan:
    plan = _Plan(known=_load_known(db, parsed))
    known, errors = plan.known, plan.errors
    file_customers = {r.erp_id for r in parsed.customers}
    file_invoices = {r.erp_id: r for r in parsed.invoices}

    accounts = _taken_accounts(db, [r.account_number for r in parsed.customers])
    for customer in parsed.customers:
        stored = known.get(("customer", customer.erp_id))
        owner = accounts.get(customer.account_number)
        if owner is not None and (stored is None or stored.customer_id != owner):
            errors.append(_conflict(customer.line, f"customer: account number {customer.account_number} "
                                                  "is already another customer's"))

    for contact in parsed.contacts:
        if contact.customer_erp_id not in file_customers and ("customer", contact.customer_erp_id) not in known:
            errors.append(RowError(contact.line, f"contact: customer {contact.customer_erp_id!r} is not known "
                                                 "(not in this file, never imported)",
                                                 column="customer_erp_id", reason="unknown"))

    taken = _taken_numbers(db, [r.number for r in parsed.invoices if ("invoice", r.erp_id) not in known])
    for invoice in parsed.invoices:
        if invoice.customer_erp_id not in file_customers and ("customer", invoice.customer_erp_id) not in known:
            errors.append(RowError(invoice.line, f"invoice: customer {invoice.customer_erp_id!r} is not known "
                                                 "(not in this file, never imported)",
                                                 column="customer_erp_id", reason="unknown"))
            continue
        stored = known.get(("invoice", invoice.erp_id))
        if stored is None:
            if invoice.number in taken:
                errors.append(_conflict(invoice.line, f"invoice: number {invoice.number} is already used"))
            plan.balances[invoice.erp_id] = invoice.total_minor
            continue
        if stored.fingerprint == invoice.fingerprint():
            continue  # unchanged: not even loaded (a credit note reads its balance itself)
        current = db.get(Invoice, stored.invoice_id)
        assert current is not None
        plan.balances[invoice.erp_id] = current.balance_minor
        problem = _invoice_change_problem(db, current, invoice, known)
        if problem:
            errors.append(_conflict(invoice.line, f"invoice {invoice.number}: {problem}"))

    for note in parsed.credit_notes:
        stored = known.get(("credit_note", note.erp_id))
        if stored is not None:
            if stored.fingerprint != note.fingerprint():
                errors.append(_conflict(note.line, f"credit_note {note.number}: already imported with other "
                                                  "content; a credit note cannot change (send another one)"))
            continue
        currency = _invoice_currency(db, note.invoice_erp_id, file_invoices, known)
        if currency is None:
            errors.append(RowError(note.line, f"credit_note: invoice {note.invoice_erp_id!r} is not known",
                                   column="invoice_erp_id", reason="unknown"))
            continue
        if currency != note.currency:
            errors.append(RowError(note.line, f"credit_note: the invoice is in {currency}, not {note.currency}",
                                   column="currency"))
            continue
        open_minor = plan.balances.get(note.invoice_erp_id)
        if open_minor is None:
            open_minor = _balance(db, known[("invoice", note.invoice_erp_id)])
        if note.amount_minor > open_minor:
            errors.append(_conflict(note.line, f"credit_note {note.number}: {note.amount_minor} minor units is "
                                              f"more than the {open_minor} still open on the invoice"))
            continue
        plan.balances[note.invoice_erp_id] = open_minor - note.amount_minor

    for void in parsed.voids:
        stored = known.get(("void", void.erp_id))
        if stored is not None:
            if stored.fingerprint != void.fingerprint():
                errors.append(_conflict(void.line, "void: already imported for another invoice"))
            continue
        if void.invoice_erp_id not in file_invoices and ("invoice", void.invoice_erp_id) not in known:
            errors.append(RowError(void.line, f"void: invoice {void.invoice_erp_id!r} is not known",
                                   column="invoice_erp_id", reason="unknown"))
            continue
        if any(note.invoice_erp_id == void.invoice_erp_id and ("credit_note", note.erp_id) not in known
               for note in parsed.credit_notes):
            errors.append(_conflict(void.line, "void: the file also credits this invoice; send one or the other"))
            continue
        invoice_record = known.get(("invoice", void.invoice_erp_id))
        if invoice_record is not None:
            activity = invoice_activity(db, invoice_record.invoice_id)
            if activity:
                errors.append(_conflict(void.line, f"void: the invoice already has {', '.join(activity)}; it "
                                                  "cannot be voided (send a credit note for what is taken back)"))
    return plan


def _invoice_change_problem(db: Session, current: Invoice, invoice: InvoiceRecord,
                            known: dict[tuple[str, str], ErpRecord]) -> str | None:
    """Why the re-sent invoice cannot replace the stored one, or None when it can (only the
    due date, PO number and terms changed, and nobody has acted on the invoice)."""
    customer = known.get(("customer", invoice.customer_erp_id))
    same_customer = customer is not None and customer.customer_id == current.customer_id
    stored_lines = [(line.sku, line.description, line.quantity, line.unit_price_minor, line.amount_minor)
                    for line in current.lines]
    sent_lines = [(line.sku, line.description, line.quantity, line.unit_price_minor, line.amount_minor)
                  for line in invoice.lines]
    if (not same_customer or current.number != invoice.number or current.currency != invoice.currency
            or current.total_minor != invoice.total_minor or current.issue_date != invoice.issue_date
            or stored_lines != sent_lines):
        return ("its customer, number, currency, issue date, lines or total cannot change once imported; "
                "send a credit note (or a void and a new invoice)")
    activity = invoice_activity(db, current.id)
    if activity:
        return f"it already has {', '.join(activity)}: it cannot be changed; send a credit note instead"
    return None


def _invoice_currency(db: Session, erp_id: str, file_invoices: dict[str, InvoiceRecord],
                      known: dict[tuple[str, str], ErpRecord]) -> str | None:
    if erp_id in file_invoices:
        return file_invoices[erp_id].currency
    stored = known.get(("invoice", erp_id))
    if stored is None:
        return None
    return db.scalar(select(Invoice.currency).where(Invoice.id == stored.invoice_id))


def _balance(db: Session, stored: ErpRecord) -> int:
    return db.scalar(select(Invoice.balance_minor).where(Invoice.id == stored.invoice_id)) or 0


def import_erp_file(ctx: Context, data: bytes, *, source: str) -> ImportReport:
    """Import the ERP file's customers, contacts, invoices, credit notes and voids, or refuse
    it whole (`ImportRefused`). `source` names the file in the audit log."""
    parsed = parse_import(data)
    if not parsed.errors and not parsed.row_count:
        raise ImportRefused([RowError(0, "The file has no rows to import")])
    return import_records(ctx, parsed, source=source)


def import_records(ctx: Context, parsed: ImportFile, *, source: str) -> ImportReport:
    """The check and write passes over records already parsed (`policy.parse_import` for a
    file, `policy.parse_rows` for the API's rows): all of them or none (`ImportRefused`)."""
    # The rows that parsed are checked against the database too, so one attempt lists every
    # error of the file; nothing is written while there is any.
    plan = _check(ctx.db, parsed)
    if parsed.errors or plan.errors:
        raise ImportRefused(parsed.errors + plan.errors)
    writer = _Writer(ctx, plan.known)
    writer.write(parsed)
    if writer.errors:
        raise ImportRefused(writer.errors)
    report = writer.report
    if report.created or report.updated:
        record(ctx.db, ctx.clock, ctx.actor, "erp.imported", "erp_import", source[:100],
               after={"created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                      **report.by_kind})
    return report


class _Writer:
    def __init__(self, ctx: Context, known: dict[tuple[str, str], ErpRecord]) -> None:
        self.db, self.now = ctx.db, ctx.clock.now()
        self.known = known
        self.report = ImportReport()
        self.errors: list[RowError] = []
        # The session's identity map holds rows weakly: keeping the customers here lets each
        # invoice find its customer without a query.
        self._customers: dict[int, Customer] = {}
        self.new_records: list[ErpRecord] = []

    def write(self, parsed: ImportFile) -> None:
        steps = ((parsed.customers, self._customer), (parsed.contacts, self._contact),
                 (parsed.invoices, self._invoice), (parsed.credit_notes, self._credit_note),
                 (parsed.voids, self._void))
        for records, write_one in steps:
            for item in records:
                try:
                    write_one(item)
                except DomainError as refused:
                    self.errors.append(RowError(item.line, refused.message, reason="conflict"))
        self.db.add_all(self.new_records)
        self.db.flush()

    def _seen(self, kind: RecordKind, erp_id: str, fingerprint: str) -> ErpRecord | None:
        """The stored record when it needs an update; None for a new one. Counts unchanged rows
        (and raises `_Unchanged` for them)."""
        stored = self.known.get((kind.value, erp_id))
        if stored is not None and stored.fingerprint == fingerprint:
            self.report.unchanged += 1
            raise _Unchanged
        return stored

    def _remember(self, kind: RecordKind, erp_id: str, fingerprint: str, stored: ErpRecord | None, **target) -> None:
        if stored is None:
            stored = ErpRecord(kind=kind.value, erp_id=erp_id, fingerprint=fingerprint, created_at=self.now,
                               updated_at=self.now, **target)
            # Added together at the end: one flush for all of them, not one per invoice.
            self.new_records.append(stored)
            self.known[(kind.value, erp_id)] = stored
            self.report.created += 1
            self.report.by_kind[kind.value] = self.report.by_kind.get(kind.value, 0) + 1
        else:
            stored.fingerprint, stored.updated_at = fingerprint, self.now
            self.report.updated += 1

    def _customer(self, item: CustomerRecord) -> None:
        fingerprint = item.fingerprint()
        try:
            stored = self._seen(RecordKind.CUSTOMER, item.erp_id, fingerprint)
        except _Unchanged:
            return
        if stored is None:
            customer = create_customer(self.db, account_number=item.account_number, name=item.name,
                                       timezone=item.timezone, at=self.now)
        else:
            assert stored.customer_id is not None
            customer = update_customer(self.db, customer_id=stored.customer_id, account_number=item.account_number,
                                       name=item.name, timezone=item.timezone)
        self._customers[customer.id] = customer
        self._remember(RecordKind.CUSTOMER, item.erp_id, fingerprint, stored, customer_id=customer.id)

    def _customer_id(self, erp_id: str) -> int:
        customer_id = self.known[("customer", erp_id)].customer_id
        assert customer_id is not None
        if customer_id not in self._customers:
            self._customers[customer_id] = self.db.get(Customer, customer_id)
        return customer_id

    def _contact(self, item: ContactRecord) -> None:
        fingerprint = item.fingerprint()
        try:
            stored = self._seen(RecordKind.CONTACT, item.erp_id, fingerprint)
        except _Unchanged:
            return
        customer_id = self._customer_id(item.customer_erp_id)
        if stored is None:
            contact = create_contact(self.db, customer_id=customer_id, email=item.email, name=item.name,
                                     is_ap_mailbox=item.is_ap_mailbox, at=self.now, language=item.language)
        else:
            assert stored.contact_id is not None
            if self.db.get(Contact, stored.contact_id).customer_id != customer_id:
                raise DomainError(f"contact {item.email}: a contact cannot move to another customer")
            contact = update_contact(self.db, contact_id=stored.contact_id, email=item.email, name=item.name,
                                     is_ap_mailbox=item.is_ap_mailbox, language=item.language)
        self._remember(RecordKind.CONTACT, item.erp_id, fingerprint, stored, customer_id=customer_id,
                       contact_id=contact.id)

    def _invoice(self, item: InvoiceRecord) -> None:
        fingerprint = item.fingerprint()
        try:
            stored = self._seen(RecordKind.INVOICE, item.erp_id, fingerprint)
        except _Unchanged:
            return
        if stored is None:
            invoice = issue_invoice(
                self.db, customer_id=self._customer_id(item.customer_erp_id), number=item.number,
                currency=item.currency, issue_date=item.issue_date, due_date=item.due_date,
                total_minor=item.total_minor, po_number=item.po_number, terms=item.terms, at=self.now,
                lines=[NewLine(line.description, line.quantity, line.unit_price_minor,
                               amount_minor=line.amount_minor, sku=line.sku) for line in item.lines],
            )
        else:
            assert stored.invoice_id is not None
            invoice = change_invoice_terms(self.db, invoice_id=stored.invoice_id, due_date=item.due_date,
                                           po_number=item.po_number, terms=item.terms)
        self._remember(RecordKind.INVOICE, item.erp_id, fingerprint, stored, customer_id=invoice.customer_id,
                       invoice_id=invoice.id)

    def _invoice_id(self, erp_id: str) -> int:
        invoice_id = self.known[("invoice", erp_id)].invoice_id
        assert invoice_id is not None
        return invoice_id

    def _credit_note(self, item: CreditNoteRecord) -> None:
        fingerprint = item.fingerprint()
        try:
            self._seen(RecordKind.CREDIT_NOTE, item.erp_id, fingerprint)
        except _Unchanged:
            return
        invoice_id = self._invoice_id(item.invoice_erp_id)
        entry = issue_credit_note(self.db, invoice_id=invoice_id, amount=Money(item.amount_minor, item.currency),
                                  at=self.now, reference=item.number)
        self._remember(RecordKind.CREDIT_NOTE, item.erp_id, fingerprint, None, invoice_id=invoice_id,
                       entry_id=entry.id)

    def _void(self, item: VoidRecord) -> None:
        fingerprint = item.fingerprint()
        try:
            self._seen(RecordKind.VOID, item.erp_id, fingerprint)
        except _Unchanged:
            return
        invoice_id = self._invoice_id(item.invoice_erp_id)
        entry = void_invoice(self.db, invoice_id=invoice_id, at=self.now, reference=f"VOID {item.erp_id}"[:120])
        self._remember(RecordKind.VOID, item.erp_id, fingerprint, None, invoice_id=invoice_id, entry_id=entry.id)


class _Unchanged(Exception):
    """The row's content is what was imported last time: nothing to write."""
