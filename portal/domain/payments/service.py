"""Card payments: starting one safely, the payment state machine, and applying outcomes.

The money rules (SECURITY.md P1-P5):
- The server computes every amount from the open balances; the browser only proposes
  (invoice, amount, reason) triples, which are checked against what is *payable* (balance
  minus money in flight) under a per-customer lock.
- One charge per request: an attempt row with a fresh idempotency key is committed *before*
  Stripe is called; repeated posts of the same form (same nonce and allocations) find that row
  through the partial unique index `uq_payments_open_request` and reuse its key and intent.
- A payment becomes `succeeded` (and writes ledger entries) only from a verified webhook or from
  reconciliation reading Stripe. What Stripe answers to our own create call moves it at most to
  `processing` / `requires_action`.
- Every status change goes through `TRANSITIONS`; anything else raises `InvalidTransition`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from portal.domain.core import audit
from portal.domain.notifications import service as outbox
from portal.domain.access.policy import Access, invoice_scope
from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock, today_in
from portal.domain.notifications.rendering import render_email
from portal.domain.core.errors import DomainError, InvalidTransition, NotFound
from portal.domain.gateway.protocol import (
    CardPaymentRequest, GatewayRejected, GatewayUnavailable, IntentSnapshot, PaymentDeclined, PaymentGateway,
)
from portal.domain.ledger.queries import Standing, standings_for
from portal.domain.payments.models import IN_FLIGHT_STATUSES, Payment, PaymentAllocation
from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.core.money import Money, MoneyError, exponent
from portal.domain.gateway.amounts import stripe_minimum, to_stripe_amount

log = logging.getLogger(__name__)

# --- the state machine -------------------------------------------------------------------------

# current status -> statuses it may move to. Nothing moves backwards.
# `failed` may still become `processing`/`succeeded`: a declined PaymentIntent stays open at
# Stripe (requires_payment_method) and could be confirmed again with the client secret the
# browser holds; if money moves anyway, we record it rather than lose it.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"requires_action", "processing", "succeeded", "failed", "canceled"}),
    "requires_action": frozenset({"processing", "succeeded", "failed", "canceled"}),
    "processing": frozenset({"succeeded", "failed"}),
    "succeeded": frozenset(),
    "failed": frozenset({"processing", "succeeded"}),
    "canceled": frozenset(),
}
FINAL_STATUSES = frozenset(status for status, targets in TRANSITIONS.items() if not targets)

# Which of our statuses a PaymentIntent status means (None: no change implied).
STATUS_FOR_INTENT = {
    "requires_payment_method": "failed",  # we always confirm at creation: it was declined
    "requires_confirmation": None,
    "requires_action": "requires_action",
    "processing": "processing",
    "requires_capture": "processing",  # we capture automatically; should not happen
    "succeeded": "succeeded",
    "canceled": "canceled",
}


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS[current]


def move(payment: Payment, target: str, now: datetime) -> None:
    """Change a payment's status if the table allows it; raise InvalidTransition otherwise."""
    if not can_move(payment.status, target):
        raise InvalidTransition(f"payment {payment.public_id}: {payment.status} -> {target} not allowed")
    payment.status = target
    payment.updated_at = now


def status_after_create(snapshot: IntentSnapshot) -> str:
    """Our status right after our own create call: never `succeeded` (that waits for the
    webhook or reconciliation), so a browser-driven request cannot write the ledger."""
    target = STATUS_FOR_INTENT.get(snapshot.status)
    if target in (None, "succeeded"):
        return "processing"
    return target


# --- what the customer asked for ---------------------------------------------------------------

NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CARD_TOKEN_PATTERN = re.compile(r"^tok_[A-Za-z0-9_]{1,250}$")
MAX_INVOICES_PER_PAYMENT = 50
MAX_REASON_LENGTH = 200
MAX_PO_LENGTH = 60
MAX_MEMO_LENGTH = 500
SHORT_PAY_REASONS = ("Partial payment", "Short-paid, see dispute", "Credit expected", "Other")


class PaymentRefused(DomainError):
    """The request cannot be paid as asked; nothing was changed."""


class PaymentsPaused(PaymentRefused):
    """Card payments for this customer are paused for a while (too many declines)."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


# Card testing: whoever holds a link tries stolen cards one after another. After this many
# declines for one customer within the window, new card attempts pause until the oldest of
# them leaves it. Counted from our own payment rows (under the customer lock), so every web
# process agrees and nothing else has to be stored.
DECLINES_BEFORE_PAUSE = 5
DECLINE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class AllocationRequest:
    """One invoice the customer wants to pay, with the amount as typed."""

    invoice_public_id: str
    amount_text: str
    reason: str = ""


@dataclass(frozen=True)
class CardPaymentForm:
    """The pay form as submitted. Fields not listed here (status, company, currency, total)
    are never read: the server derives them."""

    nonce: str
    allocations: tuple[AllocationRequest, ...]
    card_token: str
    po_number: str = ""
    memo: str = ""


def new_form_nonce() -> str:
    """Rendered into each pay page: identifies "this form" across double clicks and retries."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class PaymentStart:
    """What the browser needs after a pay request."""

    payment: Payment
    client_secret: str | None = None  # only when 3-D Secure must run in the browser
    message: str = ""  # the decline or retry message to show
    retry: bool = False  # nothing is known yet; posting the same form again is safe

    @property
    def status(self) -> str:
        return self.payment.status


@dataclass(frozen=True)
class ReceiptDetails:
    """What a receipt says about us."""

    supplier_name: str
    portal_url: str

    @classmethod
    def from_settings(cls, settings) -> ReceiptDetails:
        """From `portal.config.Settings` (duck-typed so the domain does not import it)."""
        return cls(supplier_name=settings.supplier_name, portal_url=settings.public_url)


# --- starting a payment ---------------------------------------------------------------------


def start_card_payment(
    db: Session, clock: Clock, gateway: PaymentGateway, actor: Actor, access: Access,
    form: CardPaymentForm,
) -> PaymentStart:
    """Create (or find again) the payment attempt for this form and confirm it with Stripe.

    Commits twice on purpose (P2): first the attempt with its idempotency key, so a timeout
    after Stripe created the intent is retried with the same key; then what Stripe answered.
    Raises PaymentRefused (nothing changed) when the request is not payable.
    """
    _check_form_shape(form)
    start_writing_transaction(db)
    lock_customer(db, access.customer_id)
    invoices = _invoices_for(db, access, [a.invoice_public_id for a in form.allocations])
    amounts = _parsed_amounts(form, invoices)
    currency = _single_currency(invoices.values())
    request_key = _request_key(form.nonce, currency, amounts)

    payment = db.scalar(
        select(Payment).where(
            Payment.customer_id == access.customer_id,
            Payment.request_key == request_key,
            Payment.status.in_(IN_FLIGHT_STATUSES),
        )
    )
    if payment is None:
        payment = _create_attempt(db, clock, actor, access, form, invoices, amounts, currency, request_key)
    payment_id = payment.id
    db.commit()

    # Second transaction: lock the attempt (a concurrent post of the same form waits here and
    # then finds the intent this one stored) and call Stripe at most once for it.
    start_writing_transaction(db)
    payment = lock_payment(db, clock, payment_id)
    if payment.stripe_payment_intent_id is not None or payment.status != "new":
        db.commit()
        return _start_result(payment)

    try:
        snapshot = gateway.create_card_intent(CardPaymentRequest(
            amount=Money(payment.amount_minor, payment.currency), card_token=form.card_token,
            idempotency_key=payment.idempotency_key, reference=payment.public_id,
            metadata={"customer": access_customer_reference(db, access.customer_id)},
        ))
    except PaymentDeclined as declined:
        _record_decline(db, clock, actor, payment, declined)
        db.commit()
        return PaymentStart(payment, message=declined.message)
    except GatewayUnavailable as unavailable:
        db.rollback()  # the attempt stays `new` with its key; a retry reuses both
        log.warning("payment %s: gateway unavailable: %s", payment.public_id, unavailable.message)
        return PaymentStart(
            payment, retry=True,
            message="We could not reach the card processor. Nothing was charged twice: please try again.",
        )
    except GatewayRejected as rejected:
        log.warning("payment %s: gateway rejected the request: %s", payment.public_id, rejected.message)
        _record_decline(db, clock, actor, payment, PaymentDeclined(
            "The card could not be charged. Please check the card details and try again.",
            code="rejected",
        ))
        db.commit()
        return PaymentStart(payment, message=payment.failure_message)

    mismatch = intent_mismatch(payment, snapshot, gateway.livemode)
    if mismatch:
        # Stripe answered about another amount than we asked: leave the attempt in flight for
        # reconciliation and staff rather than guess.
        db.rollback()
        log.error("payment %s: create answered a mismatching intent %s: %s", payment_id, snapshot.id, mismatch)
        return PaymentStart(payment, retry=False, message="The payment is being checked. Please look at it again later.")

    before = payment.status
    payment.stripe_payment_intent_id = snapshot.id
    payment.client_secret = snapshot.client_secret
    target = status_after_create(snapshot)
    move(payment, target, clock.now())
    if target == "failed":
        payment.failure_code = snapshot.failure_code[:80]
        payment.failure_message = snapshot.failure_message or "The card was declined."
    audit.record(db, clock, actor, "payment.confirmed", "payment", payment.public_id,
                 before={"status": before}, after={"status": target, "intent": snapshot.id})
    db.commit()
    return _start_result(payment)


def access_customer_reference(db: Session, customer_id: int) -> str:
    """The customer's account number, for people reading the Stripe dashboard."""
    return db.scalar(select(Customer.account_number).where(Customer.id == customer_id)) or ""


def _start_result(payment: Payment) -> PaymentStart:
    if payment.status == "requires_action":
        return PaymentStart(payment, client_secret=payment.client_secret)
    if payment.status == "failed":
        return PaymentStart(payment, message=payment.failure_message)
    return PaymentStart(payment)


def _record_decline(db: Session, clock: Clock, actor: Actor, payment: Payment, declined: PaymentDeclined) -> None:
    if declined.intent_id and payment.stripe_payment_intent_id is None:
        owner = db.scalar(select(Payment.id).where(Payment.stripe_payment_intent_id == declined.intent_id))
        if owner is None:
            payment.stripe_payment_intent_id = declined.intent_id
    move(payment, "failed", clock.now())
    payment.failure_code = (declined.code or "")[:80]
    payment.failure_message = declined.message
    audit.record(db, clock, actor, "payment.declined", "payment", payment.public_id,
                 before={"status": "new"}, after={"status": "failed", "code": payment.failure_code})


def _check_form_shape(form: CardPaymentForm) -> None:
    """Refusals that need no database: a malformed form changes nothing and costs nothing."""
    if not NONCE_PATTERN.match(form.nonce or ""):
        raise PaymentRefused("This payment form has expired. Reload the page and try again.")
    if not CARD_TOKEN_PATTERN.match(form.card_token or ""):
        raise PaymentRefused("Enter your card details.")
    if not form.allocations:
        raise PaymentRefused("Choose at least one invoice to pay.")
    if len(form.allocations) > MAX_INVOICES_PER_PAYMENT:
        raise PaymentRefused(f"Pay at most {MAX_INVOICES_PER_PAYMENT} invoices at once.")
    ids = [a.invoice_public_id for a in form.allocations]
    if len(set(ids)) != len(ids):
        raise PaymentRefused("An invoice appears twice in this payment.")
    if len(form.po_number.strip()) > MAX_PO_LENGTH:
        raise PaymentRefused(f"The PO number can be at most {MAX_PO_LENGTH} characters.")
    if len(form.memo.strip()) > MAX_MEMO_LENGTH:
        raise PaymentRefused(f"The memo can be at most {MAX_MEMO_LENGTH} characters.")
    for allocation in form.allocations:
        if len(allocation.reason.strip()) > MAX_REASON_LENGTH:
            raise PaymentRefused(f"A reason can be at most {MAX_REASON_LENGTH} characters.")


def _invoices_for(db: Session, access: Access, public_ids: list[str]) -> dict[str, Invoice]:
    """The named invoices, within what this access may see; any other id is refused."""
    rows = db.scalars(
        select(Invoice).where(Invoice.public_id.in_(public_ids), invoice_scope(access))
    ).all()
    found = {invoice.public_id: invoice for invoice in rows}
    if len(found) != len(set(public_ids)):
        raise PaymentRefused("One of these invoices is not part of your account.")
    return found


def _single_currency(invoices: Iterable[Invoice]) -> str:
    currencies = {invoice.currency for invoice in invoices}
    if len(currencies) != 1:
        raise PaymentRefused("Invoices in different currencies must be paid separately.")
    return currencies.pop()


def _parsed_amounts(form: CardPaymentForm, invoices: dict[str, Invoice]) -> dict[str, Money]:
    amounts: dict[str, Money] = {}
    for allocation in form.allocations:
        invoice = invoices[allocation.invoice_public_id]
        try:
            amount = Money.parse(allocation.amount_text, invoice.currency)
        except MoneyError as exc:
            raise PaymentRefused(f"Invoice {invoice.number}: {exc}") from None
        if amount.minor <= 0:
            raise PaymentRefused(f"Invoice {invoice.number}: enter an amount above zero.")
        amounts[invoice.public_id] = amount
    return amounts


def _request_key(nonce: str, currency: str, amounts: dict[str, Money]) -> str:
    """Same form (nonce) with the same allocations -> same key; any change -> a new attempt."""
    canonical = ";".join(f"{public_id}={amounts[public_id].minor}" for public_id in sorted(amounts))
    return hashlib.sha256(f"{nonce}|{currency}|{canonical}".encode()).hexdigest()


def _create_attempt(
    db: Session, clock: Clock, actor: Actor, access: Access, form: CardPaymentForm,
    invoices: dict[str, Invoice], amounts: dict[str, Money], currency: str, request_key: str,
) -> Payment:
    """Check the amounts against what is payable now and insert the attempt (under the lock)."""
    _refuse_while_declines_pile_up(db, clock, access.customer_id)
    standings = standings_for(db, [invoice.id for invoice in invoices.values()],
                              _customer_today(db, clock, access.customer_id))
    reasons = {a.invoice_public_id: a.reason.strip() for a in form.allocations}
    for public_id, amount in amounts.items():
        standing = standings[invoices[public_id].id]
        _check_payable(standing, amount, reasons[public_id])

    total = Money.zero(currency)
    for amount in amounts.values():
        total = total + amount
    minimum = stripe_minimum(currency)
    if total < minimum:
        raise PaymentRefused(f"Card payments must be at least {minimum.format()}.")
    try:
        to_stripe_amount(total)
    except MoneyError as exc:
        raise PaymentRefused(str(exc)) from None

    now = clock.now()
    payment = Payment(
        customer_id=access.customer_id, contact_id=access.contact_id, currency=currency,
        amount_minor=total.minor, method="card", status="new", request_key=request_key,
        idempotency_key=secrets.token_hex(32), po_number=form.po_number.strip(),
        memo=form.memo.strip(), failure_code="", failure_message="", created_at=now, updated_at=now,
    )
    db.add(payment)
    db.flush()
    for public_id in sorted(amounts, key=lambda pid: invoices[pid].id):
        db.add(PaymentAllocation(
            payment_id=payment.id, invoice_id=invoices[public_id].id,
            amount_minor=amounts[public_id].minor, short_pay_reason=reasons[public_id],
        ))
    db.flush()
    audit.record(db, clock, actor, "payment.started", "payment", payment.public_id, after={
        "amount_minor": total.minor, "currency": currency,
        "allocations": {invoices[pid].number: amounts[pid].minor for pid in amounts},
    })
    return payment


def _refuse_while_declines_pile_up(db: Session, clock: Clock, customer_id: int) -> None:
    now = clock.now()
    declined_at = db.scalars(
        select(Payment.updated_at)
        .where(Payment.customer_id == customer_id, Payment.status == "failed",
               Payment.failure_code != "", Payment.updated_at > now - DECLINE_WINDOW)
        .order_by(Payment.updated_at.desc())
        .limit(DECLINES_BEFORE_PAUSE)
    ).all()
    if len(declined_at) < DECLINES_BEFORE_PAUSE:
        return
    wait = max(int((declined_at[-1] + DECLINE_WINDOW - now).total_seconds()), 60)
    raise PaymentsPaused(
        f"{DECLINES_BEFORE_PAUSE} cards were declined for this account within an hour, so card "
        f"payments are paused for {-(-wait // 60)} minutes to protect it. Nothing was charged. "
        "If you need to pay sooner, write to us.",
        retry_after_seconds=wait,
    )


def _check_payable(standing: Standing, amount: Money, reason: str) -> None:
    number = standing.invoice.number
    if standing.is_paid:
        raise PaymentRefused(f"Invoice {number} is already paid.")
    payable = standing.payable
    if payable.is_zero:
        raise PaymentRefused(
            f"Invoice {number} already has a payment in progress. Wait until it completes or fails."
        )
    if amount > payable:
        in_flight = "" if standing.in_flight.is_zero else f" ({standing.in_flight.format()} is already being paid)"
        raise PaymentRefused(f"Invoice {number}: at most {payable.format()} can be paid now{in_flight}.")
    if amount < payable and not reason:
        raise PaymentRefused(f"Invoice {number}: say why you are paying less than {payable.format()}.")


def _customer_today(db: Session, clock: Clock, customer_id: int) -> date:
    tz = db.scalar(select(Customer.timezone).where(Customer.id == customer_id)) or "UTC"
    return today_in(clock, tz)


# --- locking -----------------------------------------------------------------------------------


def start_writing_transaction(db: Session) -> None:
    """End the session's read-only transaction so the next statement (a lock) starts a new one.

    On SQLite a transaction that has read and then tries to write fails at once if another
    writer committed in between; starting with the locking write makes it wait instead.
    """
    if db.new or db.dirty or db.deleted:
        raise RuntimeError("payments need a session without pending changes")
    db.commit()


def lock_customer(db: Session, customer_id: int) -> None:
    """The portable lock serializing payment creation per customer: a row lock on PostgreSQL,
    the database write lock on SQLite. Must be the first write of the transaction."""
    db.execute(
        update(Customer).where(Customer.id == customer_id)
        .values(payment_lock=Customer.payment_lock + 1)
        .execution_options(synchronize_session=False)
    )


def lock_payment(db: Session, clock: Clock, payment_id: int) -> Payment:
    """Lock one payment row (portably, by writing it) and load its committed state."""
    db.execute(
        update(Payment).where(Payment.id == payment_id).values(updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return db.scalars(
        select(Payment).where(Payment.id == payment_id)
        .options(selectinload(Payment.allocations))
        .execution_options(populate_existing=True)
    ).one()


# --- applying what Stripe says ----------------------------------------------------------------


def intent_mismatch(payment: Payment, snapshot: IntentSnapshot, livemode: bool) -> str:
    """Why this intent cannot be about this payment ("" when it can)."""
    if payment.stripe_payment_intent_id not in (None, snapshot.id):
        return f"intent {snapshot.id} is not the payment's intent"
    if snapshot.livemode != livemode:
        return f"livemode {snapshot.livemode} where {livemode} expected"
    if snapshot.currency != payment.currency:
        return f"currency {snapshot.currency} where {payment.currency} expected"
    if snapshot.amount != to_stripe_amount(Money(payment.amount_minor, payment.currency)):
        return f"amount {snapshot.amount} where {payment.amount_minor} expected"
    return ""


def apply_gateway_status(
    db: Session, clock: Clock, actor: Actor, receipts: ReceiptDetails, payment: Payment,
    target: str, snapshot: IntentSnapshot,
) -> str:
    """Move a (locked) payment to `target` as Stripe reported it; settle on success.

    Returns a short outcome for the event log. Raises InvalidTransition for a move the table
    does not allow (the caller decides whether to re-read Stripe).
    """
    before = payment.status
    if target == before:
        return f"unchanged ({before})"
    now = clock.now()
    move(payment, target, now)
    if target == "failed":
        payment.failure_code = snapshot.failure_code[:80]
        payment.failure_message = snapshot.failure_message or "The payment failed."
    if target == "succeeded":
        _settle(db, clock, receipts, payment, snapshot)
    audit.record(db, clock, actor, f"payment.{target}", "payment", payment.public_id,
                 before={"status": before}, after={"status": target, "intent": snapshot.id})
    return f"{before} -> {target}"


def _settle(db: Session, clock: Clock, receipts: ReceiptDetails, payment: Payment, snapshot: IntentSnapshot) -> None:
    """Write one `payment` ledger entry per allocation and queue the receipt, in the caller's
    transaction. The unique (payment, invoice, kind) constraint refuses a second settlement."""
    now = clock.now()
    reference = (snapshot.charge_id or snapshot.id)[:120]
    for allocation in payment.allocations:
        db.add(InvoiceEntry(
            invoice_id=allocation.invoice_id, kind="payment", amount_minor=-allocation.amount_minor,
            payment_id=payment.id, reference=reference, created_at=now,
        ))
    payment.settled_at = now
    db.flush()
    queue_receipt(db, clock, receipts, payment)


def queue_receipt(db: Session, clock: Clock, receipts: ReceiptDetails, payment: Payment) -> None:
    """The receipt email to the paying contact, the company's AP mailboxes on CC (once)."""
    contacts = db.scalars(select(Contact).where(Contact.customer_id == payment.customer_id)).all()
    payer = next((c for c in contacts if c.id == payment.contact_id), None)
    mailboxes = [c.email for c in contacts if c.is_ap_mailbox]
    to = payer.email if payer is not None else (mailboxes[0] if mailboxes else None)
    if to is None:
        log.warning("payment %s: no contact to send the receipt to", payment.public_id)
        return
    customer = db.get(Customer, payment.customer_id)
    summary = describe_payments(db, [payment], clock)[0]
    email = render_email(
        "payment_receipt", payment=summary, customer=customer, payer=payer,
        supplier_name=receipts.supplier_name,
        payment_url=f"{receipts.portal_url.rstrip('/')}/payments/{payment.public_id}",
    )
    outbox.enqueue(db, clock, kind="payment_receipt", to=to, email=email,
                   cc=[m for m in mailboxes if m != to], dedupe_key=f"payment_receipt:{payment.public_id}")


def cancel_card_payment(
    db: Session, clock: Clock, gateway: PaymentGateway, actor: Actor, access: Access,
    receipts: ReceiptDetails, public_id: str,
) -> Payment:
    """Cancel an attempt whose 3-D Secure step failed or was abandoned, releasing its amounts.

    Stripe decides: if the intent can no longer be canceled (it is already processing or
    paid), nothing changes here and the webhook settles it.
    """
    payment = payment_for_access(db, access, public_id)
    start_writing_transaction(db)
    payment = lock_payment(db, clock, payment.id)
    if payment.status != "requires_action" or not payment.stripe_payment_intent_id:
        raise PaymentRefused("This payment can no longer be canceled.")
    try:
        snapshot = gateway.cancel_intent(payment.stripe_payment_intent_id)
    except (GatewayRejected, GatewayUnavailable) as exc:
        log.info("payment %s: cancel refused by the gateway: %s", payment.public_id, exc.message)
        raise PaymentRefused("This payment is already being processed and cannot be canceled.") from None
    target = STATUS_FOR_INTENT.get(snapshot.status)
    if target in ("canceled", "failed") and not intent_mismatch(payment, snapshot, gateway.livemode):
        apply_gateway_status(db, clock, actor, receipts, payment, target, snapshot)
    return payment


# --- reading payments for pages ---------------------------------------------------------------


@dataclass(frozen=True)
class AllocationLine:
    invoice: Invoice
    amount: Money
    short_pay_reason: str
    balance_after: Money


@dataclass(frozen=True)
class PaymentSummary:
    payment: Payment
    amount: Money
    lines: tuple[AllocationLine, ...]

    @property
    def status(self) -> str:
        return self.payment.status

    @property
    def is_in_flight(self) -> bool:
        return self.payment.status in IN_FLIGHT_STATUSES


def payment_scope(access: Access):
    """Payments this access may see: the company's, and for a forwarded invoice link only
    payments wholly within the link's invoices."""
    clause = Payment.customer_id == access.customer_id
    if access.whole_account:
        return clause
    outside = select(PaymentAllocation.id).where(
        PaymentAllocation.payment_id == Payment.id,
        PaymentAllocation.invoice_id.not_in(sorted(access.invoice_ids)),
    )
    return clause & ~outside.exists()


def payment_for_access(db: Session, access: Access, public_id: str) -> Payment:
    payment = db.scalar(
        select(Payment).where(Payment.public_id == public_id, payment_scope(access))
        .options(selectinload(Payment.allocations))
    )
    if payment is None:
        raise NotFound()
    return payment


def payment_history(db: Session, access: Access, clock: Clock, limit: int = 200) -> list[PaymentSummary]:
    """The company's payments, newest first, with what each paid."""
    payments = db.scalars(
        select(Payment).where(payment_scope(access))
        .options(selectinload(Payment.allocations))
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit)
    ).all()
    return describe_payments(db, list(payments), clock)


def describe_payments(db: Session, payments: list[Payment], clock: Clock) -> list[PaymentSummary]:
    invoice_ids = sorted({a.invoice_id for p in payments for a in p.allocations})
    today = clock.now().date()
    standings = standings_for(db, invoice_ids, today)
    summaries = []
    for payment in payments:
        lines = tuple(
            AllocationLine(
                invoice=standings[a.invoice_id].invoice,
                amount=Money(a.amount_minor, payment.currency),
                short_pay_reason=a.short_pay_reason,
                balance_after=standings[a.invoice_id].balance,
            )
            for a in payment.allocations
        )
        summaries.append(PaymentSummary(payment, Money(payment.amount_minor, payment.currency), lines))
    return summaries


@dataclass(frozen=True)
class PayPage:
    """What the pay form shows: the chosen invoices that can be paid now, and why others can't."""

    standings: tuple[Standing, ...]
    currency: str | None
    problem: str = ""

    @property
    def total_payable(self) -> Money | None:
        if self.currency is None:
            return None
        total = Money.zero(self.currency)
        for standing in self.standings:
            total = total + standing.payable
        return total

    @property
    def minimum(self) -> Money | None:
        return stripe_minimum(self.currency) if self.currency else None

    @property
    def exponent(self) -> int | None:
        return exponent(self.currency) if self.currency else None


def pay_page(db: Session, clock: Clock, access: Access, public_ids: list[str]) -> PayPage:
    """The invoices chosen on the invoice list; another company's id is NotFound (404)."""
    public_ids = list(dict.fromkeys(public_ids))[:MAX_INVOICES_PER_PAYMENT]
    if not public_ids:
        return PayPage((), None, "Choose at least one invoice to pay.")
    ids = db.scalars(
        select(Invoice.id).where(Invoice.public_id.in_(public_ids), invoice_scope(access))
    ).all()
    if len(ids) != len(public_ids):
        raise NotFound()
    standings = sorted(
        standings_for(db, list(ids), _customer_today(db, clock, access.customer_id)).values(),
        key=lambda s: (s.invoice.due_date, s.invoice.number),
    )
    payable = tuple(s for s in standings if not s.payable.is_zero)
    if not payable:
        return PayPage((), None, "These invoices are paid or already have a payment in progress.")
    currencies = {s.invoice.currency for s in payable}
    if len(currencies) > 1:
        return PayPage(payable, None, "Invoices in different currencies must be paid separately: "
                                      "choose invoices in one currency.")
    return PayPage(payable, currencies.pop())
