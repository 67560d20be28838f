"""`replay_unprocessed_events`: apply the refund and dispute events that earlier versions of the
portal received, verified and stored with outcome "unprocessed: ..." (and their body) because
nothing handled them yet.

Run once after deploying the refunds and chargebacks work (`flask --app wsgi
replay-stripe-events`); running it again, or twice at once, changes nothing more: each event is
claimed by one conditional UPDATE of its row (only a row still "unprocessed" is taken) in the
same transaction as its effect, and events are replayed in the order they were received, so a
dispute's `created` comes before its `closed`. An event that still cannot be applied stays
unprocessed and is listed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select, update

from portal.domain.core.context import Context
from portal.domain.gateway.protocol import PaymentGateway, WebhookRejected
from portal.domain.gateway.stripe_adapter import parse_webhook_event
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.payments.models import StripeEvent
from portal.domain.payments.webhooks import (
    UNPROCESSED_PREFIX, EventNotReady, apply_refund_or_dispute, is_refund_or_dispute_event,
)

log = logging.getLogger(__name__)
REPLAYED_PREFIX = "replayed: "


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"replayed {len(self.replayed)} stored event(s), {len(self.left)} left unprocessed"]
        lines += [f"  {line}" for line in self.replayed + self.left]
        return "\n".join(lines)


def replay_unprocessed_events(ctx: Context, gateway: PaymentGateway, supplier: SupplierDetails) -> ReplayReport:
    db = ctx.db
    report = ReplayReport()
    rows = db.execute(
        select(StripeEvent.id, StripeEvent.type, StripeEvent.payload)
        .where(StripeEvent.outcome.startswith(UNPROCESSED_PREFIX), StripeEvent.payload.is_not(None))
        .order_by(StripeEvent.received_at, StripeEvent.id)
    ).all()
    for event_id, event_type, payload in rows:
        if not is_refund_or_dispute_event(event_type):
            report.left.append(f"{event_id} ({event_type}): still not handled")
            continue
        try:
            event = parse_webhook_event(payload.encode("utf-8"))
        except WebhookRejected as unreadable:
            report.left.append(f"{event_id} ({event_type}): {unreadable}")
            continue
        claimed = db.execute(
            update(StripeEvent).where(StripeEvent.id == event_id, StripeEvent.outcome.startswith(UNPROCESSED_PREFIX))
            .values(outcome="replaying").execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            continue  # another run took it
        savepoint = db.begin_nested()
        try:
            outcome, payment_id = apply_refund_or_dispute(ctx, gateway, supplier, event)
        except EventNotReady as not_ready:
            savepoint.rollback()
            db.execute(update(StripeEvent).where(StripeEvent.id == event_id)
                       .values(outcome=f"{UNPROCESSED_PREFIX}{not_ready}"[:200]))
            report.left.append(f"{event_id} ({event_type}): {not_ready}")
            continue
        savepoint.commit()
        db.execute(update(StripeEvent).where(StripeEvent.id == event_id).values(
            outcome=f"{REPLAYED_PREFIX}{outcome}"[:200], payment_id=payment_id))
        report.replayed.append(f"{event_id} ({event_type}): {outcome}")
    log.info("replayed %d stored Stripe event(s)", len(report.replayed))
    return report
