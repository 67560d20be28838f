"""The webhooks page for admins: the endpoints and the latest deliveries, in three statements
whatever their number. Secrets are never read here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from portal.domain.webhooks.states import DeliveryStatus

RECENT_DELIVERIES = 50


@dataclass(frozen=True)
class EndpointItem:
    public_id: str
    url: str
    description: str
    event_types: tuple[str, ...]
    enabled: bool
    created_at: datetime
    pending: int
    dead: int


@dataclass(frozen=True)
class DeliveryItem:
    id: int
    endpoint_url: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None


@dataclass(frozen=True)
class WebhooksPage:
    endpoints: tuple[EndpointItem, ...]
    deliveries: tuple[DeliveryItem, ...]


def webhooks_page(db: Session) -> WebhooksPage:
    counts = {
        (endpoint_id, status): count for endpoint_id, status, count in db.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
            .where(WebhookDelivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.DEAD)))
            .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status))
    }
    endpoints = tuple(
        EndpointItem(public_id, url, description, tuple(types.split()), enabled, created_at,
                     counts.get((endpoint_id, DeliveryStatus.PENDING), 0), counts.get((endpoint_id, DeliveryStatus.DEAD), 0))
        for endpoint_id, public_id, url, description, types, enabled, created_at in db.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.public_id, WebhookEndpoint.url, WebhookEndpoint.description,
                   WebhookEndpoint.event_types, WebhookEndpoint.enabled, WebhookEndpoint.created_at)
            .order_by(WebhookEndpoint.id))
    )
    deliveries = tuple(DeliveryItem(*row) for row in db.execute(
        select(WebhookDelivery.id, WebhookEndpoint.url, WebhookDelivery.event_id, WebhookDelivery.event_type,
               WebhookDelivery.status, WebhookDelivery.attempts, WebhookDelivery.last_status,
               WebhookDelivery.last_error, WebhookDelivery.created_at, WebhookDelivery.next_attempt_at,
               WebhookDelivery.delivered_at, WebhookDelivery.dead_at)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(RECENT_DELIVERIES)
    ))
    return WebhooksPage(endpoints, deliveries)
