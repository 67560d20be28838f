"""A4 and L2: no link token or secret in the logs.

The suite-wide guard (`tests/support/fixtures/links.py::no_secret_in_logs`) checks every test's log
records against every token issued in it. These tests prove the redaction it relies on, and
that the guard itself can fail.
"""

from __future__ import annotations

import json
import logging

import pytest

from portal.domain.access.service import issue_sign_in_link
from portal.web.logging import JsonFormatter, install_redaction, redact
from tests.support.fixtures.links import TEST_SECRETS, find_leaks, path_of, record_texts

TOKEN = "IkFCQ2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6MDEyMzQ1Njc4OUFCQ0RFRkci.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize("line, secret", [
    (f'127.0.0.1 - - [15/Jun/2026 14:30:00] "GET /link/sign-in/{TOKEN} HTTP/1.1" 200 -', TOKEN),
    (f"Exception on /link/invoices/{TOKEN}/renew [POST]", TOKEN),
    (f"looked up {TOKEN}", TOKEN),
    ("postgresql+psycopg://portal:hunter2-secret@db.internal:5432/portal", "hunter2-secret"),
    ("redis://:r3dis-pass@cache:6379/0", "r3dis-pass"),
    ("stripe key sk_live_51HxYzAbCdEfGhIjKl", "sk_live_51HxYzAbCdEfGhIjKl"),
    ("webhook secret whsec_abcDEF123456", "whsec_abcDEF123456"),
    ("client secret pi_3NabcDEF_secret_XyZ987654", "pi_3NabcDEF_secret_XyZ987654"),
    ("form: csrf_token=ImFiYyI.ZmFrZQ.c2ln password=letmein1", "letmein1"),
    ('{"api_key": "ak-1234567890", "x": 1}', "ak-1234567890"),
    ("Cookie: portal_session=eyJjdXN0b21lciI6e30.Z0123.abcdefghijklmnopqrstuvw", "eyJjdXN0b21lciI6e30"),
])
def test_redact_removes_tokens_and_secrets(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned and "[redacted]" in cleaned


@pytest.mark.parametrize("line", [
    "GET /invoices/abcDEF123456789x 200", "portal.domain.links issued a link", "sent 3 emails",
])
def test_redact_leaves_ordinary_text_alone(line):
    assert redact(line) == line


def test_records_are_redacted_when_created_whatever_the_handler(app, no_secret_in_logs):
    logger = logging.getLogger("portal.test")
    logger.warning("following %s", f"http://localhost/link/sign-in/{TOKEN}")
    try:
        raise RuntimeError(f"bad token {TOKEN}")
    except RuntimeError:
        logger.exception("failed")
    texts = no_secret_in_logs.texts
    assert any("/link/sign-in/[redacted]" in text for text in texts)
    assert any("RuntimeError: bad token [redacted]" in text for text in texts)
    assert find_leaks(texts, [TOKEN]) == []


def test_the_access_log_shows_link_paths_redacted(client, db, clock, link_signer, acme, no_secret_in_logs):
    issued = issue_sign_in_link(db, clock, link_signer, contact=acme.contact)
    db.commit()
    assert client.get(path_of(issued.url)).status_code == 200
    access = [text for text in no_secret_in_logs.texts if text.startswith("GET /link/sign-in/")]
    assert access == ["GET /link/sign-in/[redacted] 200"]
    assert "path=/link/sign-in/[redacted]" in no_secret_in_logs.texts
    assert issued.token in no_secret_in_logs.tokens  # the guard knows the token it looks for


def test_json_lines_hide_sensitive_extra_fields(app):
    record = logging.getLogger("portal.test").makeRecord(
        "portal.test", logging.INFO, __file__, 1, "paid %s", ("ok",), None,
        extra={"client_secret": "pi_1_secret_2", "url": f"https://x/link/invoices/{TOKEN}", "amount": 5},
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "paid ok" and line["amount"] == 5
    assert line["client_secret"] == "[redacted]"
    assert line["url"] == "https://x/link/invoices/[redacted]"


def test_the_guard_detects_a_leak():
    """The suite-wide guard is only worth something if it fails on a leaked token."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "raw %s", (TOKEN,), None)
    assert find_leaks(record_texts(record), [TOKEN]) == [(TOKEN, f"raw {TOKEN}")]
    extra = logging.LogRecord("x", logging.INFO, __file__, 1, "clean", (), None)
    extra.url = f"/link/sign-in/{TOKEN}"
    assert find_leaks(record_texts(extra), [TOKEN])
    assert find_leaks(["nothing here"], list(TEST_SECRETS)) == []


def test_installing_redaction_twice_wraps_once():
    install_redaction()
    factory = logging.getLogRecordFactory()
    install_redaction()
    assert logging.getLogRecordFactory() is factory


def test_a_real_server_logs_link_requests_redacted(app, db, clock, link_signer, acme, no_secret_in_logs):
    """Werkzeug's own request log line (the dev and demo server) goes through redaction too."""
    import urllib.request

    from tests.support.fixtures.browser import LiveServer

    issued = issue_sign_in_link(db, clock, link_signer, contact=acme.contact)
    db.commit()
    server = LiveServer(app).start()
    try:
        with urllib.request.urlopen(server.url + path_of(issued.url), timeout=10) as response:
            assert response.status == 200
    finally:
        server.stop()
    request_lines = [text for text in no_secret_in_logs.texts if '"GET /link/sign-in/' in text]
    assert request_lines and all("/link/sign-in/[redacted] HTTP/1.1" in text for text in request_lines)
