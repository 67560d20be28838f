"""The OpenAPI 3.0 document of `/api/v1`, served at /api/v1/openapi.json.

The request bodies' schemas come from the field tables of `portal.forms.erp_api`, which also
check the requests, and the page sizes and limits from the modules that enforce them: a bound
is written once. `tests/web/api/test_api_schemathesis.py` calls every operation as the
document describes it and checks each answer against it.
"""

from __future__ import annotations

from functools import cache

from portal.domain.apikeys.policy import SCOPES
from portal.domain.core.money import CURRENCY_EXPONENTS
from portal.domain.imports.models import MAX_ERP_ID_LENGTH
from portal.domain.imports.policy import MAX_AMOUNT_MINOR
from portal.domain.imports.queries import DEFAULT_PAGE, INVOICE_STATUSES, MAX_PAGE
from portal.domain.ledger.states import CASH_KINDS
from portal.forms.erp_api import (
    CONTACT, CREDIT_NOTE, CUSTOMER, ERP_ID_SCHEMA, INVOICE, LINE, MAX_BODY_BYTES, VOID, object_schema,
)
from portal.routes.api import MAX_CASH_API_PAGE

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": "string", "nullable": True}
_MINOR = {"type": "integer"}
_CURRENCY = {"type": "string", "enum": sorted(CURRENCY_EXPONENTS)}


def _object(properties: dict) -> dict:
    return {"type": "object", "required": sorted(properties), "properties": properties}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS = {
    "Error": _object({"error": _object({
        "code": {"type": "string", "maxLength": 40},
        "message": _STRING,
        "details": {"type": "array", "items": _object({
            "pointer": {"type": "string", "description": "JSON pointer (RFC 6901) into the request body; "
                                                         "empty for the whole body or the path"},
            "message": _STRING,
        })},
    })}),
    "Contact": _object({"erp_id": _STRING, "customer_erp_id": _STRING, "email": _STRING, "name": _STRING,
                        "ap_mailbox": {"type": "boolean"}}),
    "Customer": _object({"erp_id": _STRING, "account_number": _STRING, "name": _STRING, "timezone": _STRING,
                         "contacts": {"type": "array", "items": _ref("Contact")}}),
    "InvoiceLine": _object({"sku": _STRING, "description": _STRING, "quantity": _STRING, "unit_price": _STRING,
                            "unit_price_minor": _MINOR, "amount": _STRING, "amount_minor": _MINOR}),
    "Invoice": _object({
        "erp_id": _STRING, "customer_erp_id": _STRING, "number": _STRING, "currency": _CURRENCY,
        "issue_date": {"type": "string", "format": "date"}, "due_date": {"type": "string", "format": "date"},
        "po_number": _NULLABLE_STRING, "terms": _STRING, "total": _STRING, "total_minor": _MINOR,
        "balance": {**_STRING, "description": "What is still owed (negative when overpaid)"},
        "balance_minor": _MINOR,
        "disputed_minor": {**_MINOR, "description": "What open disputes hold out of what is payable"},
        "in_flight_minor": {**_MINOR, "description": "What payments still processing cover (ACH)"},
        "status": {"type": "string", "enum": list(INVOICE_STATUSES)},
        "lines": {"type": "array", "items": _ref("InvoiceLine")},
    }),
    "CreditNote": _object({"erp_id": _STRING, "invoice_erp_id": _STRING, "number": _STRING, "currency": _CURRENCY,
                           "amount": _STRING, "amount_minor": _MINOR}),
    "Void": _object({"erp_id": _STRING, "invoice_erp_id": _STRING, "reference": _STRING, "credited": _STRING,
                     "credited_minor": _MINOR}),
    "CustomerPage": _object({"items": {"type": "array", "items": _ref("Customer")},
                             "next_cursor": {**_NULLABLE_STRING, "description": "null on the last page"}}),
    "InvoicePage": _object({"items": {"type": "array", "items": _ref("Invoice")},
                            "next_cursor": {**_NULLABLE_STRING, "description": "null on the last page"}}),
    "CashRow": _object({
        "reference": {**_STRING, "description": "LE and the ledger entry's id: apply each reference once"},
        "cursor": _STRING,
        "kind": {"type": "string", "enum": [kind.value for kind in CASH_KINDS]},
        "occurred_at": {"type": "string", "format": "date-time"}, "customer_account": _STRING,
        "customer_erp_id": _STRING, "invoice_number": _STRING, "invoice_erp_id": _STRING, "currency": _CURRENCY,
        "amount": _STRING, "amount_minor": _MINOR, "payment_reference": _STRING, "payment_method": _STRING,
        "document": _STRING,
    }),
    "CashPage": _object({"rows": {"type": "array", "items": _ref("CashRow")},
                         "next_cursor": {**_STRING, "description": "Ask again from here"},
                         "more": {"type": "boolean", "description": "The page was full: ask again at once"}}),
    "CustomerInput": object_schema(CUSTOMER),
    "ContactInput": object_schema(CONTACT),
    "InvoiceInput": object_schema(INVOICE),
    "InvoiceLineInput": object_schema(LINE),
    "CreditNoteInput": object_schema(CREDIT_NOTE),
    "VoidInput": object_schema(VOID),
}

_ERRORS = {
    "400": "The query is not understood (a bad cursor, limit or status), or the body is not JSON",
    "401": "No API key, a key in the wrong shape, an unknown or wrong secret, or a revoked key",
    "403": "The key does not have the operation's scope",
    "404": "No such record, or a path that cannot name one (a control character in an id)",
    "409": "What is stored does not allow the change (an invoice already paid, credited, disputed, "
           "in a plan or promised; a number already used)",
    "413": f"The body is larger than {MAX_BODY_BYTES} bytes",
    "415": "The body is not application/json",
    "422": "A field is wrong (details point at each), or the body names a record never imported",
    "429": "Too many requests with this key; Retry-After says when to send again",
}


def _error(status: str) -> dict:
    response = {"description": _ERRORS[status], "content": {"application/json": {"schema": _ref("Error")}}}
    if status == "429":
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}}
    if status == "401":
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return response


def _path_parameter(name: str, what: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": what, "schema": ERP_ID_SCHEMA}


def _query(name: str, schema: dict, what: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": what, "schema": schema}


def _operation(summary: str, scope: str, result: str, *, body: str | None = None, parameters=(),
               errors=("400", "401", "403", "429")) -> dict:
    operation = {
        "summary": summary, "operationId": summary.lower().replace(" ", "_").replace("'", ""),
        "security": [{"bearerAuth": [scope]}],
        "description": f"Scope: `{scope}`.",
        "parameters": list(parameters),
        "responses": {"200": {"description": "The record as stored",
                              "content": {"application/json": {"schema": _ref(result)}}},
                      **{status: _error(status) for status in errors}},
    }
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
        operation["description"] += (" Idempotent: the same body again changes nothing and answers the same. "
                                     "Nothing is changed when any error is answered.")
    return operation


_WRITE_ERRORS = ("400", "401", "403", "404", "409", "413", "415", "422", "429")
_READ_ERRORS = ("400", "401", "403", "404", "429")
_PAGE = [_query("cursor", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "next_cursor of the page before"),
         _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, f"Default {DEFAULT_PAGE}")]


@cache
def openapi_document() -> dict:
    customer_id = _path_parameter("erp_id", "The customer's ERP id")
    return {
        "openapi": "3.0.3",
        "info": {"title": "Collections portal: ERP API", "version": "1",
                 "description": "Customers, contacts, invoices, credit notes and voids in, by the ERP's own ids; "
                                "cash out after a cursor. See docs/erp-api.md."},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "An API key made on /admin/api-keys: 'Authorization: Bearer erpk_...'. Scopes: "
                               + "; ".join(f"{name}: {what}" for name, what in SCOPES.items()),
            }},
            "schemas": SCHEMAS,
        },
        "paths": {
            "/api/v1/customers": {"get": _operation("List customers", "customers:read", "CustomerPage",
                                                    parameters=_PAGE, errors=("400", "401", "403", "429"))},
            "/api/v1/customers/{erp_id}": {
                "put": _operation("Put customer", "customers:write", "Customer", body="CustomerInput",
                                  parameters=[customer_id], errors=_WRITE_ERRORS),
                "get": _operation("Get customer", "customers:read", "Customer", parameters=[customer_id],
                                  errors=_READ_ERRORS),
            },
            "/api/v1/customers/{customer_erp_id}/contacts/{erp_id}": {
                "put": _operation("Put contact", "customers:write", "Contact", body="ContactInput",
                                  parameters=[_path_parameter("customer_erp_id", "The customer's ERP id"),
                                              _path_parameter("erp_id", "The contact's ERP id")],
                                  errors=_WRITE_ERRORS),
                "get": _operation("Get contact", "customers:read", "Contact",
                                  parameters=[_path_parameter("customer_erp_id", "The customer's ERP id"),
                                              _path_parameter("erp_id", "The contact's ERP id")],
                                  errors=_READ_ERRORS),
            },
            "/api/v1/invoices": {"get": _operation(
                "List invoices", "invoices:read", "InvoicePage",
                parameters=[_query("customer", {"type": "string", "maxLength": MAX_ERP_ID_LENGTH},
                                   "Only this customer's (its ERP id)"),
                            _query("status", {"type": "string", "enum": list(INVOICE_STATUSES)},
                                   "open: something is owed; closed: nothing is"), *_PAGE],
                errors=("400", "401", "403", "429"))},
            "/api/v1/invoices/{erp_id}": {
                "put": _operation("Put invoice", "invoices:write", "Invoice", body="InvoiceInput",
                                  parameters=[_path_parameter("erp_id", "The invoice's ERP id")],
                                  errors=_WRITE_ERRORS),
                "get": _operation("Get invoice", "invoices:read", "Invoice",
                                  parameters=[_path_parameter("erp_id", "The invoice's ERP id")],
                                  errors=_READ_ERRORS),
            },
            "/api/v1/credit-notes/{erp_id}": {
                "put": _operation("Put credit note", "invoices:write", "CreditNote", body="CreditNoteInput",
                                  parameters=[_path_parameter("erp_id", "The credit note's ERP id")],
                                  errors=_WRITE_ERRORS),
                "get": _operation("Get credit note", "invoices:read", "CreditNote",
                                  parameters=[_path_parameter("erp_id", "The credit note's ERP id")],
                                  errors=_READ_ERRORS),
            },
            "/api/v1/voids/{erp_id}": {
                "put": _operation("Put void", "invoices:write", "Void", body="VoidInput",
                                  parameters=[_path_parameter("erp_id", "The void's ERP id")],
                                  errors=_WRITE_ERRORS),
                "get": _operation("Get void", "invoices:read", "Void",
                                  parameters=[_path_parameter("erp_id", "The void's ERP id")],
                                  errors=_READ_ERRORS),
            },
            "/api/v1/cash": {"get": _operation(
                "Cash since", "cash:read", "CashPage",
                parameters=[_query("since", {"type": "string", "pattern": "^[0-9]{1,19}-[0-9]{1,19}$"},
                                   "The next_cursor of the page before (empty: from the start)"),
                            _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_CASH_API_PAGE},
                                   f"Ledger entries read, default {DEFAULT_PAGE}")],
                errors=("400", "401", "403", "429"))},
        },
        "x-limits": {"max_body_bytes": MAX_BODY_BYTES, "max_amount_minor": MAX_AMOUNT_MINOR},
    }
