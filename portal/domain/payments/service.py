"""Card payments: starting one safely, cancelling one, and applying what Stripe reports.

The money rules (SECURITY.md P1-P5):
- The server computes every amount from the open balances; the browser only proposes
  (invoice, amount, reason) triples, which are checked against what is *payable* (balance
  minus money in flight) under a per-customer lock.
- One charge per request: an attempt row with a fresh idempotency key is committed *before*
  Stripe is called (`commit_before_outside_call`, the one commit the domain makes); repeated
  posts of the same form (same nonce and allocations) find that row through the partial unique
  index `uq_payments_open_request` and reuse its key and intent.
- No transaction is open while Stripe answers: the attempt is claimed (`gateway_call_until`)
  and committed, Stripe is called, then the attempt is locked again and the answer recorded.
  A concurrent post of the same form meanwhile is told "in progress" and retries.
- A payment becomes `succeeded` (and writes ledger entries) only from a verified webhook or from
  reconciliation reading Stripe. What Stripe answers to our own create call moves it at most to
  `processing` / `requires_action`.
- Every status change goes through `PAYMENT_TRANSITIONS`; anything else raises
  `InvalidTransition`.

Every function here leaves its last changes to the caller's single commit (web glue or
command runner).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from portal.domain.access.policy import Access, named_invoices
from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.database import commit_before_outside_call
from portal.domain.core.locales import N_
from portal.domain.core.money import Money, MoneyError, total as money_total
from portal.domain.customers.models import Customer
from portal.domain.gateway.amounts import stripe_minimum, to_stripe_amount
from portal.domain.gateway.protocol import (
    CANCEL_REQUESTED_BY_CUSTOMER, METHOD_US_BANK_ACCOUNT, CardPaymentRequest, MandateAcceptance, GatewayRejected, GatewayUnavailable, GatewayUnusable,
    IntentSnapshot, PaymentDeclined, PaymentGateway,
)
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.queries import standings_for
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.service import post_entry
from portal.domain.ledger.states import EntryKind
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.payments.models import IN_FLIGHT_STATUSES, BankDebit, Payment, PaymentAllocation, PaymentReferenceCounter
from portal.domain.payments.notifications import queue_bank_debit_failed, queue_receipt
from portal.domain.payments.policy import (
    BANK_ACCOUNT, BANK_ACCOUNT_CURRENCIES, DECLINE_WINDOW, DECLINES_BEFORE_PAUSE, PAYMENT_METHODS, BankConsent,
    StoredMandate,
    ach_return_reason, mandate_text, NOT_A_DECLINE_PREFIX, CardPaymentForm, PaymentConflict, PaymentRefused, check_form_shape,
    check_payable, payment_reference, refuse_while_declines_pile_up, request_key,
)
from portal.domain.payments.queries import customer_today, payment_for_access
from portal.domain.payments.states import (
    PAYMENT_TRANSITIONS, STATUS_FOR_INTENT, PaymentStatus, status_after_create,
)

log = logging.getLogger(__name__)

# The web worker's timeout (gunicorn --timeout in the README's production command): no request
# lives longer. One Stripe call with its retries (stripe_adapter.CALL_BUDGET_SECONDS) fits in
# well under half of it.
WEB_WORKER_TIMEOUT = timedelta(seconds=60)
# How long a request may hold its claim on an attempt while Stripe answers: longer than the
# worker may live, so a live call is never doubled, and a killed worker's claim lapses soon.
GATEWAY_CALL_LEASE = WEB_WORKER_TIMEOUT + timedelta(seconds=15)


def move(payment: Payment, target: PaymentStatus | str, now: datetime) -> None:
    """Change a payment's status if the table allows it; raise InvalidTransition otherwise."""
    payment.status = PAYMENT_TRANSITIONS.check(payment.status, target, payment.public_id)
    payment.updated_at = now


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


# --- starting a payment ---------------------------------------------------------------------


def start_card_payment(
    ctx: Context, gateway: PaymentGateway, access: Access, form: CardPaymentForm,
    origin: BankConsent | None = None,
) -> PaymentStart:
    """Create (or find again) the payment attempt for this form and confirm it with Stripe.

    `origin` (where the request came from, and whose mandate words the page showed) is what a
    US bank account payment stores as the customer's acceptance of the debit mandate.

    Raises PaymentRefused (nothing changed) when the request is not payable. Commits once
    before calling Stripe (the attempt, its idempotency key and the claim), never while Stripe
    answers; what Stripe answered is left to the caller's commit.
    """
    check_form_shape(form)
    db, clock = ctx.db, ctx.clock
    lock_customer(db, access.customer_id)
    invoices = _invoices_for(db, access, [a.invoice_public_id for a in form.allocations])
    amounts = _parsed_amounts(form, invoices)
    currency = _single_currency(invoices.values())
    key = request_key(form.nonce, currency, amounts)

    payment = db.scalar(
        select(Payment).where(
            Payment.customer_id == access.customer_id,
            Payment.request_key == key,
            Payment.status.in_(IN_FLIGHT_STATUSES),
        )
    )
    if payment is None:
        payment = _create_attempt(ctx, access, form, invoices, amounts, currency, key)
        if form.method == BANK_ACCOUNT:
            _record_mandate(ctx, payment, origin or BankConsent())
    if payment.stripe_payment_intent_id is not None or payment.status != PaymentStatus.NEW:
        return _start_result(payment)
    now = clock.now()
    if payment.gateway_call_until is not None and payment.gateway_call_until > now:
        return PaymentStart(payment, retry=True, message=N_("This payment is being sent to the card processor."))
    payment.gateway_call_until = now + GATEWAY_CALL_LEASE
    # A retry sends what the first call sent (Stripe refuses a key reused with other parameters).
    payment.payment_token = payment.payment_token or form.payment_token
    payment_id = payment.id
    request = CardPaymentRequest(
        amount=Money(payment.amount_minor, payment.currency), payment_token=payment.payment_token,
        idempotency_key=payment.idempotency_key, reference=payment.public_id,
        metadata={"customer": _customer_reference(db, access.customer_id), "payment_reference": payment.reference},
        mandate=_mandate_of(db, payment),
    )
    commit_before_outside_call(db)

    try:
        answer: IntentSnapshot | Exception = gateway.create_card_intent(request)
    except (PaymentDeclined, GatewayUnavailable, GatewayRejected, GatewayUnusable) as error:
        answer = error

    payment = lock_payment(db, clock, payment_id)
    payment.gateway_call_until = None
    if payment.stripe_payment_intent_id is not None or payment.status != PaymentStatus.NEW:
        return _start_result(payment)  # reconciliation or a webhook recorded it meanwhile
    return _record_create_answer(ctx, gateway, payment, answer)


def _record_create_answer(
    ctx: Context, gateway: PaymentGateway, payment: Payment, answer: IntentSnapshot | Exception,
) -> PaymentStart:
    if isinstance(answer, PaymentDeclined):
        _record_decline(ctx, payment, answer)
        if payment.method == BANK_ACCOUNT:
            payment.failure_message = ach_return_reason(answer.code)
        return PaymentStart(payment, message=payment.failure_message)
    if isinstance(answer, GatewayUnavailable):
        # The attempt stays `new` with its key; a retry reuses both.
        log.warning("payment %s: gateway unavailable: %s", payment.public_id, answer.message)
        return PaymentStart(
            payment, retry=True,
            message=N_("We could not reach the card processor. Nothing was charged twice: please try again."),
        )
    if isinstance(answer, GatewayUnusable):
        # Stripe refused *us* (keys, API version, parameters, limits): staff must act. Not a
        # decline: it never counts toward the card-testing pause.
        log.error("payment %s: Stripe refused the request, card payments need attention: %s",
                  payment.public_id, answer.detail or answer.message)
        _record_decline(ctx, payment, PaymentDeclined(answer.message, code=NOT_A_DECLINE_PREFIX + (answer.code or "unusable")))
        return PaymentStart(payment, message=payment.failure_message)
    if isinstance(answer, GatewayRejected):
        # A token Stripe does not know (made with another publishable key, reused, made up).
        log.warning("payment %s: Stripe refused the card token (if every payment gets this, check that "
                    "STRIPE_PUBLISHABLE_KEY and STRIPE_SECRET_KEY are of one account): %s",
                    payment.public_id, answer.message)
        _record_decline(ctx, payment, PaymentDeclined(answer.message, code=NOT_A_DECLINE_PREFIX + "token"))
        return PaymentStart(payment, message=payment.failure_message)

    snapshot = answer
    mismatch = intent_mismatch(payment, snapshot, gateway.livemode)
    if mismatch:
        # Stripe answered about another amount than we asked: leave the attempt in flight for
        # reconciliation and staff rather than guess.
        log.error("payment %s: create answered a mismatching intent %s: %s", payment.public_id, snapshot.id, mismatch)
        return PaymentStart(payment, retry=False, message=N_("The payment is being checked. Please look at it again later."))

    before = payment.status
    payment.stripe_payment_intent_id = snapshot.id
    payment.client_secret = snapshot.client_secret
    record_card(payment, snapshot)
    record_method(ctx, payment, snapshot)
    target = status_after_create(snapshot.status)
    move(payment, target, ctx.clock.now())
    if target == PaymentStatus.FAILED:
        payment.failure_code = snapshot.failure_code[:80]
        payment.failure_message = snapshot.failure_message or "The card was declined."
        if payment.method == BANK_ACCOUNT:
            payment.failure_message = ach_return_reason(snapshot.failure_code)
    audit.record(ctx.db, ctx.clock, ctx.actor, "payment.confirmed", "payment", payment.public_id,
                 before={"status": before}, after={"status": target, "intent": snapshot.id})
    return _start_result(payment)


def _customer_reference(db: Session, customer_id: int) -> str:
    """The customer's account number, for people reading the Stripe dashboard."""
    return db.scalar(select(Customer.account_number).where(Customer.id == customer_id)) or ""


def _start_result(payment: Payment) -> PaymentStart:
    if payment.status == PaymentStatus.REQUIRES_ACTION and payment.method == BANK_ACCOUNT:
        return PaymentStart(payment)  # microdeposits: the status page shows Stripe's verification page
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        return PaymentStart(payment, client_secret=payment.client_secret)
    if payment.status == PaymentStatus.FAILED:
        return PaymentStart(payment, message=payment.failure_message)
    return PaymentStart(payment)


def _record_decline(ctx: Context, payment: Payment, declined: PaymentDeclined) -> None:
    if declined.intent_id and payment.stripe_payment_intent_id is None:
        owner = ctx.db.scalar(select(Payment.id).where(Payment.stripe_payment_intent_id == declined.intent_id))
        if owner is None:
            payment.stripe_payment_intent_id = declined.intent_id
    move(payment, PaymentStatus.FAILED, ctx.clock.now())
    payment.failure_code = (declined.code or "")[:80]
    payment.failure_message = declined.message
    audit.record(ctx.db, ctx.clock, ctx.actor, "payment.declined", "payment", payment.public_id,
                 before={"status": "new"}, after={"status": "failed", "code": payment.failure_code})


def _invoices_for(db: Session, access: Access, public_ids: list[str]) -> dict[str, Invoice]:
    """The named invoices, within what this access may see; any other id is refused."""
    rows = db.scalars(
        select(Invoice).where(named_invoices(access, public_ids))
    ).all()
    found = {invoice.public_id: invoice for invoice in rows}
    if len(found) != len(set(public_ids)):
        raise PaymentRefused(N_("One of these invoices is not part of your account."))
    return found


def _single_currency(invoices: Iterable[Invoice]) -> str:
    currencies = {invoice.currency for invoice in invoices}
    if len(currencies) != 1:
        raise PaymentRefused(N_("Invoices in different currencies must be paid separately."))
    return currencies.pop()


def _parsed_amounts(form: CardPaymentForm, invoices: dict[str, Invoice]) -> dict[str, Money]:
    amounts: dict[str, Money] = {}
    for allocation in form.allocations:
        invoice = invoices[allocation.invoice_public_id]
        try:
            amount = Money.parse(allocation.amount_text, invoice.currency)
        except MoneyError as exc:
            raise PaymentRefused(N_("Invoice %(number)s: %(problem)s"), number=invoice.number, problem=exc) from None
        if amount.minor <= 0:
            raise PaymentRefused(N_("Invoice %(number)s: enter an amount above zero."), number=invoice.number)
        amounts[invoice.public_id] = amount
    return amounts


def _create_attempt(
    ctx: Context, access: Access, form: CardPaymentForm,
    invoices: dict[str, Invoice], amounts: dict[str, Money], currency: str, key: str,
) -> Payment:
    """Check the amounts against what is payable now and insert the attempt (under the lock)."""
    db, clock = ctx.db, ctx.clock
    refuse_while_declines_pile_up(_recent_declines(db, access, clock.now()), clock.now())
    standings = standings_for(db, [invoice.id for invoice in invoices.values()],
                              customer_today(db, clock, access.customer_id))
    reasons = {a.invoice_public_id: a.reason.strip() for a in form.allocations}
    for public_id, amount in amounts.items():
        check_payable(standings[invoices[public_id].id], amount, reasons[public_id])

    if form.method == BANK_ACCOUNT and currency not in BANK_ACCOUNT_CURRENCIES:
        raise PaymentRefused(N_("Bank account payments are for invoices in US dollars. Pay these by card."))
    total = money_total(list(amounts.values()), currency)
    minimum = stripe_minimum(currency)
    if total < minimum:
        raise PaymentRefused(N_("Card payments must be at least %(amount)s."), amount=minimum)
    try:
        to_stripe_amount(total)  # also refuses more than Stripe's maximum, before Stripe is asked
    except MoneyError as exc:
        raise PaymentRefused(exc.args[0]) from None  # a Text: the refusal keeps its translation

    now = clock.now()
    payment = Payment(
        reference=next_payment_reference(db, now.year),
        customer_id=access.customer_id, contact_id=access.contact_id, link_id=access.link_id, currency=currency,
        amount_minor=total.minor, method=form.method, status=PaymentStatus.NEW, request_key=key,
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
    audit.record(db, clock, ctx.actor, "payment.started", "payment", payment.public_id, after={
        "amount_minor": total.minor, "currency": currency,
        "allocations": {invoices[pid].number: amounts[pid].minor for pid in amounts},
    })
    return payment


def next_payment_reference(db: Session | Connection, year: int) -> str:
    """Take the next reference number of `year` ("PAY-2026-000124") in the caller's transaction.

    One atomic upsert on the year's counter row. The customer lock does not help here: two
    customers pay at once. On PostgreSQL the upsert's row lock makes a concurrent attempt of
    any customer wait until this transaction commits (payment creation commits right after,
    before Stripe is called), then read the committed number and add one; on SQLite writers
    are serialized. A rolled-back attempt gives its number back; the unique index on
    `payments.reference` would refuse a duplicate anyway.
    """
    return take_payment_references(db, year, 1)[0]


def take_payment_references(db: Session | Connection, year: int, count: int) -> list[str]:
    """`count` consecutive references of `year`, taken at once (for bulk loads): the counter
    moves by `count` in one statement, so concurrent takers get disjoint ranges."""
    if count < 1:
        raise ValueError("take at least one reference")
    dialect = db.get_bind().dialect if isinstance(db, Session) else db.dialect
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    counter = PaymentReferenceCounter.__table__
    statement = (
        insert(counter).values(year=year, last_number=count)
        .on_conflict_do_update(index_elements=[counter.c.year],
                               set_={"last_number": counter.c.last_number + count})
        .returning(counter.c.last_number)
    )
    last = db.execute(statement).scalar_one()
    return [payment_reference(year, number) for number in range(last - count + 1, last + 1)]


def _recent_declines(db: Session, access: Access, now: datetime) -> dict[str, list[datetime]]:
    """The newest real declines (see policy.DECLINES_BEFORE_PAUSE) of this customer, this
    contact and this link, newest first."""
    scopes = {"customer": Payment.customer_id == access.customer_id,
              "contact": Payment.contact_id == access.contact_id}
    if access.link_id is not None:
        scopes["link"] = Payment.link_id == access.link_id
    return {scope: list(db.scalars(
        select(Payment.updated_at)
        .where(Payment.customer_id == access.customer_id, where, Payment.status == PaymentStatus.FAILED,
               Payment.failure_code != "", ~Payment.failure_code.startswith(NOT_A_DECLINE_PREFIX),
               Payment.updated_at > now - DECLINE_WINDOW)
        .order_by(Payment.updated_at.desc())
        .limit(DECLINES_BEFORE_PAUSE[scope])
    ).all()) for scope, where in scopes.items()}


# --- locking -----------------------------------------------------------------------------------


def lock_customer(db: Session, customer_id: int) -> None:
    """The portable lock serializing payment creation per customer: a row lock on PostgreSQL
    (SQLite's writing requests hold the database write lock from their first statement)."""
    db.execute(
        update(Customer).where(Customer.id == customer_id)
        .values(payment_lock=Customer.payment_lock + 1)
        .execution_options(synchronize_session=False)
    )


def lock_payment(db: Session, clock, payment_id: int) -> Payment:
    """Lock one payment row (portably, by writing it) and load its committed state.

    Its customer's lock comes first: every path that writes money takes the customer, then a
    payment, then (through the triggers) invoices, so a webhook settling or failing a payment
    and a clerk starting another on the same invoices queue one behind the other instead of
    each holding what the other waits for (a deadlock on PostgreSQL). A payment's customer never
    changes, so reading it before the lock is safe; taking the customer's lock again in the
    same transaction costs nothing."""
    customer_id = db.scalar(select(Payment.customer_id).where(Payment.id == payment_id))
    if customer_id is not None:
        lock_customer(db, customer_id)
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
    ctx: Context, supplier: SupplierDetails, payment: Payment, target: PaymentStatus | str,
    snapshot: IntentSnapshot,
) -> str:
    """Move a (locked) payment to `target` as Stripe reported it; settle on success.

    Returns a short outcome for the event log. Raises InvalidTransition for a move the table
    does not allow (the caller decides whether to re-read Stripe).
    """
    before = payment.status
    if target == before:
        return f"unchanged ({before})"
    move(payment, target, ctx.clock.now())
    record_method(ctx, payment, snapshot)
    if target == PaymentStatus.FAILED:
        payment.failure_code = snapshot.failure_code[:80]
        payment.failure_message = snapshot.failure_message or "The payment failed."
        if payment.method == BANK_ACCOUNT:
            _bank_debit_failed(ctx, supplier, payment, snapshot.failure_code)
    if target == PaymentStatus.SUCCEEDED:
        _settle(ctx, supplier, payment, snapshot)
    audit.record(ctx.db, ctx.clock, ctx.actor, f"payment.{target}", "payment", payment.public_id,
                 before={"status": before}, after={"status": str(target), "intent": snapshot.id})
    return f"{before} -> {target}"


def _settle(ctx: Context, supplier: SupplierDetails, payment: Payment, snapshot: IntentSnapshot) -> None:
    """Write one `payment` ledger entry per allocation and queue the receipt, in the caller's
    transaction. The unique (payment, invoice, kind) constraint refuses a second settlement."""
    now = ctx.clock.now()
    record_card(payment, snapshot)
    # The ledger keeps Stripe's own id (for staff and the ERP export); customers see the
    # payment's reference instead.
    reference = (snapshot.charge_id or snapshot.id)[:120]
    for allocation in payment.allocations:
        post_entry(ctx.db, invoice_id=allocation.invoice_id, kind=EntryKind.PAYMENT,
                   amount_minor=-allocation.amount_minor, payment_id=payment.id, reference=reference, at=now)
    payment.settled_at = now
    queue_receipt(ctx, supplier, payment)


def record_card(payment: Payment, snapshot: IntentSnapshot) -> None:
    """Keep the card's brand and last four from an answer that names them, once: the first
    answer that carries them wins (webhook payloads usually name the method by id only)."""
    if payment.card_last4 or not snapshot.card_last4:
        return
    payment.card_brand = snapshot.card_brand or None
    payment.card_last4 = snapshot.card_last4


# --- US bank account (ACH Direct Debit) ---------------------------------------------------------
# A debit is `processing` for up to 4 business days: it reserves its amounts like any payment
# in flight (P3) and settles only on Stripe's `succeeded` (P10). A bank account verified by
# microdeposits waits in `requires_action` with Stripe's verification page: nothing is debited
# before (P12), and reconciliation leaves it alone. A failure, or a return after settlement
# (`record_bank_return`), tells the customer what the bank said, tells staff and marks the
# account unusable (P11).


def _record_mandate(ctx: Context, payment: Payment, origin: BankConsent) -> None:
    ctx.db.add(BankDebit(
        payment_id=payment.id, contact_id=payment.contact_id, mandate_text=mandate_text(origin.supplier_name, origin.language),
        accepted_at=ctx.clock.now(), ip=origin.ip[:64], user_agent=origin.user_agent[:500], return_code="",
    ))
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "payment.mandate_accepted", "payment", payment.public_id,
                 after={"ip": origin.ip[:64]})


def bank_debit_of(db: Session, payment: Payment) -> BankDebit | None:
    return db.get(BankDebit, payment.id)


def _mandate_of(db: Session, payment: Payment) -> MandateAcceptance | None:
    debit = bank_debit_of(db, payment) if payment.method == BANK_ACCOUNT else None
    if debit is None:
        return None
    return MandateAcceptance(accepted_at=debit.accepted_at, ip=debit.ip, user_agent=debit.user_agent)


def record_method(ctx: Context, payment: Payment, snapshot: IntentSnapshot) -> None:
    """Keep what Stripe says was paid with (its word beats the page's), and a bank account's
    microdeposit verification page while it waits for it."""
    if snapshot.method_type in PAYMENT_METHODS and snapshot.method_type != payment.method:
        payment.method = snapshot.method_type
    if payment.method != METHOD_US_BANK_ACCOUNT:
        return
    debit = bank_debit_of(ctx.db, payment)
    if debit is None:  # the Payment Element collected the mandate itself: keep what we know
        debit = BankDebit(payment_id=payment.id, contact_id=payment.contact_id, mandate_text="",
                          accepted_at=payment.created_at, ip="", user_agent="", return_code="")
        ctx.db.add(debit)
    if snapshot.waits_for_microdeposits and snapshot.verification_url.startswith("https://"):
        debit.verification_url = snapshot.verification_url


def _bank_debit_failed(ctx: Context, supplier: SupplierDetails, payment: Payment, code: str) -> None:
    """The debit failed before it settled (nothing was posted): its amounts are released by the
    status change alone."""
    debit = bank_debit_of(ctx.db, payment)
    payment.failure_message = ach_return_reason(code)
    if debit is not None:
        debit.return_code = (code or "")[:80]
        debit.unusable_at = debit.unusable_at or ctx.clock.now()
    queue_bank_debit_failed(ctx, supplier, payment, payment.failure_message, returned=False)


def record_bank_return(ctx: Context, supplier: SupplierDetails, payment: Payment, code: str, reference: str) -> str:
    """A settled ACH debit the bank returned (Stripe reports it as a dispute on the charge): the
    settlement is reversed with `payment_reversal` entries (the money never stayed with us: no
    chargeback case, nothing to contest), once. The payment stays `succeeded` at Stripe's word;
    `BankDebit.returned_at` says it was returned."""
    db, now = ctx.db, ctx.clock.now()
    debit = bank_debit_of(db, payment)
    if debit is None:
        debit = BankDebit(payment_id=payment.id, contact_id=payment.contact_id, mandate_text="",
                          accepted_at=payment.created_at, ip="", user_agent="", return_code="")
        db.add(debit)
    if debit.returned_at is not None:
        return "unchanged (already returned)"
    entries = db.execute(select(InvoiceEntry.invoice_id, InvoiceEntry.kind, InvoiceEntry.amount_minor).where(
        InvoiceEntry.payment_id == payment.id)).all()
    paid: dict[int, int] = {}
    for invoice_id, kind, minor in entries:
        if kind in (EntryKind.PAYMENT, EntryKind.PAYMENT_REVERSAL, EntryKind.REFUND):
            paid[invoice_id] = paid.get(invoice_id, 0) - minor
    for allocation in payment.allocations:
        still = paid.get(allocation.invoice_id, 0)
        if still > 0:
            post_entry(db, invoice_id=allocation.invoice_id, kind=EntryKind.PAYMENT_REVERSAL, amount_minor=still,
                       payment_id=payment.id, reference=reference[:120], at=now)
    debit.return_code = (code or "")[:80]
    debit.returned_at = now
    debit.unusable_at = debit.unusable_at or now
    payment.failure_code = (code or "")[:80]
    payment.failure_message = ach_return_reason(code)
    payment.updated_at = now
    audit.record(db, ctx.clock, ctx.actor, "payment.returned", "payment", payment.public_id,
                 after={"code": debit.return_code, "reference": reference[:120]})
    queue_bank_debit_failed(ctx, supplier, payment, payment.failure_message, returned=True)
    return "bank debit returned: settlement reversed"


def cancel_card_payment(
    ctx: Context, gateway: PaymentGateway, access: Access, supplier: SupplierDetails, public_id: str,
) -> Payment:
    """Cancel an attempt whose 3-D Secure step failed or was abandoned, releasing its amounts.

    Stripe decides: if the intent can no longer be canceled (it is already processing or
    paid), nothing changes here and the webhook settles it.
    """
    db = ctx.db
    payment = payment_for_access(db, access, public_id)
    payment = lock_payment(db, ctx.clock, payment.id)
    if payment.status != PaymentStatus.REQUIRES_ACTION or not payment.stripe_payment_intent_id:
        raise PaymentConflict(N_("This payment can no longer be canceled."))
    payment_id, intent_id = payment.id, payment.stripe_payment_intent_id
    commit_before_outside_call(db)
    try:
        snapshot = gateway.cancel_intent(intent_id, CANCEL_REQUESTED_BY_CUSTOMER)
    except (GatewayRejected, GatewayUnavailable, GatewayUnusable) as exc:
        log.info("payment %s: cancel refused by the gateway: %s", public_id, exc.message)
        raise PaymentConflict(N_("This payment is already being processed and cannot be canceled.")) from None
    payment = lock_payment(db, ctx.clock, payment_id)
    target = STATUS_FOR_INTENT.get(snapshot.status)
    if (target in (PaymentStatus.CANCELED, PaymentStatus.FAILED)
            and PAYMENT_TRANSITIONS.can_move(payment.status, target)
            and not intent_mismatch(payment, snapshot, gateway.livemode)):
        apply_gateway_status(ctx, supplier, payment, target, snapshot)
    return payment


# --- payments other areas start (installment plans) -------------------------------------------


def create_scheduled_payment(
    ctx: Context, *, customer_id: int, contact_id: int | None, currency: str,
    pieces: list[tuple[int, int]], request_key: str, memo: str, mandate: StoredMandate | None = None,
) -> Payment:
    """A card payment attempt (status `new`, a fresh idempotency key) that another area
    charges off-session: `pieces` are (invoice id, minor units). The caller has checked the
    amounts against what is payable, under `lock_customer`. It settles like every payment,
    from the webhook or reconciliation (`apply_gateway_status`).

    With `mandate` it is a US bank account debit under the mandate the customer accepted when
    the account was saved: its `BankDebit` keeps those words, and it follows the ACH path
    (processing until Stripe says succeeded; a failure or a return reverses and tells)."""
    now = ctx.clock.now()
    amount = sum(minor for _, minor in pieces)
    payment = Payment(
        reference=next_payment_reference(ctx.db, now.year), customer_id=customer_id, contact_id=contact_id,
        link_id=None, currency=currency, amount_minor=amount,
        method=BANK_ACCOUNT if mandate is not None else "card", status=PaymentStatus.NEW,
        request_key=request_key, idempotency_key=secrets.token_hex(32), po_number="", memo=memo[:500],
        failure_code="", failure_message="", created_at=now, updated_at=now,
    )
    ctx.db.add(payment)
    ctx.db.flush()
    if mandate is not None:
        ctx.db.add(BankDebit(payment_id=payment.id, contact_id=contact_id, mandate_text=mandate.text,
                             accepted_at=mandate.accepted_at, ip=mandate.ip[:64], user_agent=mandate.user_agent[:500],
                             return_code=""))
    for invoice_id, minor in pieces:
        ctx.db.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice_id, amount_minor=minor,
                                     short_pay_reason="installment"))
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "payment.started", "payment", payment.public_id,
                 after={"amount_minor": amount, "currency": currency, "scheduled": memo[:120]})
    return payment


def record_charge_answer(
    ctx: Context, gateway, payment: Payment, answer: IntentSnapshot | Exception,
) -> PaymentStart:
    """Record what Stripe answered to a charge of a (locked, `new`) attempt, as for a card
    payment started on the pay page: never `succeeded` here (that waits for the webhook)."""
    return _record_create_answer(ctx, gateway, payment, answer)


# --- money received outside Stripe ------------------------------------------------------------


def record_offline_payment(
    ctx: Context, *, customer_id: int, currency: str, method: str, allocations: list[tuple[int, int]],
    bank_reference: str, contact_id: int | None = None, memo: str = "", request_key: str,
) -> Payment:
    """Record money received outside Stripe (a wire, a check, an ACH credit the customer sent)
    as a settled payment: the attempt row with its `PAY-YYYY-NNNNNN` reference, its allocations
    and one `payment` ledger entry each, so it is a payment like any other on every page, in
    the history, the exports and the maintained balances.

    `allocations` are `(invoice id, amount minor)` the caller checked against what is payable
    under the customer's lock (`lock_customer`, taken here again). The row is written already
    `succeeded`: nothing is in flight, so the in-flight triggers leave it alone. `request_key`
    names what it was recorded for ("followup:<public id>"); the caller makes sure it records
    it once (a follow-up is resolved in the same transaction). The caller commits.
    """
    if not allocations or any(amount <= 0 for _, amount in allocations):
        raise PaymentRefused("A payment received needs a positive amount on at least one invoice.")
    if not method.startswith("offline_"):
        raise ValueError("money received outside Stripe has an offline_ method")
    db, now = ctx.db, ctx.clock.now()
    lock_customer(db, customer_id)
    total = sum(amount for _, amount in allocations)
    payment = Payment(
        reference=next_payment_reference(db, now.year), customer_id=customer_id, contact_id=contact_id, link_id=None,
        currency=currency, amount_minor=total, method=method, status=PaymentStatus.SUCCEEDED, request_key=request_key,
        idempotency_key=secrets.token_hex(32), po_number="", memo=memo[:500], failure_code="", failure_message="",
        created_at=now, updated_at=now, settled_at=now,
    )
    db.add(payment)
    db.flush()
    for invoice_id, amount in sorted(allocations):
        db.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice_id, amount_minor=amount,
                                 short_pay_reason=""))
    db.flush()
    for invoice_id, amount in sorted(allocations):
        post_entry(db, invoice_id=invoice_id, kind=EntryKind.PAYMENT, amount_minor=-amount, payment_id=payment.id,
                   reference=bank_reference[:120], at=now)
    audit.record(db, ctx.clock, ctx.actor, "payment.recorded_offline", "payment", payment.public_id, after={
        "amount_minor": total, "currency": currency, "method": method, "bank_reference": bank_reference[:120],
        "allocations": dict((str(invoice_id), amount) for invoice_id, amount in sorted(allocations)),
    })
    return payment
