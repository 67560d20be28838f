"""Staff refunds of settled card payments, and applying what Stripe reports about refunds and
card chargebacks (SECURITY.md P13, P14).

Refunds, once per request: the form carries a token; (payment, token) is unique, so a second
submit of the same form finds the refund row the first made instead of making another. The row
and its Stripe idempotency key are committed before Stripe is called
(`commit_before_outside_call`), and no transaction is open during the call: the row is claimed
(`gateway_call_until`), committed, Stripe answers, then the payment is locked again and the
answer recorded. A retry after a timeout sends the same key, so Stripe makes one refund.

Money: a refund Stripe accepted (pending or succeeded) posts one `refund` entry per invoice it
reopens (`policy.split_in_allocation_order`); a refund that later fails or is canceled posts the
opposite, as a `payment` entry ("the money stayed paid"), and tells the refunder and the
supervisors. Both name the Stripe refund in their reference and no payment: the ledger's unique
(payment, invoice, kind) is the settlement's, and a payment may be refunded in several parts.

Chargebacks: `charge.dispute.created` opens a case on the payment (evidence deadline from
`evidence_details.due_by`) and posts one `chargeback` entry per invoice, reopening the balance;
`charge.dispute.closed` won posts the `chargeback_reversal` of exactly those entries, lost
leaves them. An inquiry (Stripe's `warning_*` statuses) opens the case but takes no money: the
entries wait for a status that says the funds were withdrawn (`needs_response`, ...). A payment with an open or lost chargeback cannot be refunded.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.database import commit_before_outside_call
from portal.domain.core.errors import NotFound
from portal.domain.core.money import Money, MoneyError
from portal.domain.gateway.amounts import to_stripe_amount
from portal.domain.gateway.protocol import (
    DisputeSnapshot, GatewayRejected, GatewayUnavailable, GatewayUnusable, PaymentGateway, RefundRequest,
    RefundSnapshot,
)
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.service import post_entry
from portal.domain.ledger.states import EntryKind
from portal.domain.payments.models import Payment
from portal.domain.payments.service import GATEWAY_CALL_LEASE, lock_payment
from portal.domain.payments.states import PaymentStatus
from portal.domain.refunds.models import Chargeback, Refund, RefundAllocation
from portal.domain.refunds.notifications import RefundMail, queue_chargeback_opened, queue_refund_failed
from portal.domain.refunds.policy import (
    RefundForm, RefundRefused, check_refund_form, split_in_allocation_order,
)
from portal.domain.refunds.states import (
    CHARGEBACK_TRANSITIONS, CLOSED_DISPUTE_STATUSES, INQUIRY_PREFIX, REFUND_HOLDING, REFUND_POSTED, REFUND_TRANSITIONS,
    STATUS_FOR_STRIPE_REFUND, ChargebackStatus, RefundStatus,
)
from portal.domain.staff.models import StaffMember
from portal.domain.staff.policy import Permission, check_permission, refund_limit

log = logging.getLogger(__name__)


def new_refund_token() -> str:
    """Rendered into each refund form: identifies "this request" across double submits."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class RefundOutcome:
    refund: Refund
    message: str = ""  # what staff read when the refund is not (yet) given
    retry: bool = False  # Stripe's answer is unknown: submitting the same form again is safe


# --- what is refundable -------------------------------------------------------------------------


def still_paid(db: Session, payment: Payment) -> list[tuple[int, int]]:
    """(invoice id, minor) this payment still pays on each invoice, in allocation order: its
    allocation less what its refunds (not failed or canceled) gave back there."""
    refunded = dict(db.execute(
        select(RefundAllocation.invoice_id, func.sum(RefundAllocation.amount_minor))
        .join(Refund, Refund.id == RefundAllocation.refund_id)
        .where(Refund.payment_id == payment.id, Refund.status.in_([str(s) for s in REFUND_HOLDING]))
        .group_by(RefundAllocation.invoice_id)
    ).all())
    return [(a.invoice_id, a.amount_minor - refunded.get(a.invoice_id, 0)) for a in payment.allocations]


def refundable(db: Session, payment: Payment) -> Money:
    """What may still be refunded on a payment (zero unless it is a settled card payment)."""
    if payment.status != PaymentStatus.SUCCEEDED or payment.method != "card":
        return Money(0, payment.currency)
    return Money(sum(paid for _, paid in still_paid(db, payment)), payment.currency)


def blocking_chargeback(db: Session, payment_id: int) -> Chargeback | None:
    """An open or lost chargeback on the payment: its charge must not be refunded."""
    return db.scalar(select(Chargeback).where(
        Chargeback.payment_id == payment_id,
        Chargeback.status.in_([ChargebackStatus.OPEN, ChargebackStatus.LOST]),
    ).limit(1))


# --- a staff refund -----------------------------------------------------------------------------


def refund_payment(
    ctx: Context, gateway: PaymentGateway, staff: StaffMember, payment_public_id: str, form: RefundForm,
) -> RefundOutcome:
    """Refund part or all of a settled card payment, once per form.

    Raises NotFound for an unknown payment, RefundRefused (nothing changed) for a refund that
    may not be given. Commits once before calling Stripe, never while Stripe answers.
    """
    reason = check_refund_form(form)
    check_permission(staff.role, Permission.REFUND_PAYMENTS)
    db, clock = ctx.db, ctx.clock
    payment_id = db.scalar(select(Payment.id).where(Payment.public_id == payment_public_id))
    if payment_id is None:
        raise NotFound("No such payment.")
    payment = lock_payment(db, clock, payment_id)

    refund = db.scalar(select(Refund).where(Refund.payment_id == payment.id,
                                            Refund.request_key == form.form_token))
    if refund is None:
        refund = _new_refund(ctx, staff, payment, form.amount_text, reason, form.form_token)
    if refund.status != RefundStatus.REQUESTED or refund.stripe_refund_id is not None:
        return RefundOutcome(refund)  # this form was sent before: nothing more to do
    return send_refund(ctx, gateway, payment, refund)


def send_refund(ctx: Context, gateway: PaymentGateway, payment: Payment, refund: Refund) -> RefundOutcome:
    """Send a `requested` refund (its payment locked) to Stripe with its saved key and record the
    answer: the claim is committed first, no transaction is open while Stripe answers."""
    db, clock = ctx.db, ctx.clock
    payment_id = payment.id
    now = clock.now()
    if refund.gateway_call_until is not None and refund.gateway_call_until > now:
        return RefundOutcome(refund, retry=True, message="This refund is being sent to Stripe.")
    if not payment.stripe_payment_intent_id:
        raise RefundRefused("This payment has no card charge to refund.")
    refund.gateway_call_until = now + GATEWAY_CALL_LEASE
    request = RefundRequest(
        payment_intent_id=payment.stripe_payment_intent_id,
        amount=Money(refund.amount_minor, refund.currency), idempotency_key=refund.idempotency_key,
        reference=refund.public_id, metadata={"payment_reference": payment.reference},
    )
    refund_id = refund.id
    commit_before_outside_call(db)

    try:
        answer: RefundSnapshot | Exception = gateway.create_refund(request)
    except (GatewayRejected, GatewayUnavailable, GatewayUnusable) as error:
        answer = error

    lock_payment(db, clock, payment_id)
    refund = db.get(Refund, refund_id, populate_existing=True)
    refund.gateway_call_until = None
    if refund.stripe_refund_id is not None or refund.status != RefundStatus.REQUESTED:
        return RefundOutcome(refund)  # a webhook recorded it meanwhile
    if isinstance(answer, GatewayUnavailable):
        log.warning("refund %s: Stripe did not answer: %s", refund.public_id, answer.message)
        return RefundOutcome(refund, retry=True, message=(
            "Stripe did not answer. Nothing is refunded twice: submit the same form again."))
    if isinstance(answer, (GatewayRejected, GatewayUnusable)):
        log.warning("refund %s: refused by Stripe: %s", refund.public_id,
                    getattr(answer, "detail", "") or answer.message)
        _move(refund, RefundStatus.FAILED, clock.now())
        refund.failure_reason = f"Refused by Stripe: {answer.message}"[:200]
        audit.record(db, clock, ctx.actor, "refund.refused", "refund", refund.public_id,
                     after={"message": refund.failure_reason})
        return RefundOutcome(refund, message=f"Stripe refused the refund: {answer.message} Nothing was refunded.")
    problem = _refund_mismatch(refund, answer)
    if problem:
        log.error("refund %s: Stripe answered about another refund: %s", refund.public_id, problem)
        return RefundOutcome(refund, message="Stripe's answer did not match this refund: it is being checked.")
    refund.stripe_refund_id = answer.id
    _apply_refund_status(ctx, None, refund, STATUS_FOR_STRIPE_REFUND.get(answer.status, RefundStatus.PENDING),
                         answer)
    return RefundOutcome(refund)


def _new_refund(ctx: Context, staff: StaffMember, payment: Payment, amount_text: str, reason: str,
                token: str) -> Refund:
    db, clock = ctx.db, ctx.clock
    try:
        amount = Money.parse(amount_text or "", payment.currency)
    except MoneyError as error:
        raise RefundRefused(f"{error}: enter the amount as a number such as 120.50.") from None
    if amount.minor <= 0:
        raise RefundRefused("Enter an amount above zero.")
    if payment.status != PaymentStatus.SUCCEEDED or payment.method != "card":
        raise RefundRefused("Only a settled card payment can be refunded.")
    chargeback = blocking_chargeback(db, payment.id)
    if chargeback is not None:
        raise RefundRefused("This payment's charge is disputed by the cardholder (a chargeback): it cannot be "
                            "refunded. See the chargeback case.")
    available = refundable(db, payment)
    if amount > available:
        raise RefundRefused(f"At most {available.format()} can still be refunded on this payment.")
    limit = refund_limit(staff.role, payment.currency)
    if limit is not None and amount > limit:
        raise RefundRefused(f"Your role may refund at most {limit.format()} at once: ask an administrator.")
    parts = split_in_allocation_order(amount.minor, still_paid(db, payment))
    now = clock.now()
    refund = Refund(payment_id=payment.id, staff_id=staff.id, currency=payment.currency, amount_minor=amount.minor,
                    status=RefundStatus.REQUESTED, reason=reason, request_key=token,
                    idempotency_key=secrets.token_hex(32), failure_reason="", created_at=now, updated_at=now)
    db.add(refund)
    db.flush()
    for invoice_id, minor in parts:
        db.add(RefundAllocation(refund_id=refund.id, invoice_id=invoice_id, amount_minor=minor))
    db.flush()
    audit.record(db, clock, ctx.actor, "refund.requested", "refund", refund.public_id, after={
        "payment": payment.public_id, "amount_minor": amount.minor, "currency": payment.currency, "reason": reason,
    })
    return refund


def _move(refund: Refund, target: RefundStatus, now: datetime) -> None:
    refund.status = REFUND_TRANSITIONS.check(refund.status, target, refund.public_id)
    refund.updated_at = now


def _refund_mismatch(refund: Refund, snapshot: RefundSnapshot) -> str:
    if refund.stripe_refund_id not in (None, snapshot.id):
        return f"refund {snapshot.id} is not ours ({refund.stripe_refund_id})"
    if snapshot.currency != refund.currency:
        return f"currency {snapshot.currency} where {refund.currency} expected"
    if snapshot.amount != to_stripe_amount(Money(refund.amount_minor, refund.currency)):
        return f"amount {snapshot.amount} where {refund.amount_minor} expected"
    return ""


def _apply_refund_status(ctx: Context, mail: RefundMail | None, refund: Refund, target: RefundStatus,
                         snapshot: RefundSnapshot) -> str:
    """Move a refund (its payment locked) as Stripe reported; post or reverse its entries."""
    before = RefundStatus(refund.status)
    if target == before:
        return f"unchanged ({before})"
    now = ctx.clock.now()
    _move(refund, target, now)
    reference = (refund.stripe_refund_id or snapshot.id)[:100]
    db = ctx.db
    if target in REFUND_POSTED and before not in REFUND_POSTED:
        for part in refund.allocations:
            post_entry(db, invoice_id=part.invoice_id, kind=EntryKind.REFUND, amount_minor=part.amount_minor,
                       reference=reference, at=now)
    if target in (RefundStatus.FAILED, RefundStatus.CANCELED):
        refund.failure_reason = (snapshot.failure_reason or str(target))[:200]
        if before in REFUND_POSTED:
            for part in refund.allocations:
                post_entry(db, invoice_id=part.invoice_id, kind=EntryKind.REFUND_REVERSAL, amount_minor=-part.amount_minor,
                           reference=f"{reference} {target}", at=now)
            if mail is not None:
                queue_refund_failed(ctx, mail, refund)
    audit.record(db, ctx.clock, ctx.actor, f"refund.{target}", "refund", refund.public_id,
                 before={"status": str(before)}, after={"status": str(target), "stripe_refund": snapshot.id})
    return f"{before} -> {target}"


# --- what Stripe reports ------------------------------------------------------------------------


class RefundEventNotReady(Exception):
    """A refund event about a refund our own create call has not recorded yet: answer 5xx so
    Stripe delivers it again (the create call's answer records it meanwhile)."""


def apply_refund_event(ctx: Context, mail: RefundMail, snapshot: RefundSnapshot) -> tuple[str, int | None]:
    """A refund.* / charge.refund.updated event: (outcome, payment id). States only move
    forward, so a replayed or late event changes nothing."""
    db = ctx.db
    refund_id = db.scalar(select(Refund.id).where(Refund.stripe_refund_id == snapshot.id))
    if refund_id is None and snapshot.reference:
        candidate = db.scalar(select(Refund).where(Refund.public_id == snapshot.reference))
        if candidate is not None and candidate.stripe_refund_id is None and candidate.status == RefundStatus.REQUESTED:
            raise RefundEventNotReady(f"refund {candidate.public_id} has not stored {snapshot.id} yet")
    if refund_id is None:
        log.info("stripe refund %s is not one of ours (made in the Stripe dashboard?)", snapshot.id)
        return "ignored: unknown refund (not made through the portal)", None
    payment_id = db.scalar(select(Refund.payment_id).where(Refund.id == refund_id))
    lock_payment(db, ctx.clock, payment_id)
    refund = db.get(Refund, refund_id, populate_existing=True)
    problem = _refund_mismatch(refund, snapshot)
    if problem:
        log.warning("stripe refund %s: %s", snapshot.id, problem)
        return f"ignored: {problem}", payment_id
    target = STATUS_FOR_STRIPE_REFUND.get(snapshot.status)
    if target is None:
        return f"ignored: unknown refund status {snapshot.status}", payment_id
    if target != refund.status and not REFUND_TRANSITIONS.can_move(refund.status, target):
        return f"ignored: stale (refund is {refund.status}, event says {snapshot.status})", payment_id
    return _apply_refund_status(ctx, mail, refund, target, snapshot), payment_id


def apply_dispute_event(ctx: Context, mail: RefundMail | None, event_type: str, livemode: bool,
                        snapshot: DisputeSnapshot) -> tuple[str, int | None]:
    """A charge.dispute.* event: (outcome, payment id). The case is found by Stripe's dispute
    id, the payment by the PaymentIntent id we stored (never by metadata)."""
    db = ctx.db
    if snapshot.livemode != livemode:
        return "ignored: livemode mismatch", None
    payment_id = None
    if snapshot.payment_intent_id:
        payment_id = db.scalar(select(Payment.id).where(Payment.stripe_payment_intent_id == snapshot.payment_intent_id))
    if payment_id is None:
        return "ignored: dispute on a charge that is not ours", None
    payment = lock_payment(db, ctx.clock, payment_id)
    if snapshot.currency != payment.currency or snapshot.amount <= 0 or snapshot.amount > to_stripe_amount(
            Money(payment.amount_minor, payment.currency)):
        log.warning("dispute %s on payment %s: amount %s %s does not fit", snapshot.id, payment.public_id,
                    snapshot.amount, snapshot.currency)
        return "ignored: dispute amount or currency does not fit the payment", payment_id
    if payment.status != PaymentStatus.SUCCEEDED:
        return f"ignored: payment is {payment.status}, not settled", payment_id
    case = db.scalar(select(Chargeback).where(Chargeback.stripe_dispute_id == snapshot.id))
    outcomes = []
    if case is None:
        case = _open_case(ctx, payment, snapshot)
        outcomes.append("case opened")
    case.stripe_status = snapshot.status[:40]
    if snapshot.evidence_due_by:
        case.evidence_due_at = datetime.fromtimestamp(snapshot.evidence_due_by, UTC)
    closed = CLOSED_DISPUTE_STATUSES.get(snapshot.status)
    # An inquiry (warning_*) takes no money; a chargeback does, from the first status that is
    # not an inquiry on (a case first heard of as won had its money back already: nothing).
    takes_money = not snapshot.status.startswith(INQUIRY_PREFIX) and closed != ChargebackStatus.WON
    if case.status == ChargebackStatus.OPEN and takes_money and _withdraw(ctx, payment, case):
        outcomes.append("balance reopened")
    if event_type == "charge.dispute.closed" and closed is None:
        log.warning("dispute %s closed with status %s: the case stays open", snapshot.id, snapshot.status)
    if closed is not None and case.status == ChargebackStatus.OPEN:
        _close_case(ctx, payment, case, closed)
        outcomes.append(f"closed {closed}")
    elif "case opened" in outcomes and mail is not None:
        queue_chargeback_opened(ctx, mail, case, payment)
    return ", ".join(outcomes) or f"unchanged ({case.status})", payment_id


def _open_case(ctx: Context, payment: Payment, snapshot: DisputeSnapshot) -> Chargeback:
    db = ctx.db
    case = Chargeback(payment_id=payment.id, stripe_dispute_id=snapshot.id, currency=payment.currency,
                      amount_minor=snapshot.amount, status=ChargebackStatus.OPEN, stripe_status=snapshot.status[:40],
                      reason=snapshot.reason[:60], opened_at=ctx.clock.now())
    db.add(case)
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "chargeback.opened", "chargeback", case.public_id, after={
        "payment": payment.public_id, "amount_minor": snapshot.amount, "dispute": snapshot.id,
        "reason": case.reason, "stripe_status": snapshot.status,
    })
    return case


def _chargeback_entries(db: Session, payment: Payment) -> list[InvoiceEntry]:
    return list(db.scalars(select(InvoiceEntry).where(
        InvoiceEntry.payment_id == payment.id, InvoiceEntry.kind == EntryKind.CHARGEBACK,
    ).order_by(InvoiceEntry.id)))


def _withdraw(ctx: Context, payment: Payment, case: Chargeback) -> bool:
    """Post the case's `chargeback` entries (the money left us), once. False when already posted."""
    db, now = ctx.db, ctx.clock.now()
    if _chargeback_entries(db, payment):
        return False
    paid = still_paid(db, payment)
    amount = min(case.amount_minor, sum(minor for _, minor in paid))
    if amount < case.amount_minor:
        log.warning("dispute %s is for more than payment %s still pays: %s of %s reopened", case.stripe_dispute_id,
                    payment.public_id, amount, case.amount_minor)
    for invoice_id, minor in (split_in_allocation_order(amount, paid) if amount > 0 else []):
        post_entry(db, invoice_id=invoice_id, kind=EntryKind.CHARGEBACK, amount_minor=minor, payment_id=payment.id,
                   reference=case.stripe_dispute_id[:120], at=now)
    return True


def _close_case(ctx: Context, payment: Payment, case: Chargeback, outcome: ChargebackStatus) -> None:
    db, now = ctx.db, ctx.clock.now()
    case.status = CHARGEBACK_TRANSITIONS.check(case.status, outcome, case.public_id)
    case.closed_at = now
    if outcome == ChargebackStatus.WON:
        for entry in _chargeback_entries(db, payment):
            post_entry(db, invoice_id=entry.invoice_id, kind=EntryKind.CHARGEBACK_REVERSAL,
                       amount_minor=-entry.amount_minor, payment_id=payment.id,
                       reference=case.stripe_dispute_id[:120], at=now)
    audit.record(db, ctx.clock, ctx.actor, f"chargeback.{outcome}", "chargeback", case.public_id,
                 before={"status": "open"}, after={"status": str(outcome)})
