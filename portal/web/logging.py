"""Structured logs with secrets and link tokens redacted (SECURITY.md A4, L2).

Redaction happens when a log record is *created* (a record factory), not in one handler: every
handler then sees the cleaned record, including ones added later by gunicorn or pytest. The
message is formatted eagerly, then scrubbed of link tokens in URLs, signed tokens, Stripe keys
and client secrets, credentials in URLs and `password=...`-style pairs; the same goes for a
logged exception's traceback. Fields passed in `extra=` are attached after the factory runs:
`JsonFormatter` redacts them, and callers should pass clean values (the test guard checks).

`configure_logging` also writes one access-log line per request (method, redacted path,
status, duration) on the `portal.access` logger. Outside test mode, unless the deployment
configured logging itself, JSON lines go to stderr. gunicorn's own access log, which would
print raw paths with their tokens, should stay off (it is off by default).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
from datetime import datetime, UTC

from flask import Flask, g, request

REDACTED = "[redacted]"

# Fields whose value is always hidden, whatever it looks like.
SENSITIVE_KEYS = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|authorization|cookie|session|signature|"
    r"client_secret|csrf)", re.IGNORECASE,
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Link tokens in portal URLs: /link/<purpose>/<token>
    (re.compile(r"(/link/[A-Za-z-]+/)[^\s/?#\"'<>]+"), r"\1" + REDACTED),
    # Credentials inside URLs: scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/@:]*:[^\s/@]*@", re.IGNORECASE), r"\1" + REDACTED + "@"),
    # Stripe secrets: API keys, webhook secrets, PaymentIntent / SetupIntent client secrets
    (re.compile(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]+"), REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9_]+"), REDACTED),
    (re.compile(r"\b(pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"), REDACTED),
    # key=value and "key": "value" pairs with a sensitive key
    (re.compile(
        r"(?P<key>\b[\w-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|authorization|cookie|csrf)[\w-]*"
        r"[\"']?\s*[=:]\s*[\"']?)(?P<value>[^\s\"',;&]+)", re.IGNORECASE),
     r"\g<key>" + REDACTED),
    # PostgreSQL's error details quote the row or key that failed ("Failing row contains (...)",
    # "Key (email)=(...) already exists"): the values the engine's hide_parameters keeps out.
    (re.compile(r"(DETAIL:\s*)[^\n]*"), r"\1" + REDACTED),
    # Anything shaped like an itsdangerous token or a signed cookie: long base64url runs
    # joined by dots (payload.signature, payload.timestamp.signature).
    (re.compile(r"(?<![\w-])[\w-]{20,}(?:\.[\w-]{5,}){1,2}(?![\w-])", re.ASCII), REDACTED),
)


def redact(text: str) -> str:
    """`text` with every secret-looking part replaced by `[redacted]`."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str, value):
    if SENSITIVE_KEYS.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    return value


# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class _RedactingFactory:
    """Wraps the previous record factory; marked so installing it twice is harmless."""

    portal_redacting = True

    def __init__(self, previous) -> None:
        self.previous = previous

    def __call__(self, *args, **kwargs) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record


def install_redaction() -> None:
    """Make every log record in this process redacted at creation. Idempotent."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "portal_redacting", False):
        logging.setLogRecordFactory(_RedactingFactory(current))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                data[key] = redact_value(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, default=str)


access_logger = logging.getLogger("portal.access")


def configure_logging(app: Flask, mode: str) -> None:
    """Redaction for the whole process, the access log, and (outside tests) JSON lines to
    stderr from the root logger, unless the deployment configured its own handlers."""
    install_redaction()
    logging.getLogger("portal").setLevel(logging.INFO)
    root = logging.getLogger()
    if mode != "test" and not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        access_logger.info(
            "%s %s %s", request.method, request.path, response.status_code,
            extra={"method": request.method, "path": redact(request.path),
                   "status": response.status_code, "duration_ms": duration_ms,
                   "endpoint": request.endpoint or ""},
        )
        return response
