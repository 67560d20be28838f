"""The JSON bodies of the ERP's API (`/api/v1`), field by field: one table that both checks a
request and writes the OpenAPI document's schemas, so a bound is stated once.

A body is checked for its shape here (an object, known fields, each of its JSON type, no
control character, at most `MAX_LINES_PER_INVOICE` lines), then turned into the cells of an
import-file row and read by `imports.policy.parse_rows`: the CSV import's rules and messages,
not a second validator. Lengths, amount bounds and patterns come from `imports.policy`.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.domain.core.money import CURRENCY_EXPONENTS
from portal.domain.imports.models import MAX_ERP_ID_LENGTH
from portal.domain.imports.policy import (
    LENGTHS, MAX_AMOUNT_MINOR, MAX_LINES_PER_INVOICE, has_control_characters,
)

# A request body is at most this many bytes (an invoice of 500 long lines fits): 413 above.
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # text, date, currency, decimal, minor, quantity, boolean, lines
    required: bool = False
    description: str = ""

    @property
    def max_length(self) -> int | None:
        return LENGTHS.get(self.name) if self.kind == "text" else None


def _money(name: str, what: str, *, required: bool) -> tuple[Field, Field]:
    """An amount in either form: `name` as a decimal string with the currency's decimals, or
    `name_minor` in integer minor units (one of them, never both)."""
    need = "one of the two is required" if required else "optional"
    return (Field(name, "decimal", description=f"{what}: a decimal string with exactly the currency's decimals "
                                                f"(125.00 USD, 125 JPY, 1.250 KWD); or {name}_minor ({need})"),
            Field(f"{name}_minor", "minor", description=f"{what} in integer minor units; or {name} ({need})"))


CUSTOMER = (
    Field("account_number", "text", True, "The customer's account number, unique"),
    Field("name", "text", True, "The company's name"),
    Field("timezone", "text", description="IANA time zone (default UTC)"),
)
CONTACT = (
    Field("email", "text", True, "The contact's email address"),
    Field("name", "text", description="The contact's name"),
    Field("ap_mailbox", "boolean", description="A shared AP mailbox, copied on the customer's emails"),
)
LINE = (
    Field("description", "text", True, "What was sold"),
    Field("quantity", "quantity", True, "Positive, at most 3 decimals, as a string (\"2\", \"1.5\")"),
    *_money("unit_price", "The unit price", required=True),
    *_money("amount", "The line's amount (default: quantity × unit price, half a minor unit up)", required=False),
    Field("sku", "text", description="The article number"),
)
INVOICE = (
    Field("customer_erp_id", "text", True, "The customer's ERP id (imported before, by file or API)"),
    Field("number", "text", True, "The invoice number, unique"),
    Field("currency", "currency", True, "ISO 4217 code, upper case"),
    Field("issue_date", "date", True, "YYYY-MM-DD"),
    Field("due_date", "date", True, "YYYY-MM-DD, on or after the issue date"),
    *_money("total", "The total, the sum of the lines' amounts", required=True),
    Field("po_number", "text", description="The customer's PO number"),
    Field("terms", "text", description="Payment terms (default Net 30)"),
    Field("lines", "lines", True, f"1 to {MAX_LINES_PER_INVOICE} lines"),
)
CREDIT_NOTE = (
    Field("invoice_erp_id", "text", True, "The invoice credited (its ERP id)"),
    Field("number", "text", True, "The credit note's number"),
    Field("currency", "currency", True, "The invoice's currency"),
    *_money("amount", "The amount credited, at most what is still open", required=True),
)
VOID = (Field("invoice_erp_id", "text", True, "The invoice cancelled (its ERP id): credited its whole total"),)

_TEXT_KINDS = {"text", "date", "currency", "decimal", "quantity"}


@dataclass(frozen=True)
class FieldError:
    pointer: str
    message: str


def body_to_cells(body: object, fields: tuple[Field, ...], pointer: str = "") -> tuple[dict[str, str], list[FieldError]]:
    """The import-file cells a JSON object stands for, or what is wrong with its shape. The
    lines of an invoice come back under "lines" as a list of cells (see `invoice_rows`)."""
    errors: list[FieldError] = []
    if not isinstance(body, dict):
        return {}, [FieldError(pointer, "must be a JSON object")]
    known = {field.name: field for field in fields}
    for name in body:
        if name not in known:
            errors.append(FieldError(f"{pointer}/{_escape(name[:40])}", "is not a field of this object"))
    cells: dict = {}
    for field in fields:
        value = body.get(field.name)
        at = f"{pointer}/{field.name}"
        if value is None:
            continue  # absent (or null): the row's own rules say whether it is required
        if field.kind == "lines":
            if not isinstance(value, list):
                errors.append(FieldError(at, "must be an array of lines"))
            elif len(value) > MAX_LINES_PER_INVOICE:
                errors.append(FieldError(at, f"has more than {MAX_LINES_PER_INVOICE} lines"))
            else:
                lines = []
                for index, line in enumerate(value):
                    line_cells, line_errors = body_to_cells(line, LINE, f"{at}/{index}")
                    lines.append(line_cells)
                    errors += line_errors
                cells["lines"] = lines
        elif field.kind == "boolean":
            if not isinstance(value, bool):
                errors.append(FieldError(at, "must be true or false"))
            else:
                cells[field.name] = "yes" if value else "no"
        elif field.kind == "minor":
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append(FieldError(at, "must be a whole number of minor units"))
            elif not 0 <= value <= MAX_AMOUNT_MINOR:
                errors.append(FieldError(at, f"must be between 0 and {MAX_AMOUNT_MINOR}"))
            else:
                cells[field.name] = str(value)
        elif not isinstance(value, str):
            errors.append(FieldError(at, "must be a string"))
        elif has_control_characters(value):
            errors.append(FieldError(at, "holds a control character (a line break, tab or NUL)"))
        else:
            cells[field.name] = value
    for name in ("total", "unit_price", "amount"):
        if name in known and body.get(name) is not None and body.get(f"{name}_minor") is not None:
            errors.append(FieldError(f"{pointer}/{name}_minor", f"give {name} or {name}_minor, not both"))
    return cells, errors


def _escape(name: str) -> str:
    """A JSON pointer's reference token (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


# ---------------------------------------------------------------------------------------------
# JSON schemas for the OpenAPI document, from the same tables


def _schema(field: Field) -> dict:
    if field.kind == "text":
        schema = {"type": "string", "maxLength": field.max_length or 500}
        if field.required:
            schema["minLength"] = 1
    elif field.kind == "date":
        schema = {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    elif field.kind == "currency":
        schema = {"type": "string", "enum": sorted(CURRENCY_EXPONENTS)}
    elif field.kind == "decimal":
        schema = {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,3})?$", "maxLength": 14}
    elif field.kind == "minor":
        schema = {"type": "integer", "minimum": 0, "maximum": MAX_AMOUNT_MINOR}
    elif field.kind == "quantity":
        schema = {"type": "string", "pattern": r"^[0-9]{1,11}(\.[0-9]{1,3})?$", "maxLength": 15}
    elif field.kind == "boolean":
        schema = {"type": "boolean"}
    else:
        schema = {"type": "array", "minItems": 1, "maxItems": MAX_LINES_PER_INVOICE,
                  "items": {"$ref": "#/components/schemas/InvoiceLineInput"}}
    if field.description:
        schema["description"] = field.description
    return schema


def object_schema(fields: tuple[Field, ...]) -> dict:
    required = [field.name for field in fields if field.required and field.kind not in ("decimal", "minor")]
    schema = {"type": "object", "additionalProperties": False,
              "properties": {field.name: _schema(field) for field in fields}}
    if required:
        schema["required"] = required
    return schema


ERP_ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_ERP_ID_LENGTH,
                 "pattern": r"^[^\x00-\x1f\x7f/]+$"}
