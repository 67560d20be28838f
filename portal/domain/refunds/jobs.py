"""Refund and dispute jobs.

`resend_unanswered_refunds` (run by `reconcile-stripe`): a refund whose create call never got
Stripe's answer is sent again with its saved key.

`replay_unprocessed_events`: apply the refund and dispute events that earlier versions of the
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
from datetime import timedelta

from sqlalchemy import select, update

from portal.domain.core.context import Context
from portal.domain.gateway.protocol import PaymentGateway, WebhookRejected
from portal.domain.gateway.stripe_adapter import parse_webhook_event
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.payments.models import StripeEvent
from portal.domain.payments.service import lock_payment
from portal.domain.payments.webhooks import (
    UNPROCESSED_PREFIX, EventNotReady, apply_refund_or_dispute, is_refund_or_dispute_event,
)
from portal.domain.refunds.models import Refund
from portal.domain.refunds.service import send_refund
from portal.domain.refunds.states import RefundStatus

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


# Stripe keeps an idempotency key at least 24 hours: within that window a refund whose create
# call got no answer is sent again with its key (at most one refund at Stripe); after it, a
# resend could make a second refund, so the refund is listed for staff to check in Stripe.
RESEND_AFTER = timedelta(minutes=15)
RESEND_WITHIN = timedelta(hours=23)


@dataclass
class ResendReport:
    sent: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def resend_unanswered_refunds(ctx: Context, gateway: PaymentGateway, *, batch_size: int = 100) -> ResendReport:
    """Refunds still `requested` (a timeout, and the form never submitted again) older than
    RESEND_AFTER: send each again with its key. Each one's answer is committed before the next
    call; a claim held by a live request is left alone."""
    db, now = ctx.db, ctx.clock.now()
    report = ResendReport()
    stale = db.execute(
        select(Refund.id, Refund.payment_id, Refund.public_id, Refund.created_at)
        .where(Refund.status == RefundStatus.REQUESTED, Refund.stripe_refund_id.is_(None),
               Refund.created_at < now - RESEND_AFTER)
        .order_by(Refund.id).limit(batch_size)
    ).all()
    for refund_id, payment_id, public_id, created_at in stale:
        if created_at < now - RESEND_WITHIN:
            report.problems.append(f"refund {public_id}: no answer from Stripe since {created_at:%Y-%m-%d %H:%M} "
                                   "UTC; check the payment in the Stripe Dashboard")
            continue
        payment = lock_payment(db, ctx.clock, payment_id)
        refund = db.get(Refund, refund_id, populate_existing=True)
        if refund.status != RefundStatus.REQUESTED or refund.stripe_refund_id is not None:
            continue
        outcome = send_refund(ctx, gateway, payment, refund)
        # This answer is committed with the next refund's claim (or by the command runner).
        report.sent.append(f"refund {public_id}: {outcome.refund.status}{' (' + outcome.message + ')' if outcome.message else ''}")
    return report
