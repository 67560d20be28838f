"""One Stripe call, with its retries, finishes well inside the web worker's timeout, and the
claim a request holds while Stripe answers outlives the worker (never a doubled live call)."""

from __future__ import annotations

import re
from pathlib import Path

from portal.domain.gateway.stripe_adapter import CALL_BUDGET_SECONDS, LocalStripe, RealStripe
from portal.domain.payments.service import GATEWAY_CALL_LEASE, WEB_WORKER_TIMEOUT

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_production_command_uses_the_worker_timeout_the_code_assumes():
    commands = re.findall(r"`(gunicorn [^`]+)`", README.read_text())
    production = [c for c in commands if "wsgi:app" in c and "--bind 127.0.0.1:8000" in c]
    assert production, commands
    [timeout] = re.findall(r"--timeout (\d+)", production[0])
    assert int(timeout) == WEB_WORKER_TIMEOUT.total_seconds()


def test_a_pay_request_stays_well_inside_the_worker_timeout():
    for dialect in (RealStripe("https://portal.example"), LocalStripe()):
        worst = dialect.calls_per_payment * (
            CALL_BUDGET_SECONDS if dialect.network_retries else CALL_BUDGET_SECONDS / (RealStripe.network_retries + 1))
        assert worst <= WEB_WORKER_TIMEOUT.total_seconds() / 2, dialect.name
    assert GATEWAY_CALL_LEASE > WEB_WORKER_TIMEOUT
