"""Outgoing webhooks: the endpoints admins add, and the deliveries queued for them.

`enqueue_cash_event` is called by `ledger.service.post_entry`, the one function that writes a
ledger entry, so every cash row the export lists (payments per invoice, their reversals,
credit notes, refunds, chargebacks and their reversals) is announced from one place, in the
same transaction as the entry: a rolled-back change queues nothing. `webhooks.jobs` sends
the deliveries after commit.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.errors import DomainError, NotFound
from portal.domain.exports.queries import CashRow, cash_rows_of_entries, entry_reference
from portal.domain.ledger.states import EntryKind
from portal.domain.webhooks.models import MAX_DESCRIPTION_LENGTH, WebhookDelivery, WebhookEndpoint
from portal.domain.notifications.service import revive_dead
from portal.domain.webhooks.policy import check_endpoint_url, new_signing_secret
from portal.domain.webhooks.states import (
    CASH_EVENT_TYPES, DELIVERY_TRANSITIONS, TEST_EVENT_TYPE, DeliveryStatus, cash_event_type,
)

MAX_ENDPOINTS = 20


class EndpointRefused(DomainError):
    """The endpoint cannot be saved as given; nothing was changed."""


def cash_row_data(row: CashRow) -> dict:
    """The export's row as JSON: the same fields, text as it is (no spreadsheet apostrophe),
    the amount both as a decimal string and in minor units."""
    return {
        "reference": row.reference, "cursor": str(row.cursor), "kind": row.kind,
        "occurred_at": row.occurred_at.isoformat(), "customer_account": row.customer_account,
        "customer_erp_id": row.customer_erp_id, "invoice_number": row.invoice_number,
        "invoice_erp_id": row.invoice_erp_id, "currency": row.amount.currency, "amount": row.amount.plain(),
        "amount_minor": row.amount.minor, "payment_reference": row.payment_reference,
        "payment_method": row.payment_method, "document": row.document,
    }


def event_body(*, event_id: str, event_type: str, created_at: datetime, data: dict) -> str:
    """The JSON a delivery carries (compact, keys in a fixed order)."""
    return json.dumps({"id": event_id, "type": event_type, "created_at": created_at.isoformat(), "data": data},
                      separators=(",", ":"), ensure_ascii=False)


def _queue(db: Session, endpoint_id: int, *, event_id: str, event_type: str, body: str | None, at: datetime,
           entry_id: int | None = None) -> WebhookDelivery:
    delivery = WebhookDelivery(endpoint_id=endpoint_id, event_id=event_id, event_type=event_type, entry_id=entry_id,
                               body=body, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=at,
                               created_at=at, last_error="")
    db.add(delivery)
    return delivery


def enqueue_cash_event(db: Session, *, entry_id: int, kind: EntryKind | str, at: datetime) -> int:
    """Queue one delivery of the entry's cash row per enabled endpoint subscribed to its kind,
    in the caller's transaction (its body is built when first claimed, `cash_event_bodies`).
    Returns how many were queued (0 for `issued`)."""
    if EntryKind(kind) is EntryKind.ISSUED:
        return 0
    event_type = cash_event_type(kind)
    endpoints = [endpoint_id for endpoint_id, types in db.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(WebhookEndpoint.enabled.is_(True))
    ) if event_type in types.split()]
    event_id = f"{entry_reference(entry_id)}.{EntryKind(kind).value}"
    for endpoint_id in endpoints:
        _queue(db, endpoint_id, event_id=event_id, event_type=event_type, body=None, at=at, entry_id=entry_id)
    return len(endpoints)


def cash_event_bodies(db: Session, deliveries: Iterable[WebhookDelivery]) -> None:
    """Give the claimed cash deliveries without a body theirs: the export's row of their
    entry, read in one statement. Kept, so a retry sends the same bytes."""
    waiting = [delivery for delivery in deliveries if delivery.body is None and delivery.entry_id is not None]
    rows = cash_rows_of_entries(db, [delivery.entry_id for delivery in waiting])
    for delivery in waiting:
        row = rows.get(delivery.entry_id)
        data = cash_row_data(row) if row is not None else {}
        delivery.body = event_body(event_id=delivery.event_id, event_type=delivery.event_type,
                                   created_at=delivery.created_at, data=data)


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown to the admin once, on the page that answers the form


def _checked_event_types(event_types: Iterable[str]) -> str:
    chosen = sorted(set(event_types))
    unknown = [event_type for event_type in chosen if event_type not in CASH_EVENT_TYPES]
    if unknown:
        raise EndpointRefused("Choose event types from the list.")
    if not chosen:
        raise EndpointRefused("Choose at least one event type to send.")
    return " ".join(chosen)


def add_endpoint(ctx: Context, *, url: str, description: str, event_types: Iterable[str], mode: str,
                 allow_private: bool) -> NewEndpoint:
    """An admin adds an endpoint: the URL checked (`policy.check_endpoint_url`), a new signing
    secret generated and returned once. Audited without the secret."""
    checked = check_endpoint_url(url, mode=mode, allow_private=allow_private)
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise EndpointRefused(f"The description can be at most {MAX_DESCRIPTION_LENGTH} characters.")
    types = _checked_event_types(event_types)
    count = ctx.db.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0
    if count >= MAX_ENDPOINTS:
        raise EndpointRefused(f"At most {MAX_ENDPOINTS} endpoints: delete one you no longer use first.")
    secret = new_signing_secret()
    now = ctx.clock.now()
    endpoint = WebhookEndpoint(url=checked.url, description=description, secret=secret, event_types=types,
                               enabled=True, created_at=now, updated_at=now)
    ctx.db.add(endpoint)
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "webhook_endpoint.added", "webhook_endpoint", endpoint.public_id,
                 after={"url": endpoint.url, "event_types": types, "description": description})
    return NewEndpoint(endpoint, secret)


def _endpoint(ctx: Context, public_id: str) -> WebhookEndpoint:
    endpoint = ctx.db.scalar(select(WebhookEndpoint).where(WebhookEndpoint.public_id == public_id)
                             .with_for_update())
    if endpoint is None:
        raise NotFound("No such endpoint.")
    return endpoint


def set_endpoint_enabled(ctx: Context, public_id: str, enabled: bool) -> WebhookEndpoint:
    """Disable (nothing new is queued for it, and nothing queued is sent) or enable again
    (what was queued before it was disabled goes out). Audited."""
    endpoint = _endpoint(ctx, public_id)
    if endpoint.enabled == enabled:
        return endpoint
    endpoint.enabled = enabled
    endpoint.updated_at = ctx.clock.now()
    audit.record(ctx.db, ctx.clock, ctx.actor, "webhook_endpoint.enabled" if enabled else "webhook_endpoint.disabled",
                 "webhook_endpoint", endpoint.public_id, before={"enabled": not enabled}, after={"enabled": enabled})
    return endpoint


def delete_endpoint(ctx: Context, public_id: str) -> None:
    """The endpoint and every delivery queued or made for it are gone. Audited."""
    endpoint = _endpoint(ctx, public_id)
    before = {"url": endpoint.url, "event_types": endpoint.event_types, "enabled": endpoint.enabled}
    ctx.db.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                   .execution_options(synchronize_session=False))
    ctx.db.delete(endpoint)
    audit.record(ctx.db, ctx.clock, ctx.actor, "webhook_endpoint.deleted", "webhook_endpoint", public_id,
                 before=before)


def send_test_event(ctx: Context, public_id: str) -> WebhookDelivery:
    """Queue a `portal.test` event for one enabled endpoint, delivered (signed, retried) like
    any other by the sender. Audited."""
    endpoint = _endpoint(ctx, public_id)
    if not endpoint.enabled:
        raise EndpointRefused("That endpoint is disabled: enable it to send it a test event.")
    now = ctx.clock.now()
    event_id = f"test.{secrets.token_hex(8)}"
    body = event_body(event_id=event_id, event_type=TEST_EVENT_TYPE, created_at=now,
                      data={"endpoint": endpoint.public_id, "message": "A test event from the portal."})
    delivery = _queue(ctx.db, endpoint.id, event_id=event_id, event_type=TEST_EVENT_TYPE, body=body, at=now)
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "webhook_endpoint.test_sent", "webhook_endpoint", endpoint.public_id,
                 after={"event_id": event_id})
    return delivery


def retry_dead_delivery(ctx: Context, delivery_id: int) -> WebhookDelivery:
    """Staff send a dead delivery again: pending, due now, its attempts counted from zero.
    Audited with the error it died of."""
    delivery = ctx.db.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update())
    if delivery is None:
        raise NotFound("No such delivery.")
    DELIVERY_TRANSITIONS.check(delivery.status, DeliveryStatus.PENDING, str(delivery.id))
    before = revive_dead(delivery, DeliveryStatus.PENDING, ctx.clock.now())
    audit.record(ctx.db, ctx.clock, ctx.actor, "webhook_delivery.retried", "webhook_delivery", str(delivery.id),
                 before=before, after={"status": delivery.status, "attempts": 0, "event_id": delivery.event_id})
    return delivery
