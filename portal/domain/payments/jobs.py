"""Repairing what a missed webhook left (SECURITY.md W6): ask Stripe about every payment
still in flight and apply its answer through the same state machine as the webhook.

Safe to run at any time and twice at once: each payment is locked while its answer is
applied, moves only forward, and settles at most once (the ledger's unique constraint backs
this up). A second run finds nothing left to change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.database import commit_before_outside_call
from portal.domain.gateway.protocol import CANCEL_ABANDONED, GatewayError, IntentSnapshot, PaymentGateway
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.payments.models import IN_FLIGHT_STATUSES, Payment
from portal.domain.payments.service import apply_gateway_status, intent_mismatch, lock_payment, move
from portal.domain.payments.states import PAYMENT_TRANSITIONS, STATUS_FOR_INTENT, PaymentStatus

log = logging.getLogger(__name__)

RECONCILER = Actor.system("reconcile-stripe")
# A `new` attempt without an intent id younger than this may still be inside its create call.
DEFAULT_STALE_AFTER = timedelta(minutes=15)
# How far before the attempt its intent could have been created (clock skew margin).
SEARCH_MARGIN = timedelta(hours=1)
# A 3-D Secure step not completed by then was abandoned (tab closed): Stripe sends no event
# for that, and the attempt would reserve the invoices' amounts forever. It is canceled.
ABANDONED_AFTER = timedelta(hours=1)


@dataclass
class ReconcileReport:
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"checked {self.checked} payment(s) in flight, changed {len(self.changed)}"]
        lines += [f"  changed: {line}" for line in self.changed]
        lines += [f"  PROBLEM: {line}" for line in self.problems]
        return "\n".join(lines)


def reconcile_payments(
    ctx: Context, gateway: PaymentGateway, supplier: SupplierDetails,
    *, stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> ReconcileReport:
    """Bring every in-flight payment up to date with Stripe.

    Each payment's answer is committed before Stripe is asked about the next one (so one
    payment's problem does not hold back the others, and no transaction is open while Stripe
    answers); the command runner commits the last.
    """
    db, clock = ctx.db, ctx.clock
    report = ReconcileReport()
    now = clock.now()
    rows = db.execute(
        select(Payment.id, Payment.public_id, Payment.stripe_payment_intent_id, Payment.created_at)
        .where(Payment.status.in_(IN_FLIGHT_STATUSES)).order_by(Payment.id)
    ).all()
    for payment_id, public_id, intent_id, created_at in rows:
        if intent_id is None and created_at > now - stale_after:
            continue  # its create call may still be running
        report.checked += 1
        commit_before_outside_call(db)
        try:
            if intent_id is not None:
                snapshot = gateway.retrieve_intent(intent_id)
            else:
                snapshot = gateway.find_intent_by_reference(public_id, created_at - SEARCH_MARGIN)
        except GatewayError as exc:
            report.problems.append(f"{public_id}: Stripe could not be read: {exc.message}")
            continue
        # A bank account waiting for its microdeposits is not abandoned: the customer has days
        # to enter the amounts, and nothing is debited before (P12).
        if (snapshot is not None and snapshot.status == "requires_action" and not snapshot.waits_for_microdeposits
                and created_at < now - ABANDONED_AFTER):
            try:
                snapshot = gateway.cancel_intent(snapshot.id, CANCEL_ABANDONED)
            except GatewayError as exc:
                report.problems.append(f"{public_id}: abandoned authentication not canceled: {exc.message}")
                continue
        try:
            payment = lock_payment(db, clock, payment_id)
            outcome = _reconcile_one(ctx, gateway, supplier, payment, snapshot)
            db.flush()
        except Exception:
            db.rollback()
            log.exception("reconciling payment %s failed", public_id)
            report.problems.append(f"{public_id}: error while applying Stripe's answer (see log)")
            continue
        if outcome.startswith("problem: "):
            report.problems.append(f"{public_id}: {outcome.removeprefix('problem: ')}")
        elif outcome != "unchanged":
            report.changed.append(f"{public_id}: {outcome}")
    return report


def _reconcile_one(
    ctx: Context, gateway: PaymentGateway, supplier: SupplierDetails,
    payment: Payment, snapshot: IntentSnapshot | None,
) -> str:
    db, clock = ctx.db, ctx.clock
    if payment.status not in IN_FLIGHT_STATUSES:
        return "unchanged"  # a webhook got there first
    if snapshot is None:
        if payment.stripe_payment_intent_id is not None:
            return "unchanged"
        # The create call never reached Stripe: release the reserved amounts.
        move(payment, PaymentStatus.CANCELED, clock.now())
        payment.failure_message = "The payment never reached the card processor."
        return "new -> canceled (no PaymentIntent at Stripe)"
    mismatch = intent_mismatch(payment, snapshot, gateway.livemode)
    if mismatch:
        return f"problem: intent {snapshot.id} {mismatch}"
    adopted = ""
    if payment.stripe_payment_intent_id is None:
        if db.scalar(select(Payment.id).where(Payment.stripe_payment_intent_id == snapshot.id)) is not None:
            return f"problem: intent {snapshot.id} already belongs to another payment"
        payment.stripe_payment_intent_id = snapshot.id
        payment.client_secret = snapshot.client_secret
        payment.updated_at = clock.now()
        adopted = f"found intent {snapshot.id}; "
    target = STATUS_FOR_INTENT.get(snapshot.status)
    if target is None or target == payment.status:
        return f"{adopted}unchanged ({payment.status})" if adopted else "unchanged"
    if not PAYMENT_TRANSITIONS.can_move(payment.status, target):
        return f"problem: Stripe says {snapshot.status} but the payment is {payment.status}"
    return adopted + apply_gateway_status(ctx, supplier, payment, target, snapshot)
