"""Stripe-shaped webhook deliveries for the benchmark: signed as Stripe signs, one new event
id per request, written one per line for `bench/webhook.lua` to send."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path

from portal.domain.gateway.stripe_adapter import REFERENCE_KEY


def succeeded_event(intent_id: str, amount: int, currency: str, reference: str | None) -> bytes:
    """A `payment_intent.succeeded` event as Stripe sends it (the fields a handler reads, and
    the usual envelope around them)."""
    event_id = "evt_" + secrets.token_hex(12)
    body = {
        "id": event_id, "object": "event", "api_version": "2026-10-28.endive", "created": int(time.time()),
        "livemode": False, "pending_webhooks": 1, "type": "payment_intent.succeeded",
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": {
            "id": intent_id, "object": "payment_intent", "amount": amount, "amount_received": amount,
            "currency": currency.lower(), "status": "succeeded", "livemode": False,
            "capture_method": "automatic", "confirmation_method": "automatic",
            "latest_charge": "ch_" + intent_id.removeprefix("pi_")[:40],
            "metadata": {REFERENCE_KEY: reference} if reference else {},
            "payment_method": "pm_" + secrets.token_hex(8), "last_payment_error": None,
        }},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def unknown_intent_events(count: int) -> list[bytes]:
    """Events about intents this portal never created (another system on the same account)."""
    return [succeeded_event("pi_elsewhere_" + secrets.token_hex(10), 4_200, "usd", None) for _ in range(count)]


def write_deliveries(path: Path, payloads: list[bytes], secret: str) -> None:
    """One delivery a line: `<Stripe-Signature>\\t<body>`, signed now."""
    now = int(time.time())
    with open(path, "wb") as out:
        for payload in payloads:
            out.write(signature_header(payload, secret, now).encode() + b"\t" + payload + b"\n")
