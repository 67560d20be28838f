"""Applying a Stripe webhook event to our payments (SECURITY.md W1-W7).

- W1/W2: the webhook verifier checks the signature on the raw body and the timestamp (our clock).
- W3/W5: the event id is inserted *first*, in the same transaction as its effect. A duplicate
  (even a concurrent one: the second insert waits for the first to commit) hits the primary
  key and is answered 200 with no second effect; any error rolls everything back and the
  route answers 5xx so Stripe delivers again.
- W4: statuses only move forward through `PAYMENT_TRANSITIONS`; an event that would move
  backwards makes us re-read the intent from Stripe and apply that instead, if it is newer.
  The re-read happens with no transaction open: the first attempt is rolled back, Stripe is
  asked, and the event is recorded and applied again in a fresh transaction.
- W7: the payment is found by the PaymentIntent id *we* stored; amount, currency and livemode
  must match. Metadata is only used to wait for a create call still storing that id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.domain.core.context import Context
from portal.domain.core.money import Money
from portal.domain.gateway.amounts import to_stripe_amount
from portal.domain.gateway.protocol import (
    METHOD_US_BANK_ACCOUNT, DisputeSnapshot, GatewayError, IntentSnapshot, MethodGateway, PaymentGateway, SetupNotFound,
    WebhookEvent, WebhookVerifier,
)
from portal.domain.methods.service import SETUP_EVENT_TYPES, apply_setup_event, setup_id_for_intent
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.payments.models import Payment, StripeEvent
from portal.domain.payments.service import apply_gateway_status, intent_mismatch, lock_payment, record_bank_return
from portal.domain.payments.states import PAYMENT_TRANSITIONS, STATUS_FOR_INTENT, PaymentStatus
from portal.domain.refunds.notifications import RefundMail
from portal.domain.refunds.service import RefundEventNotReady, apply_dispute_event, apply_refund_event

log = logging.getLogger(__name__)

# Event type -> the payment status it reports. Other payment_intent.* events (created,
# amount_capturable_updated, ...) change nothing for us.
EVENT_TARGETS = {
    "payment_intent.requires_action": PaymentStatus.REQUIRES_ACTION,
    "payment_intent.processing": PaymentStatus.PROCESSING,
    "payment_intent.succeeded": PaymentStatus.SUCCEEDED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.canceled": PaymentStatus.CANCELED,
}


# Refund and chargeback events, applied by the refunds area (`refunds.service`). A refund's
# status arrives as refund.created/updated/failed and, for charges, charge.refund.updated (all
# carry the Refund); charge.refunded carries the Charge and adds nothing to those.
REFUND_EVENT_TYPES = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
DISPUTE_EVENT_TYPES = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
                       "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated")
FOLLOWED_ELSEWHERE = {"charge.refunded": "ignored: refunds are followed through their refund.* events"}

# Events that move money but that the portal does not handle (a refund or dispute event type
# Stripe adds later): never acknowledged as if handled. Each is stored with its verified body
# and outcome "unprocessed: ..." and logged as a warning, to be replayed
# (`refunds.jobs.replay_unprocessed_events`) by the code that will handle it; the answer is
# still 200 (Stripe would otherwise retry for days and then disable the endpoint).
UNPROCESSED_EVENT_TYPES = ("charge.refunded", "charge.refund.updated")
UNPROCESSED_EVENT_PREFIXES = ("charge.dispute.", "refund.")
UNPROCESSED_PREFIX = "unprocessed: "


def is_unprocessed_money_event(event_type: str) -> bool:
    if event_type in REFUND_EVENT_TYPES or event_type in DISPUTE_EVENT_TYPES or event_type in FOLLOWED_ELSEWHERE:
        return False
    return event_type in UNPROCESSED_EVENT_TYPES or event_type.startswith(UNPROCESSED_EVENT_PREFIXES)


def is_refund_or_dispute_event(event_type: str) -> bool:
    return event_type in REFUND_EVENT_TYPES or event_type in DISPUTE_EVENT_TYPES or event_type in FOLLOWED_ELSEWHERE


class EventNotReady(Exception):
    """The event is about an intent our own create call has not stored yet: answer 5xx so
    Stripe delivers it again later (reconciliation covers a stand-in that never retries)."""


@dataclass(frozen=True)
class EventResult:
    event_id: str
    outcome: str
    duplicate: bool = False


@dataclass(frozen=True)
class _NeedsStripesView:
    """The event would move the payment backwards: ask Stripe before deciding."""

    intent_id: str


def receive_stripe_webhook(
    ctx: Context, gateway: PaymentGateway, verifier: WebhookVerifier, supplier: SupplierDetails,
    payload: bytes, signature_header: str | None,
) -> EventResult:
    """Verify, deduplicate and apply one delivery. The caller commits on return, rolls back
    on any exception (WebhookRejected -> 400, anything else -> 5xx)."""
    event = verifier.read(payload, signature_header, ctx.clock.now())
    if is_unprocessed_money_event(event.type):
        return _record_unprocessed(ctx, event, payload)
    if is_refund_or_dispute_event(event.type):
        return _record_and_apply_refund_or_dispute(ctx, gateway, supplier, event)
    if event.type in SETUP_EVENT_TYPES:
        return _record_and_apply_setup(ctx, gateway, event)
    result = _record_and_apply(ctx, gateway, supplier, event, current=None)
    if isinstance(result, _NeedsStripesView):
        ctx.db.rollback()  # keep nothing open while Stripe answers; the event is recorded below
        current = gateway.retrieve_intent(result.intent_id)
        result = _record_and_apply(ctx, gateway, supplier, event, current=current)
    assert isinstance(result, EventResult)
    return result


def _record_and_apply_setup(ctx: Context, gateway: MethodGateway, event: WebhookEvent) -> EventResult:
    """A `setup_intent.*` event (saved payment methods): the SetupIntent is read back from
    Stripe with no transaction open (the event names its payment method by id only, and
    Stripe's current view is the one to apply, whatever order events arrive in), then the event
    id is recorded and the methods area applies that view, in one transaction."""
    setup_id = None
    if event.setup is not None and event.livemode == gateway.livemode:
        setup_id = setup_id_for_intent(ctx, event.setup.id)
    current = None
    if setup_id is not None:
        ctx.db.rollback()  # nothing open while Stripe answers
        try:
            current = gateway.read_completed_setup(event.setup.id)
        except SetupNotFound:
            current = None
        except GatewayError as exc:
            raise EventNotReady(f"SetupIntent {event.setup.id} not read back: {exc.message}") from None
    record = StripeEvent(id=event.id, type=event.type[:100], outcome="", received_at=ctx.clock.now())
    ctx.db.add(record)
    try:
        ctx.db.flush()
    except IntegrityError:
        ctx.db.rollback()
        return EventResult(event.id, "duplicate", duplicate=True)
    if event.setup is None:
        outcome = "ignored: event carries no SetupIntent"
    elif event.livemode != gateway.livemode:
        outcome = "ignored: livemode mismatch"
    elif setup_id is None:
        outcome = "ignored: not one of our SetupIntents"
    elif current is None:
        outcome = "ignored: Stripe knows no such SetupIntent"
    else:
        outcome = apply_setup_event(ctx, gateway.livemode, setup_id, current)
    record.outcome = outcome[:200]
    if outcome.startswith("ignored"):
        log.info("stripe event %s (%s) %s", event.id, event.type, outcome)
    return EventResult(event.id, outcome)


def _record_unprocessed(ctx: Context, event: WebhookEvent, payload: bytes) -> EventResult:
    outcome = f"{UNPROCESSED_PREFIX}{event.type} moves money and is not handled yet (kept for replay)"
    ctx.db.add(StripeEvent(id=event.id, type=event.type[:100], outcome=outcome[:200],
                           payload=payload.decode("utf-8"), received_at=ctx.clock.now()))
    try:
        ctx.db.flush()
    except IntegrityError:
        ctx.db.rollback()
        return EventResult(event.id, "duplicate", duplicate=True)
    log.warning("stripe event %s (%s) recorded UNPROCESSED: money moved that the portal does not handle yet",
                event.id, event.type)
    return EventResult(event.id, outcome)


def _record_and_apply_refund_or_dispute(
    ctx: Context, gateway: PaymentGateway, supplier: SupplierDetails, event: WebhookEvent,
) -> EventResult:
    """Record the event id, then apply it (same transaction): a duplicate changes nothing."""
    record = StripeEvent(id=event.id, type=event.type[:100], outcome="", received_at=ctx.clock.now())
    ctx.db.add(record)
    try:
        ctx.db.flush()
    except IntegrityError:
        ctx.db.rollback()
        return EventResult(event.id, "duplicate", duplicate=True)
    outcome, payment_id = apply_refund_or_dispute(ctx, gateway, supplier, event)
    record.outcome = outcome[:200]
    record.payment_id = payment_id
    if outcome.startswith("ignored"):
        log.info("stripe event %s (%s) %s", event.id, event.type, outcome)
    return EventResult(event.id, outcome)


def apply_refund_or_dispute(
    ctx: Context, gateway: PaymentGateway, supplier: SupplierDetails, event: WebhookEvent,
) -> tuple[str, int | None]:
    """The effect of one refund or dispute event (its id already recorded by the caller).
    Raises EventNotReady for a refund our create call has not recorded yet."""
    if event.type in FOLLOWED_ELSEWHERE:
        return FOLLOWED_ELSEWHERE[event.type], None
    if event.livemode != gateway.livemode:
        log.warning("stripe event %s: livemode %s where %s expected", event.id, event.livemode, gateway.livemode)
        return "ignored: livemode mismatch", None
    if event.type in REFUND_EVENT_TYPES:
        if event.refund is None:
            return "ignored: event carries no Refund", None
        try:
            return apply_refund_event(ctx, RefundMail(supplier), event.refund)
        except RefundEventNotReady as not_ready:
            raise EventNotReady(str(not_ready)) from None
    if event.dispute is None:
        return "ignored: event carries no Dispute", None
    returned = _apply_bank_return(ctx, supplier, event.type, event.dispute)
    if returned is not None:
        return returned
    return apply_dispute_event(ctx, RefundMail(supplier), event.type, gateway.livemode, event.dispute)


# A dispute on an ACH Direct Debit charge is the bank returning the debit (R05/R07/R10/R29:
# "not authorized", or an R01/R02... after settlement): there is no evidence to submit and no
# case to win, so it is no chargeback case. The settlement is reversed (`payment_reversal`
# entries) once, on the first event that names the return; later updates change nothing.
BANK_RETURN_EVENT_TYPES = ("charge.dispute.created", "charge.dispute.funds_withdrawn")


def _apply_bank_return(
    ctx: Context, supplier: SupplierDetails, event_type: str, dispute: DisputeSnapshot,
) -> tuple[str, int | None] | None:
    """The outcome for a dispute on one of our bank account payments; None for any other
    dispute (the refunds area's chargeback cases)."""
    if not dispute.payment_intent_id:
        return None
    found = ctx.db.execute(select(Payment.id, Payment.method).where(
        Payment.stripe_payment_intent_id == dispute.payment_intent_id)).first()
    if found is None or found.method != METHOD_US_BANK_ACCOUNT:
        return None
    payment = lock_payment(ctx.db, ctx.clock, found.id)
    if event_type not in BANK_RETURN_EVENT_TYPES:
        return f"ignored: {event_type} on a returned bank debit changes nothing", payment.id
    if dispute.currency != payment.currency or dispute.amount <= 0 or dispute.amount > to_stripe_amount(
            Money(payment.amount_minor, payment.currency)):
        return "ignored: return amount or currency does not fit the payment", payment.id
    if payment.status != PaymentStatus.SUCCEEDED:
        return f"ignored: payment is {payment.status}, not settled", payment.id
    return record_bank_return(ctx, supplier, payment, dispute.reason, dispute.id), payment.id


def _record_and_apply(
    ctx: Context, gateway: PaymentGateway, supplier: SupplierDetails, event: WebhookEvent,
    current: IntentSnapshot | None,
) -> EventResult | _NeedsStripesView:
    db = ctx.db
    record = StripeEvent(id=event.id, type=event.type[:100], outcome="", received_at=ctx.clock.now())
    db.add(record)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        return EventResult(event.id, "duplicate", duplicate=True)

    applied = _apply_event(ctx, gateway, supplier, event, current)
    if isinstance(applied, _NeedsStripesView):
        return applied
    outcome, payment = applied
    record.outcome = outcome[:200]
    record.payment_id = payment.id if payment is not None else None
    if outcome.startswith("ignored"):
        log.info("stripe event %s (%s) %s", event.id, event.type, outcome)
    return EventResult(event.id, outcome)


def _apply_event(
    ctx: Context, gateway: PaymentGateway, supplier: SupplierDetails, event: WebhookEvent,
    current: IntentSnapshot | None,
) -> tuple[str, Payment | None] | _NeedsStripesView:
    target = EVENT_TARGETS.get(event.type)
    if target is None:
        return f"ignored: {event.type} is not handled", None
    intent = event.intent
    if intent is None:
        return "ignored: event carries no PaymentIntent", None
    if event.livemode != gateway.livemode or intent.livemode != gateway.livemode:
        log.warning("stripe event %s: livemode %s where %s expected", event.id, event.livemode, gateway.livemode)
        return "ignored: livemode mismatch", None

    payment = _locked_payment_for(ctx, intent)
    if payment is None:
        return "ignored: unknown payment intent", None
    mismatch = intent_mismatch(payment, intent, gateway.livemode)
    if mismatch:
        log.warning("stripe event %s for payment %s: %s", event.id, payment.public_id, mismatch)
        return f"ignored: {mismatch}", payment

    if target == payment.status or PAYMENT_TRANSITIONS.can_move(payment.status, target):
        return apply_gateway_status(ctx, supplier, payment, target, intent), payment

    # Backwards (e.g. `processing` after `succeeded`, or an old failure): Stripe's current
    # view decides, never the order in which deliveries happened to arrive.
    if current is None:
        return _NeedsStripesView(intent.id)
    current_target = STATUS_FOR_INTENT.get(current.status)
    if (current_target and current_target != payment.status
            and PAYMENT_TRANSITIONS.can_move(payment.status, current_target)
            and not intent_mismatch(payment, current, gateway.livemode)):
        outcome = apply_gateway_status(ctx, supplier, payment, current_target, current)
        return f"re-read from Stripe: {outcome}", payment
    return f"ignored: stale {event.type} (payment is {payment.status}, Stripe says {current.status})", payment


def _locked_payment_for(ctx: Context, intent: IntentSnapshot) -> Payment | None:
    """Our payment for this intent, locked; None when the intent is not ours."""
    db = ctx.db
    payment_id = db.scalar(select(Payment.id).where(Payment.stripe_payment_intent_id == intent.id))
    if payment_id is not None:
        return lock_payment(db, ctx.clock, payment_id)
    if not intent.reference:
        return None
    # A card payment can succeed (and Stripe send this event) before our create call has
    # recorded the intent id: the attempt the metadata names is still `new` without one.
    candidate_id = db.scalar(select(Payment.id).where(Payment.public_id == intent.reference))
    if candidate_id is None:
        return None
    candidate = lock_payment(db, ctx.clock, candidate_id)
    if candidate.stripe_payment_intent_id == intent.id:
        return candidate
    if candidate.stripe_payment_intent_id is None and candidate.status == PaymentStatus.NEW:
        raise EventNotReady(f"payment {candidate.public_id} has not stored intent {intent.id} yet")
    return None
