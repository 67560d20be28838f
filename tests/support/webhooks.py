"""Outgoing webhooks for tests: an endpoint added as an admin would, and the sender's
transport pointed at the local receiver."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.webhooks.models import WebhookDelivery
from portal.domain.webhooks.policy import DeliveryPolicy
from portal.domain.webhooks.service import NewEndpoint, add_endpoint
from portal.domain.webhooks.states import CASH_EVENT_TYPES
from portal.domain.webhooks.transport import HttpWebhookTransport

FAST = DeliveryPolicy(batch_size=10, max_attempts=3)


def add_test_endpoint(db, clock, url: str, event_types=tuple(CASH_EVENT_TYPES)) -> NewEndpoint:
    created = add_endpoint(Context(db, clock, Actor("staff", "test-admin")), url=url, description="ERP",
                           event_types=event_types, mode="test", allow_private=False)
    db.commit()
    return created


def local_transport(timeout: float = 5.0, **kwargs) -> HttpWebhookTransport:
    return HttpWebhookTransport(mode="test", timeout=timeout, **kwargs)


def deliveries(db) -> list[WebhookDelivery]:
    db.expire_all()
    return db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def signature_is_valid(secret: str, header: str, body: bytes) -> tuple[bool, int]:
    """docs/erp-webhooks.md's check, without the clock: (signature matches, its timestamp)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]), int(parts["t"])
