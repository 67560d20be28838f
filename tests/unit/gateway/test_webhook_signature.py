"""Webhook signature verification (SECURITY.md W1, W2) at the unit level."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, UTC

import pytest

from portal.domain.gateway.protocol import WebhookRejected
from portal.domain.gateway.stripe_adapter import parse_webhook_event, verify_webhook_signature

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
SECRET = "whsec_current"
PAYLOAD = json.dumps({
    "id": "evt_1", "type": "payment_intent.succeeded", "livemode": False, "created": T,
    "data": {"object": {"id": "pi_1", "object": "payment_intent", "status": "succeeded", "amount": 1050,
                        "currency": "usd", "livemode": False, "metadata": {"portal_payment": "abc"},
                        "latest_charge": {"id": "ch_1", "object": "charge"}}},
}).encode()


def _signature(payload: bytes, timestamp: int, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def _header(payload: bytes = PAYLOAD, timestamp: int = T, secret: str = SECRET) -> str:
    return f"t={timestamp},v1={_signature(payload, timestamp, secret)}"


def verify(payload=PAYLOAD, header=None, secrets=(SECRET,), tolerance=300, now=NOW):
    verify_webhook_signature(payload, _header() if header is None else header, secrets, tolerance, now)


def test_a_good_signature_passes():
    verify()


@pytest.mark.parametrize("header", ["", "garbage", f"t={T}", f"v1={_signature(PAYLOAD, T)}",
                                    f"t=abc,v1={_signature(PAYLOAD, T)}", _header(secret="whsec_other")])
def test_bad_headers_are_refused(header):
    with pytest.raises(WebhookRejected):
        verify(header=header)


def test_missing_header_is_refused():
    with pytest.raises(WebhookRejected):
        verify_webhook_signature(PAYLOAD, None, (SECRET,), 300, NOW)


def test_any_changed_byte_is_refused():
    for index in (0, len(PAYLOAD) // 2, len(PAYLOAD) - 1):
        tampered = bytearray(PAYLOAD)
        tampered[index] ^= 0x20
        with pytest.raises(WebhookRejected):
            verify(payload=bytes(tampered))


def test_rotation_accepts_any_configured_secret_and_any_v1_signature():
    verify(secrets=("whsec_next", SECRET))
    both = f"t={T},v1={_signature(PAYLOAD, T, 'whsec_old')},v1={_signature(PAYLOAD, T)}"
    verify(header=both)


@pytest.mark.parametrize(("age", "accepted"), [(0, True), (299, True), (300, True), (301, False),
                                               (-300, True), (-301, False), (86_400, False)])
def test_tolerance_window(age, accepted):
    header = _header(timestamp=T - age)
    if accepted:
        verify(header=header)
    else:
        with pytest.raises(WebhookRejected):
            verify(header=header)


def test_no_secret_or_no_tolerance_refuses_everything():
    with pytest.raises(WebhookRejected):
        verify(secrets=())
    with pytest.raises(WebhookRejected):
        verify(tolerance=0)


def test_parsed_event_reads_latest_charge_as_object_or_id():
    event = parse_webhook_event(PAYLOAD)
    assert (event.id, event.type, event.livemode) == ("evt_1", "payment_intent.succeeded", False)
    intent = event.intent
    assert (intent.id, intent.amount, intent.currency, intent.charge_id, intent.reference) == (
        "pi_1", 1050, "USD", "ch_1", "abc")
    as_id = json.loads(PAYLOAD)
    as_id["data"]["object"]["latest_charge"] = "ch_2"
    assert parse_webhook_event(json.dumps(as_id).encode()).intent.charge_id == "ch_2"


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"id": "evt_1"}',
                                  json.dumps({"id": "x_1", "type": "t", "livemode": False, "created": 1,
                                              "data": {"object": {}}}).encode()])
def test_unreadable_bodies_are_refused(body):
    with pytest.raises(WebhookRejected):
        parse_webhook_event(body)


def test_event_about_something_else_has_no_intent():
    body = json.dumps({"id": "evt_2", "type": "charge.refunded", "livemode": False, "created": T,
                       "data": {"object": {"id": "ch_1", "object": "charge"}}}).encode()
    assert parse_webhook_event(body).intent is None
