"""Reading an ERP import file: every row parsed and checked before anything is written.

Pure: no database. `parse_import` turns the file's bytes into typed records, or a list of
errors each with the file's line number. What needs the database (is the customer known, has
the invoice been paid since) is checked by `service.import_erp_file` before it writes. The
format is documented in docs/erp-import.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.domain.core.locales import LANGUAGES
from portal.domain.core.money import MoneyError, exponent, normalize_currency
from portal.domain.imports.models import MAX_ERP_ID_LENGTH
from portal.domain.imports.states import RecordKind

MAX_IMPORT_BYTES = 8 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000
MAX_LINES_PER_INVOICE = 500
MAX_ERRORS_SHOWN = 200
# The invoice columns are 32-bit integers: no amount may come near their limit.
MAX_AMOUNT_MINOR = 999_999_999
MAX_CELL = 500

LENGTHS = {
    "erp_id": MAX_ERP_ID_LENGTH, "customer_erp_id": MAX_ERP_ID_LENGTH, "invoice_erp_id": MAX_ERP_ID_LENGTH,
    "account_number": 40, "name": 200, "email": 254, "timezone": 64, "number": 40, "po_number": 60,
    "terms": 40, "sku": 60, "description": 500,
}
TEXT_COLUMNS = ("record", "erp_id", "customer_erp_id", "invoice_erp_id", "account_number", "name", "email",
                "timezone", "ap_mailbox", "language", "number", "currency", "issue_date", "due_date", "po_number", "terms",
                "sku", "description", "quantity")
MONEY_COLUMNS = ("total", "unit_price", "amount")
KNOWN_COLUMNS = frozenset(TEXT_COLUMNS) | {f"{m}{suffix}" for m in MONEY_COLUMNS for suffix in ("", "_minor")}

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_MINOR = re.compile(r"[0-9]{1,10}", re.ASCII)
_QUANTITY = re.compile(r"[0-9]{1,11}(?:\.[0-9]{1,3})?", re.ASCII)
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_ALSO_REFUSED = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class RowInvalid(ValueError):
    """One cell or row is wrong; the message names it, `column` the cell (when one is to blame)."""

    def __init__(self, message: str, column: str = "") -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True, order=True)
class RowError:
    line: int
    message: str
    # The cell to blame ("" for the whole row), and why: "invalid" (the row itself is wrong),
    # "unknown" (it names a customer or invoice never imported), "conflict" (what is stored
    # already does not allow it). The API answers with them; the file import shows the message.
    column: str = field(default="", compare=False)
    reason: str = field(default="invalid", compare=False)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True)
class _Record:
    line: int = field(compare=False)

    def fingerprint(self) -> str:
        """A hash of what the row says (not where it was in the file)."""
        content = {k: v for k, v in asdict(self).items() if k != "line"}
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class CustomerRecord(_Record):
    erp_id: str
    account_number: str
    name: str
    timezone: str


@dataclass(frozen=True)
class ContactRecord(_Record):
    erp_id: str
    customer_erp_id: str
    email: str
    name: str
    is_ap_mailbox: bool
    # A code of `core.locales.LANGUAGES`; None when the row leaves the cell empty (the
    # contact's language then stays as it is).
    language: str | None = None

    def fingerprint(self) -> str:
        if self.language is None:  # the same hash as before the column existed
            content = {k: v for k, v in asdict(self).items() if k not in ("line", "language")}
            return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
        return super().fingerprint()


@dataclass(frozen=True)
class LineRecord(_Record):
    invoice_erp_id: str
    sku: str
    description: str
    quantity: Decimal
    unit_price_minor: int
    amount_minor: int


@dataclass(frozen=True)
class InvoiceRecord(_Record):
    erp_id: str
    customer_erp_id: str
    number: str
    currency: str
    issue_date: date
    due_date: date
    total_minor: int
    po_number: str | None
    terms: str
    lines: tuple[LineRecord, ...] = ()

    def fingerprint(self) -> str:
        content = {k: v for k, v in asdict(self).items() if k not in ("line", "lines")}
        content["lines"] = [{k: v for k, v in asdict(line).items() if k != "line"} for line in self.lines]
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class CreditNoteRecord(_Record):
    erp_id: str
    invoice_erp_id: str
    number: str
    currency: str
    amount_minor: int


@dataclass(frozen=True)
class VoidRecord(_Record):
    erp_id: str
    invoice_erp_id: str


@dataclass
class ImportFile:
    customers: list[CustomerRecord] = field(default_factory=list)
    contacts: list[ContactRecord] = field(default_factory=list)
    invoices: list[InvoiceRecord] = field(default_factory=list)
    credit_notes: list[CreditNoteRecord] = field(default_factory=list)
    voids: list[VoidRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return (len(self.customers) + len(self.contacts) + len(self.invoices) + len(self.credit_notes)
                + len(self.voids))


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" or c in _ALSO_REFUSED for c in text)


def limited(errors: list[RowError]) -> list[RowError]:
    """The errors a person is shown: sorted by line, at most `MAX_ERRORS_SHOWN`."""
    errors = sorted(errors)
    if len(errors) <= MAX_ERRORS_SHOWN:
        return errors
    return errors[:MAX_ERRORS_SHOWN] + [RowError(0, f"... and {len(errors) - MAX_ERRORS_SHOWN} more errors")]


# ---------------------------------------------------------------------------------------------
# Cells


def _text(row: dict[str, str], column: str, *, required: bool = True) -> str:
    value = (row.get(column) or "").strip()
    if required and not value:
        raise RowInvalid(f"{column} is required", column)
    if len(value) > LENGTHS.get(column, MAX_CELL):
        raise RowInvalid(f"{column} is too long (at most {LENGTHS.get(column, MAX_CELL)} characters)", column)
    return value


def _date(row: dict[str, str], column: str) -> date:
    value = _text(row, column)
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise RowInvalid(f"{column} {value!r} is not a date (YYYY-MM-DD)", column) from None


def _currency(row: dict[str, str]) -> str:
    value = _text(row, "currency")
    try:
        if value != value.upper():
            raise MoneyError(value)
        return normalize_currency(value)
    except MoneyError:
        raise RowInvalid(f"currency {value!r} is not a currency we accept", "currency") from None


def _amount(row: dict[str, str], column: str, currency: str, *, required: bool = True) -> int | None:
    """An amount as integer minor units (`<column>_minor`) or as a decimal string with exactly
    the currency's decimals (`<column>`: 125.00 USD, 125 JPY, 1.250 KWD). Never negative."""
    minor_text = (row.get(f"{column}_minor") or "").strip()
    decimal_text = (row.get(column) or "").strip()
    if not minor_text and not decimal_text:
        if required:
            raise RowInvalid(f"{column} is required", column)
        return None
    if minor_text:
        if not _MINOR.fullmatch(minor_text):
            raise RowInvalid(f"{column}_minor {minor_text!r} is not a whole number of minor units", f"{column}_minor")
        minor = int(minor_text)
    else:
        exp = exponent(currency)
        pattern = rf"[0-9]{{1,10}}\.[0-9]{{{exp}}}" if exp else r"[0-9]{1,10}"
        if not re.fullmatch(pattern, decimal_text, re.ASCII):
            places = f"exactly {exp} decimal place{'s' if exp != 1 else ''}" if exp else "no decimal places"
            raise RowInvalid(f"{column} {decimal_text!r} is not a {currency} amount ({places}, no sign)", column)
        minor = int(decimal_text.replace(".", ""))
    if minor > MAX_AMOUNT_MINOR:
        raise RowInvalid(f"{column} is too large", f"{column}_minor" if minor_text else column)
    return minor


def _quantity(row: dict[str, str]) -> Decimal:
    value = _text(row, "quantity")
    if not _QUANTITY.fullmatch(value) or Decimal(value) <= 0:
        raise RowInvalid(f"quantity {value!r} is not a positive number (at most 3 decimals)", "quantity")
    return Decimal(value)


def _timezone(row: dict[str, str]) -> str:
    value = _text(row, "timezone", required=False) or "UTC"
    try:
        if "." in value or value.startswith("/"):
            raise ValueError
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise RowInvalid(f"timezone {value!r} is not a time zone (for example Europe/Paris)", "timezone") from None
    return value


def _language(row: dict[str, str]) -> str | None:
    value = (row.get("language") or "").strip()
    if not value:
        return None
    if value.lower() not in LANGUAGES:
        raise RowInvalid(f"language {value!r} is not one of {', '.join(LANGUAGES)}")
    return value.lower()


def _yes_no(row: dict[str, str], column: str) -> bool:
    value = (row.get(column) or "").strip().lower()
    if value in ("", "no", "false", "0"):
        return False
    if value in ("yes", "true", "1"):
        return True
    raise RowInvalid(f"{column} is yes or no", column)


# ---------------------------------------------------------------------------------------------
# Rows


def _customer(line: int, row: dict[str, str]) -> CustomerRecord:
    return CustomerRecord(line, erp_id=_text(row, "erp_id"), account_number=_text(row, "account_number"),
                          name=_text(row, "name"), timezone=_timezone(row))


def _contact(line: int, row: dict[str, str]) -> ContactRecord:
    email = _text(row, "email").lower()
    if not _EMAIL.fullmatch(email) or not email.isascii():
        raise RowInvalid(f"email {email!r} is not an email address", "email")
    return ContactRecord(line, erp_id=_text(row, "erp_id"), customer_erp_id=_text(row, "customer_erp_id"),
                         email=email, name=_text(row, "name", required=False),
                         is_ap_mailbox=_yes_no(row, "ap_mailbox"), language=_language(row))


def _invoice(line: int, row: dict[str, str]) -> InvoiceRecord:
    currency = _currency(row)
    issue_date, due_date = _date(row, "issue_date"), _date(row, "due_date")
    if due_date < issue_date:
        raise RowInvalid(f"due_date {due_date} is before issue_date {issue_date}", "due_date")
    total = _amount(row, "total", currency)
    assert total is not None
    return InvoiceRecord(line, erp_id=_text(row, "erp_id"), customer_erp_id=_text(row, "customer_erp_id"),
                         number=_text(row, "number"), currency=currency, issue_date=issue_date, due_date=due_date,
                         total_minor=total, po_number=_text(row, "po_number", required=False) or None,
                         terms=_text(row, "terms", required=False) or "Net 30")


def _line(line: int, row: dict[str, str], currency: str) -> LineRecord:
    quantity = _quantity(row)
    unit = _amount(row, "unit_price", currency)
    assert unit is not None
    amount = _amount(row, "amount", currency, required=False)
    if amount is None:
        amount = int((quantity * unit).quantize(Decimal(1), "ROUND_HALF_UP"))
    if amount <= 0:
        raise RowInvalid("a line's amount must be positive", "amount")
    return LineRecord(line, invoice_erp_id=_text(row, "invoice_erp_id"), sku=_text(row, "sku", required=False),
                      description=_text(row, "description"), quantity=quantity, unit_price_minor=unit,
                      amount_minor=amount)


def _credit_note(line: int, row: dict[str, str]) -> CreditNoteRecord:
    currency = _currency(row)
    amount = _amount(row, "amount", currency)
    if not amount:
        raise RowInvalid("a credit note's amount must be positive", "amount")
    return CreditNoteRecord(line, erp_id=_text(row, "erp_id"), invoice_erp_id=_text(row, "invoice_erp_id"),
                            number=_text(row, "number"), currency=currency, amount_minor=amount)


def _void(line: int, row: dict[str, str]) -> VoidRecord:
    return VoidRecord(line, erp_id=_text(row, "erp_id"), invoice_erp_id=_text(row, "invoice_erp_id"))


def _rows(text: str, errors: list[RowError]) -> Iterable[tuple[int, dict[str, str]]]:
    """(line number, row by column) for each record of the file; header problems are errors
    on line 1 and end the reading."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        errors.append(RowError(1, f"the header is not CSV ({error})"))
        return
    if not header:
        errors.append(RowError(1, "the file is empty: the first line names the columns"))
        return
    columns = [name.strip().lower() for name in header]
    unknown = [name for name in columns if name not in KNOWN_COLUMNS]
    if unknown or "record" not in columns or len(set(columns)) != len(columns):
        problem = (f"unknown column {unknown[0][:40]!r}" if unknown else
                   "no record column" if "record" not in columns else "a column is named twice")
        errors.append(RowError(1, f"the header is wrong: {problem} (see docs/erp-import.md)"))
        return
    both = [m for m in MONEY_COLUMNS if m in columns and f"{m}_minor" in columns]
    if both:
        errors.append(RowError(1, f"the header has both {both[0]} and {both[0]}_minor: choose one"))
        return
    count, start = 0, reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            errors.append(RowError(start, f"not valid CSV ({error})"))
            return
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        count += 1
        if count > MAX_IMPORT_ROWS:
            errors.append(RowError(line, f"the file has more than {MAX_IMPORT_ROWS} rows: split it"))
            return
        if len(cells) != len(columns):
            errors.append(RowError(line, f"{len(cells)} cells where the header names {len(columns)}"))
            continue
        if any(has_control_characters(cell) for cell in cells):
            errors.append(RowError(line, "a cell holds a control character (a line break, tab or NUL)"))
            continue
        yield line, dict(zip(columns, cells, strict=True))


def parse_import(data: bytes) -> ImportFile:
    """Every record of the file, or the errors that stop it from being imported."""
    parsed = ImportFile()
    errors = parsed.errors
    if len(data) > MAX_IMPORT_BYTES:
        errors.append(RowError(0, f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB: split it"))
        return parsed
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        errors.append(RowError(0, f"The file is not UTF-8 text (byte {error.start})"))
        return parsed

    return parse_rows(_rows(text, errors), parsed)


def parse_rows(rows: Iterable[tuple[int, dict[str, str]]], parsed: ImportFile | None = None) -> ImportFile:
    """The records of (line number, cells by column) rows, each row read as a line of the
    import file: the same rules and messages for the file and for the API, which numbers the
    rows of one request itself."""
    parsed = parsed if parsed is not None else ImportFile()
    errors = parsed.errors
    line_rows: list[tuple[int, dict[str, str]]] = []
    refused_invoices: set[str] = set()
    for line, row in rows:
        kind_text = (row.get("record") or "").strip().lower()
        try:
            kind = RecordKind(kind_text)
        except ValueError:
            errors.append(RowError(line, f"record {kind_text[:40]!r} is not one of "
                                         f"{', '.join(kind.value for kind in RecordKind)}"))
            continue
        try:
            if kind == RecordKind.CUSTOMER:
                parsed.customers.append(_customer(line, row))
            elif kind == RecordKind.CONTACT:
                parsed.contacts.append(_contact(line, row))
            elif kind == RecordKind.INVOICE:
                parsed.invoices.append(_invoice(line, row))
            elif kind == RecordKind.LINE:
                line_rows.append((line, row))
            elif kind == RecordKind.CREDIT_NOTE:
                parsed.credit_notes.append(_credit_note(line, row))
            else:
                parsed.voids.append(_void(line, row))
        except RowInvalid as invalid:
            errors.append(RowError(line, f"{kind.value}: {invalid}", column=invalid.column))
            if kind == RecordKind.INVOICE:
                refused_invoices.add((row.get("erp_id") or "").strip())
    # The lines of an invoice row already refused add nothing to its error.
    line_rows = [(line, row) for line, row in line_rows
                 if (row.get("invoice_erp_id") or "").strip() not in refused_invoices]
    _attach_lines(parsed, line_rows)
    _check_unique(parsed)
    return parsed


def _attach_lines(parsed: ImportFile, line_rows: list[tuple[int, dict[str, str]]]) -> None:
    """Give each invoice its lines (rows naming it by `invoice_erp_id`) and check its total."""
    by_erp_id = {invoice.erp_id: invoice for invoice in parsed.invoices}
    lines: dict[str, list[LineRecord]] = {}
    with_bad_lines: set[str] = set()
    for line, row in line_rows:
        invoice_erp_id = (row.get("invoice_erp_id") or "").strip()
        invoice = by_erp_id.get(invoice_erp_id)
        if invoice is None:
            parsed.errors.append(RowError(line, f"line: invoice {invoice_erp_id[:MAX_ERP_ID_LENGTH]!r} is not "
                                                "an invoice row of this file"))
            continue
        try:
            lines.setdefault(invoice.erp_id, []).append(_line(line, row, invoice.currency))
        except RowInvalid as invalid:
            parsed.errors.append(RowError(line, f"line: {invalid}", column=invalid.column))
            with_bad_lines.add(invoice.erp_id)
    complete = []
    for invoice in parsed.invoices:
        if invoice.erp_id in with_bad_lines:
            continue  # its line's error says enough
        own = lines.get(invoice.erp_id, [])
        if not own:
            parsed.errors.append(RowError(invoice.line, f"invoice {invoice.number} has no line rows", column="lines"))
            continue
        if len(own) > MAX_LINES_PER_INVOICE:
            parsed.errors.append(RowError(invoice.line, f"invoice {invoice.number} has more than "
                                                        f"{MAX_LINES_PER_INVOICE} lines", column="lines"))
            continue
        lines_total = sum(line.amount_minor for line in own)
        if lines_total != invoice.total_minor:
            parsed.errors.append(RowError(invoice.line, f"invoice {invoice.number}: the total "
                                                        f"({invoice.total_minor} minor units) is not the sum of "
                                                        f"its lines ({lines_total})", column="total"))
            continue
        complete.append(_with_lines(invoice, tuple(own)))
    parsed.invoices = complete


def _with_lines(invoice: InvoiceRecord, lines: tuple[LineRecord, ...]) -> InvoiceRecord:
    values = asdict(invoice)
    values["lines"] = lines
    return InvoiceRecord(**values)


def _check_unique(parsed: ImportFile) -> None:
    """An ERP id appears once per kind in a file, and an invoice number once."""
    for kind, records in (("customer", parsed.customers), ("contact", parsed.contacts),
                          ("invoice", parsed.invoices), ("credit_note", parsed.credit_notes),
                          ("void", parsed.voids)):
        seen: dict[str, int] = {}
        for record in records:
            first = seen.setdefault(record.erp_id, record.line)
            if first != record.line:
                parsed.errors.append(RowError(record.line, f"{kind} {record.erp_id!r} is also on line {first}"))
    numbers: dict[str, int] = {}
    for invoice in parsed.invoices:
        first = numbers.setdefault(invoice.number, invoice.line)
        if first != invoice.line:
            parsed.errors.append(RowError(invoice.line, f"invoice number {invoice.number} is also on line {first}"))
    accounts: dict[str, int] = {}
    for customer in parsed.customers:
        first = accounts.setdefault(customer.account_number, customer.line)
        if first != customer.line:
            parsed.errors.append(RowError(customer.line, f"account number {customer.account_number} is also "
                                                         f"on line {first}"))
