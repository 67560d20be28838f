"""The ERP's JSON API, `/api/v1` (docs/erp-api.md; its OpenAPI document at /api/v1/openapi.json).

Deny by default, as the admin side: one `before_request` reads the scope each view declares
(`@scope("invoices:write")`) and refuses a view with none. For the others it checks, in this
order and before any body is read or the request's own session is opened: the bearer key
(401), the key's rate limit (429), its scope (403), then for writes the body's size (413) and
type (415). Each check runs in a short transaction of its own, so the database rate limiter
never waits on a lock this request holds.

Writes go through the CSV import's own parsing and passes (`imports.policy.parse_rows`,
`imports.service.import_records`) and so through `invoicing.service`: the same rules, the
same messages, and the same idempotency (a record whose content did not change is not
touched). A PUT answers 200 with the record as stored, the same answer every time.

Every error is `{"error": {"code", "message", "details": [{"pointer", "message"}]}}`.
The blueprint is exempt from CSRF (`portal.app`): no cookie authenticates it, a key does.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

from flask import Blueprint, current_app, g, jsonify, request

from portal.domain.apikeys.service import ApiKeyRefused, last_used_is_stale, touch_last_used, verify_api_key
from portal.domain.core.audit import Actor
from portal.domain.core.database import writing_session
from portal.domain.exports.queries import MAX_PAGE as MAX_CASH_PAGE, CursorInvalid, cash_since, parse_cursor
from portal.domain.imports.models import MAX_ERP_ID_LENGTH
from portal.domain.imports.policy import RowError, has_control_characters, parse_rows
from portal.domain.imports.queries import (
    DEFAULT_PAGE, INVOICE_STATUSES, MAX_PAGE, contact_by_erp_id, credit_note_by_erp_id, customer_by_erp_id,
    customers_after, invoice_by_erp_id, invoices_after, void_by_erp_id,
)
from portal.domain.imports.service import ImportRefused, import_records
from portal.forms.erp_api import (
    CONTACT, CREDIT_NOTE, CUSTOMER, INVOICE, LINE, MAX_BODY_BYTES, VOID, Field, body_to_cells,
)
from portal.web.context import client_ip, db, request_context, services

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)

PUBLIC = "public"
RATE_WINDOW = timedelta(minutes=1)
MAX_CASH_API_PAGE = min(MAX_CASH_PAGE, 1_000)
_CURSOR = re.compile(r"[0-9]{1,18}", re.ASCII)
_LIMIT = re.compile(r"[0-9]{1,3}", re.ASCII)


class ApiProblem(Exception):
    """An answer other than success: the status, a stable code, a message and per-field details."""

    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details or [], headers or {}


def problem_response(status: int, code: str, message: str, details: list[dict] | None = None,
                     headers: dict | None = None):
    session = g.get("db")
    if session is not None:
        session.rollback()
    body = jsonify(error={"code": code, "message": message, "details": details or []})
    return body, status, headers or {}


# The codes of the app's HTTP errors when they happen under /api/v1 (portal.web.errors).
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              422: "invalid_request", 429: "rate_limited", 500: "server_error"}


def http_error_response(status: int, message: str, headers: dict | None = None):
    """The app's HTTP errors (no such route, method, a body past the limit, a crash) under /api/v1."""
    if status == 413:
        message = f"The body is larger than {MAX_BODY_BYTES} bytes: nothing was read or changed."
    return problem_response(status, HTTP_CODES.get(status, "error"), message, headers=headers)


@bp.errorhandler(ApiProblem)
def api_problem(problem: ApiProblem):
    return problem_response(problem.status, problem.code, problem.message, problem.details, problem.headers)


def scope(name: str):
    """Declare the scope a view needs (`apikeys.policy.SCOPES`)."""

    def declare(view):
        view.api_scope = name
        return view

    return declare


def public(view):
    view.api_scope = PUBLIC
    return view


@bp.before_request
def check_key():
    view = current_app.view_functions.get(request.endpoint)
    required = getattr(view, "api_scope", None)
    if required is None:
        log.error("api view %s declares no scope: refused", request.endpoint)
        raise ApiProblem(403, "forbidden", "This operation is not available.")
    request.max_content_length = MAX_BODY_BYTES
    if required == PUBLIC:
        return None
    s = services()
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    unauthorized = {"WWW-Authenticate": 'Bearer realm="api"'}
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiProblem(401, "unauthorized", "Send the API key as 'Authorization: Bearer erpk_...'.",
                         headers=unauthorized)
    with s.session_factory() as session:
        try:
            key = verify_api_key(session, presented.strip())
        except ApiKeyRefused as refused:
            raise ApiProblem(401, "unauthorized", refused.message, headers=unauthorized) from None
    if not s.rate_limiter.allow(f"api:key:{key.prefix}", limit=s.settings.api_requests_per_minute,
                                window=RATE_WINDOW):
        raise ApiProblem(429, "rate_limited", f"More than {s.settings.api_requests_per_minute} requests in a "
                                              "minute with this key: wait and send again.",
                         headers={"Retry-After": str(int(RATE_WINDOW.total_seconds()))})
    now = s.clock.now()
    if last_used_is_stale(key, now):
        with writing_session(s.session_factory) as session, session.begin():
            touch_last_used(session, key.id, now)
    if required not in key.scopes:
        raise ApiProblem(403, "insufficient_scope", f"This key does not have the {required} scope.")
    g.api_key = key
    if request.method in ("PUT", "POST"):
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise ApiProblem(413, "too_large", f"The body is larger than {MAX_BODY_BYTES} bytes.")
        if request.mimetype != "application/json":
            raise ApiProblem(415, "unsupported_media_type", "Send the body as JSON (Content-Type: application/json).")
    return None


# ---------------------------------------------------------------------------------------------
# Reading the request


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _json_body() -> object:
    data = request.get_data(cache=False)  # at most MAX_BODY_BYTES: werkzeug answers 413 past it
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        message = "The body is not JSON" if not isinstance(error, RecursionError) else "The body is nested too deeply"
        raise ApiProblem(400, "malformed_json", f"{message}: nothing was changed.") from None


def _cells(fields: tuple[Field, ...]) -> dict:
    cells, errors = body_to_cells(_json_body(), fields)
    if errors:
        raise ApiProblem(422, "invalid_request", "The request was not accepted: nothing was changed.",
                         [{"pointer": error.pointer, "message": error.message} for error in errors])
    return cells


def _path_id(erp_id: str) -> str:
    if (not erp_id or len(erp_id) > MAX_ERP_ID_LENGTH or erp_id != erp_id.strip()
            or has_control_characters(erp_id)):
        raise ApiProblem(422, "invalid_request", f"An ERP id is 1 to {MAX_ERP_ID_LENGTH} characters, with no "
                                                 "spaces around it and no control characters.",
                         [{"pointer": "", "message": "the ERP id in the path is not valid"}])
    return erp_id


def _number(name: str, pattern: re.Pattern, default: int, maximum: int) -> int:
    text = request.args.get(name, "")
    if not text:
        return default
    if not pattern.fullmatch(text) or int(text) > maximum:
        raise ApiProblem(400, "bad_request", f"{name} is a whole number up to {maximum}.")
    return int(text)


def _limit() -> int:
    limit = _number("limit", _LIMIT, DEFAULT_PAGE, MAX_PAGE)
    if limit < 1:
        raise ApiProblem(400, "bad_request", f"limit is between 1 and {MAX_PAGE}.")
    return limit


def _actor() -> Actor:
    return Actor("api_key", g.api_key.prefix, client_ip())


def _import(rows: list[tuple[int, dict[str, str]]], pointers: dict[int, str], fields: dict[int, tuple]) -> None:
    """Parse, check and write the rows as the import does; an error answers with a pointer per
    row (`pointers`: each row's line to its place in the body) and field."""
    parsed = parse_rows(rows)
    if parsed.errors:
        raise ApiProblem(422, "invalid_request", "The request was not accepted: nothing was changed.",
                         _details(parsed.errors, pointers, fields))
    try:
        import_records(request_context(_actor()), parsed, source=f"api {g.api_key.prefix}")
    except ImportRefused as refused:
        db().rollback()
        details = _details(refused.errors, pointers, fields)
        if any(error.reason == "unknown" for error in refused.errors):
            raise ApiProblem(422, "unknown_reference", "The request names a record that was never imported: "
                                                       "nothing was changed.", details) from None
        raise ApiProblem(409, "conflict", refused.errors[0].message if refused.errors else refused.message,
                         details) from None


def _details(errors: list[RowError], pointers: dict[int, str], fields: dict[int, tuple]) -> list[dict]:
    details = []
    for error in errors:
        pointer = pointers.get(error.line, "")
        names = {field.name for field in fields.get(error.line, ())}
        if error.column in names:
            pointer = f"{pointer}/{error.column}"
        details.append({"pointer": pointer, "message": error.message})
    return details


def _found(record: dict | None, what: str) -> dict:
    if record is None:
        raise ApiProblem(404, "not_found", f"No {what} with that ERP id.")
    return record


# ---------------------------------------------------------------------------------------------
# Customers and contacts


@bp.put("/customers/<erp_id>")
@scope("customers:write")
def put_customer(erp_id: str):
    erp_id = _path_id(erp_id)
    row = {"record": "customer", "erp_id": erp_id, **_cells(CUSTOMER)}
    _import([(1, row)], {1: ""}, {1: CUSTOMER})
    return jsonify(_found(customer_by_erp_id(db(), erp_id), "customer"))


@bp.get("/customers/<erp_id>")
@scope("customers:read")
def get_customer(erp_id: str):
    return jsonify(_found(customer_by_erp_id(db(), erp_id), "customer"))


@bp.get("/customers")
@scope("customers:read")
def list_customers():
    items, next_cursor = customers_after(db(), _number("cursor", _CURSOR, 0, 10**18), _limit())
    return jsonify(items=items, next_cursor=str(next_cursor) if next_cursor is not None else None)


@bp.put("/customers/<customer_erp_id>/contacts/<erp_id>")
@scope("customers:write")
def put_contact(customer_erp_id: str, erp_id: str):
    customer_erp_id, erp_id = _path_id(customer_erp_id), _path_id(erp_id)
    row = {"record": "contact", "erp_id": erp_id, "customer_erp_id": customer_erp_id, **_cells(CONTACT)}
    _import([(1, row)], {1: ""}, {1: CONTACT})
    return jsonify(_contact(customer_erp_id, erp_id))


@bp.get("/customers/<customer_erp_id>/contacts/<erp_id>")
@scope("customers:read")
def get_contact(customer_erp_id: str, erp_id: str):
    return jsonify(_contact(customer_erp_id, erp_id))


def _contact(customer_erp_id: str, erp_id: str) -> dict:
    contact = contact_by_erp_id(db(), erp_id)
    if contact is None or contact["customer_erp_id"] != customer_erp_id:
        raise ApiProblem(404, "not_found", "No contact with that ERP id at this customer.")
    return contact


# ---------------------------------------------------------------------------------------------
# Invoices, credit notes and voids


@bp.put("/invoices/<erp_id>")
@scope("invoices:write")
def put_invoice(erp_id: str):
    erp_id = _path_id(erp_id)
    cells = _cells(INVOICE)
    lines = cells.pop("lines", [])
    rows = [(1, {"record": "invoice", "erp_id": erp_id, **cells})]
    pointers, fields = {1: ""}, {1: INVOICE}
    for index, line in enumerate(lines):
        rows.append((index + 2, {"record": "line", "invoice_erp_id": erp_id, **line}))
        pointers[index + 2] = f"/lines/{index}"
        fields[index + 2] = LINE
    _import(rows, pointers, fields)
    return jsonify(_found(invoice_by_erp_id(db(), erp_id), "invoice"))


@bp.get("/invoices/<erp_id>")
@scope("invoices:read")
def get_invoice(erp_id: str):
    return jsonify(_found(invoice_by_erp_id(db(), erp_id), "invoice"))


@bp.get("/invoices")
@scope("invoices:read")
def list_invoices():
    status = request.args.get("status") or None
    if status is not None and status not in INVOICE_STATUSES:
        raise ApiProblem(400, "bad_request", f"status is one of {', '.join(INVOICE_STATUSES)}.")
    customer = request.args.get("customer") or None
    if customer is not None and len(customer) > MAX_ERP_ID_LENGTH:
        raise ApiProblem(400, "bad_request", f"customer is an ERP id of at most {MAX_ERP_ID_LENGTH} characters.")
    items, next_cursor = invoices_after(db(), _number("cursor", _CURSOR, 0, 10**18), _limit(),
                                        customer_erp_id=customer, status=status)
    return jsonify(items=items, next_cursor=str(next_cursor) if next_cursor is not None else None)


@bp.put("/credit-notes/<erp_id>")
@scope("invoices:write")
def put_credit_note(erp_id: str):
    erp_id = _path_id(erp_id)
    row = {"record": "credit_note", "erp_id": erp_id, **_cells(CREDIT_NOTE)}
    _import([(1, row)], {1: ""}, {1: CREDIT_NOTE})
    return jsonify(_found(credit_note_by_erp_id(db(), erp_id), "credit note"))


@bp.get("/credit-notes/<erp_id>")
@scope("invoices:read")
def get_credit_note(erp_id: str):
    return jsonify(_found(credit_note_by_erp_id(db(), erp_id), "credit note"))


@bp.put("/voids/<erp_id>")
@scope("invoices:write")
def put_void(erp_id: str):
    erp_id = _path_id(erp_id)
    row = {"record": "void", "erp_id": erp_id, **_cells(VOID)}
    _import([(1, row)], {1: ""}, {1: VOID})
    return jsonify(_found(void_by_erp_id(db(), erp_id), "void"))


@bp.get("/voids/<erp_id>")
@scope("invoices:read")
def get_void(erp_id: str):
    return jsonify(_found(void_by_erp_id(db(), erp_id), "void"))


# ---------------------------------------------------------------------------------------------
# Cash out


@bp.get("/cash")
@scope("cash:read")
def cash():
    try:
        cursor = parse_cursor(request.args.get("since", "")[:60])
    except CursorInvalid as invalid:
        raise ApiProblem(400, "bad_request", invalid.message) from None
    limit = _number("limit", re.compile(r"[0-9]{1,4}", re.ASCII), DEFAULT_PAGE, MAX_CASH_API_PAGE)
    page = cash_since(db(), cursor, limit=max(1, limit))
    rows = [{"reference": row.reference, "cursor": str(row.cursor), "kind": row.kind,
             "occurred_at": row.occurred_at.isoformat(), "customer_account": row.customer_account,
             "customer_erp_id": row.customer_erp_id, "invoice_number": row.invoice_number,
             "invoice_erp_id": row.invoice_erp_id, "currency": row.amount.currency, "amount": row.amount.plain(),
             "amount_minor": row.amount.minor, "payment_reference": row.payment_reference,
             "payment_method": row.payment_method, "document": row.document} for row in page.rows]
    return jsonify(rows=rows, next_cursor=str(page.next_cursor), more=page.more)


@bp.get("/openapi.json")
@public
def openapi():
    from portal.routes.api_openapi import openapi_document

    return jsonify(openapi_document())

