"""Every error's answer, in one place: HTTP errors and the domain's refusals.

Views let domain errors propagate; this module turns them into responses, so a refusal looks
the same wherever it happens and no view repeats the mapping:

| raised                         | answer                                   |
|--------------------------------|------------------------------------------|
| `NotFound` (another company's  | 404, the same page as for nothing at all |
|  object, a foreign id)         |                                          |
| `PaymentsPaused`               | 429 with Retry-After                     |
| `PaymentConflict`,             | 409: the object's state does not allow it|
|  `InvalidTransition`           |                                          |
| any other `DomainError`        | 400 with its message                     |
|  (`InvalidInput` from a form)  |                                          |
| a control character in an id   | 404, as for any id that does not exist   |
|  of the URL                    |                                          |
| NUL or another control         | 400 "...characters that are not allowed" |
|  character in a query argument |  (CR, LF and TAB pass in a form value:   |
|  or a form value               |  single-line fields refuse them in their |
|                                |  form class, portal.forms)               |
| a body above MAX_CONTENT_LENGTH| 413 naming the upload limits (the files  |
|  (files past the upload limits)|  were not read: nothing was stored)      |

A request that asked for JSON (the pay page's script) gets `{"error": message}`; any other
gets the error page. The request's transaction is rolled back before the answer is built:
a refusal changes nothing. The fixed titles and messages here are marked for the catalogue and
read in the request's language: a customer's (an error met before the session is read, such as
an expired form or files too large, in the visitor's); staff pages and the ERP's API stay in
English.
"""

from __future__ import annotations

import unicodedata

from flask import Flask, abort, g, jsonify, render_template, request
from flask_babel import force_locale, gettext, lazy_gettext as _
from flask_wtf.csrf import CSRFError

from portal.domain.attachments.policy import describe_size
from portal.domain.core.errors import DomainError, InvalidTransition, NotFound
from portal.domain.core.locales import DEFAULT_LANGUAGE
from portal.domain.payments.policy import PaymentConflict, PaymentsPaused
from portal.web.i18n import refusal_message

TITLES = {400: _("Bad request"), 403: _("Not allowed"), 404: _("Not found"), 405: _("Not allowed"),
          409: _("Not possible now"), 413: _("Too large"), 429: _("Too many requests"),
          500: _("Something went wrong")}
ERROR_TITLE = _("Error")
NOT_FOUND_MESSAGE = _("There is nothing here, or it is not part of your account.")
CSRF_TITLE = _("This form has expired")
CSRF_MESSAGE = _("The page was open too long or was sent twice. Go back, reload the page and try again.")
BAD_REQUEST_MESSAGE = _("The request was not understood.")
FORBIDDEN_MESSAGE = _("You do not have access to this page.")
NOT_ALLOWED_MESSAGE = _("That action is not available here.")
TOO_MANY_MESSAGE = _("Please wait a few minutes and try again.")
SERVER_ERROR_MESSAGE = _("Nothing was changed. Please try again in a moment.")
FILES_TOO_LARGE_TITLE = _("Files too large")


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(("application/json", "text/html"))
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, message: str, title: str | None = None, headers: dict | None = None):
    if request.path.startswith("/api/"):
        # The ERP's API answers every error in its own JSON shape (portal.routes.api), in
        # English whatever language its client's headers name.
        from portal.routes.api import http_error_response

        with force_locale(DEFAULT_LANGUAGE):
            message = str(message)
        return http_error_response(status, message, headers)
    session = g.get("db")
    if session is not None:
        session.rollback()
    # Read now, in the request's language; as plain text the page escapes it (a lazy string
    # would pass as markup).
    message, title = str(message), str(title or TITLES.get(status, ERROR_TITLE))
    if wants_json():
        return jsonify(error=message), status, headers or {}
    body = render_template("error.html", status=status, title=title, message=message)
    return body, status, headers or {}


def status_for(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, PaymentsPaused):
        return 429
    if isinstance(error, (PaymentConflict, InvalidTransition)):
        return 409
    return 400


CONTROL_CHARACTERS_MESSAGE = _("The request contains characters that are not allowed (control characters).")
# A multi-line form field (a textarea) may carry line breaks and tabs; nothing may carry NUL,
# escape sequences or other control characters (SECURITY.md A14).
_MULTI_LINE = frozenset("\r\n\t")


def _controls(text: str, allowed: frozenset[str] = frozenset()) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in allowed for c in text)


def refuse_control_characters():
    """`before_request` for the whole app, before any session check or query: NUL in a
    parameter answers 500 on PostgreSQL, and CR/LF in a value ends up in logs and emails."""
    if any(_controls(str(value)) for value in (request.view_args or {}).values()):
        abort(404)
    if any(_controls(key) or _controls(value) for key, value in request.args.items(multi=True)):
        abort(400, CONTROL_CHARACTERS_MESSAGE)
    # The webhook reads its raw body and is verified by signature: never parse it as a form.
    if request.blueprint != "webhooks" and request.method not in ("GET", "HEAD", "OPTIONS"):
        if any(_controls(key) or _controls(value, _MULTI_LINE) for key, value in request.form.items(multi=True)):
            abort(400, CONTROL_CHARACTERS_MESSAGE)
    return None


def register_error_pages(app: Flask) -> None:
    app.before_request(refuse_control_characters)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        status = status_for(error)
        if status == 404:
            return error_response(404, NOT_FOUND_MESSAGE)
        headers = {"Retry-After": str(error.retry_after_seconds)} if isinstance(error, PaymentsPaused) else None
        return error_response(status, refusal_message(error), headers=headers)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_response(400, CSRF_MESSAGE, title=CSRF_TITLE)

    @app.errorhandler(400)
    def bad_request(error):
        return error_response(400, getattr(error, "description", "") or BAD_REQUEST_MESSAGE)

    @app.errorhandler(403)
    def forbidden(error):
        return error_response(403, FORBIDDEN_MESSAGE)

    @app.errorhandler(404)
    def not_found(error):
        return error_response(404, NOT_FOUND_MESSAGE)

    @app.errorhandler(405)
    def method_not_allowed(error):
        return error_response(405, NOT_ALLOWED_MESSAGE)

    @app.errorhandler(413)
    def too_large(error):
        # Cut off before the body was read: the form cannot be shown again with what was typed.
        limits = app.extensions["portal"].file_store.limits
        return error_response(413, gettext(
            "The files are larger than %(total)s together, the most one form can send (at most %(count)s files "
            "of up to %(each)s each). Nothing was saved: go back, attach fewer or smaller files, and send the "
            "rest in a message.",
            total=describe_size(limits.max_request_bytes), count=limits.max_files,
            each=describe_size(limits.max_file_bytes),
        ), title=FILES_TOO_LARGE_TITLE)

    @app.errorhandler(429)
    def too_many(error):
        return error_response(429, getattr(error, "description", "") or TOO_MANY_MESSAGE)

    @app.errorhandler(500)
    def server_error(error):
        return error_response(500, SERVER_ERROR_MESSAGE)
