"""Saving a card or a US bank account for later off-session charges, choosing the default,
removing one.

How a method is saved:
1. `start_setup`: the company's Stripe Customer is found or created (`ensure_stripe_customer`),
   a setup row holding the consent (the words shown, and the ACH mandate when a bank account
   is offered; who, when, IP, user agent) and a fresh idempotency key is committed, then a
   SetupIntent (usage off_session) is created for it.
2. The browser confirms the SetupIntent with Stripe.js (card and bank data never reach us).
3. `complete_setup`: the browser only says "done"; the SetupIntent is read back from Stripe
   and checked (ours, this customer's, succeeded or waiting for microdeposits, a card or bank
   account on it) before the method is recorded. A bank account waiting for microdeposits is
   recorded as pending verification and cannot be charged nor made the default (P12).
4. `apply_setup_event`: Stripe's `setup_intent.*` webhooks, with the SetupIntent read back,
   verify (or fail) a pending bank account, and record a method whose browser never came back.

No transaction is open while Stripe answers (`commit_before_outside_call`): what must survive
is committed first, then the answer is recorded under the customer lock. Every function leaves
its last changes to the caller's single commit.
"""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.domain.access.policy import Access
from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.database import commit_before_outside_call
from portal.domain.core.locales import N_
from portal.domain.customers.models import Customer
from portal.domain.gateway.protocol import CustomerRequest, GatewayError, MethodGateway, SetupRequest, SetupSnapshot
from portal.domain.methods.models import MethodSetup, SavedMethod, StripeCustomer
from portal.domain.methods.policy import (
    BANK_METHOD, CARD_METHOD, SETUP_WINDOW, MethodRefused, customer_key, describe_method, refuse_too_many_setups,
    THE_DEFAULT, refuse_unverified, require_whole_account,
)
from portal.domain.methods.states import VERIFICATION_TRANSITIONS, Verification, verification_for_setup
from portal.domain.methods.queries import method_for_access, setup_for_access
from portal.domain.payments.service import lock_customer

log = logging.getLogger(__name__)

UNAVAILABLE = N_("Payment methods cannot be saved right now. Nothing was saved: please try again later.")
NOT_SAVED = N_("The payment method was not saved. Nothing was charged: please try again.")


def ensure_stripe_customer(ctx: Context, gateway: MethodGateway, customer_id: int) -> str:
    """The Stripe Customer id of a portal customer, created on first use.

    Concurrent first uses send the same idempotency key (derived from our customer id), so
    Stripe answers both with one Customer; the first to record it wins and the other reads it
    under the customer lock. Commits before calling Stripe when it must create.
    """
    db = ctx.db
    known = _stripe_customer_id(db, customer_id)
    if known:
        return known
    customer = db.get(Customer, customer_id)
    request_args = {"reference": customer.public_id, "name": customer.name, "account_number": customer.account_number}
    commit_before_outside_call(db)
    try:
        stripe_id = gateway.create_customer(CustomerRequest(**request_args, idempotency_key=customer_key(customer.public_id)))
    except GatewayError as exc:
        log.warning("customer %s: Stripe Customer not created: %s", customer.public_id, exc.message)
        raise MethodRefused(UNAVAILABLE) from None
    lock_customer(db, customer_id)
    known = _stripe_customer_id(db, customer_id)
    if known:
        return known  # a concurrent request recorded it meanwhile
    db.add(StripeCustomer(customer_id=customer_id, stripe_customer_id=stripe_id, created_at=ctx.clock.now()))
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "stripe_customer.created", "customer", customer.public_id,
                 after={"stripe_customer": stripe_id})
    return stripe_id


def _stripe_customer_id(db: Session, customer_id: int) -> str | None:
    return db.scalar(select(StripeCustomer.stripe_customer_id).where(StripeCustomer.customer_id == customer_id))


def start_setup(ctx: Context, gateway: MethodGateway, access: Access | None, consent: str, user_agent: str,
                mandate: str | None = None) -> MethodSetup:
    """Record the contact's consent and create the SetupIntent the browser will confirm. With
    `mandate` (the ACH mandate words shown too), a US bank account may be saved as well."""
    access = require_whole_account(access)
    refuse_too_many_setups(ctx.db.scalar(select(func.count()).select_from(MethodSetup).where(
        MethodSetup.customer_id == access.customer_id, MethodSetup.created_at > ctx.clock.now() - SETUP_WINDOW,
    )))
    stripe_customer_id = ensure_stripe_customer(ctx, gateway, access.customer_id)
    db = ctx.db
    setup = MethodSetup(
        customer_id=access.customer_id, contact_id=access.contact_id, idempotency_key=secrets.token_hex(32),
        consent_text=consent, mandate_text=mandate, ip=ctx.actor.ip[:64], user_agent=user_agent[:500], created_at=ctx.clock.now(),
    )
    db.add(setup)
    db.flush()
    setup_id = setup.id
    request = SetupRequest(stripe_customer_id=stripe_customer_id, idempotency_key=setup.idempotency_key,
                           reference=setup.public_id, bank_accounts=mandate is not None)
    commit_before_outside_call(db)
    try:
        snapshot = gateway.create_setup_intent(request)
    except GatewayError as exc:
        log.warning("setup %s: SetupIntent not created: %s", request.reference, exc.message)
        raise MethodRefused(UNAVAILABLE) from None
    setup = db.get(MethodSetup, setup_id, populate_existing=True)
    setup.stripe_setup_intent_id = snapshot.id
    setup.client_secret = snapshot.client_secret
    audit.record(db, ctx.clock, ctx.actor, "method_setup.started", "method_setup", setup.public_id,
                 after={"setup_intent": snapshot.id})
    return setup


def _refusal(setup: MethodSetup, stripe_customer_id: str | None, snapshot: SetupSnapshot, livemode: bool) -> str:
    """Why this SetupIntent cannot be recorded as this setup's saved method ("" when it can)."""
    if snapshot.id != setup.stripe_setup_intent_id or snapshot.reference not in (None, setup.public_id):
        return "not this setup's SetupIntent"
    if snapshot.stripe_customer_id != stripe_customer_id:
        return "the SetupIntent is for another Stripe Customer"
    if snapshot.livemode != livemode:
        return f"livemode {snapshot.livemode} where {livemode} expected"
    verification = verification_for_setup(snapshot)
    if verification not in (Verification.VERIFIED, Verification.PENDING):
        return f"status {snapshot.status}"
    if not snapshot.payment_method_id:
        return "no payment method on the SetupIntent"
    bank = snapshot.bank_account
    if bank is not None and bank.last4:
        if setup.mandate_text is None:
            return "a bank account on a setup whose page showed no mandate"
        return ""
    if verification == Verification.PENDING:
        return "waiting for microdeposits, but no bank account on the SetupIntent"
    if snapshot.card is None or not snapshot.card.last4:
        return "neither a card nor a bank account on the SetupIntent"
    return ""


def complete_setup(ctx: Context, gateway: MethodGateway, access: Access | None, setup_public_id: str) -> SavedMethod:
    """Record the method of a setup the browser says it confirmed, after reading it from Stripe.

    Repeating it (a reload, a second tab, the webhook first) returns the method already
    recorded: one row per Stripe PaymentMethod. The first verified method a company saves
    becomes its default; a bank account waiting for microdeposits is recorded as pending.
    """
    db = ctx.db
    setup = setup_for_access(db, access, setup_public_id)
    existing = db.scalar(select(SavedMethod).where(SavedMethod.setup_id == setup.id))
    if existing is not None:
        return existing
    if not setup.stripe_setup_intent_id:
        raise MethodRefused(N_("This payment method was not sent to our payment processor. Please add it again."))
    setup_id, intent_id = setup.id, setup.stripe_setup_intent_id
    stripe_customer_id = _stripe_customer_id(db, setup.customer_id)
    had_default = _default_method(db, setup.customer_id) is not None
    commit_before_outside_call(db)
    try:
        snapshot = gateway.read_completed_setup(intent_id)
    except GatewayError as exc:
        log.warning("setup %s: SetupIntent not read: %s", setup_public_id, exc.message)
        raise MethodRefused(UNAVAILABLE) from None
    refusal = _refusal(setup, stripe_customer_id, snapshot, gateway.livemode)
    if refusal:
        log.info("setup %s: not recorded: %s", setup_public_id, refusal)
        raise MethodRefused(snapshot.failure_message or NOT_SAVED)
    if not had_default and verification_for_setup(snapshot) == Verification.VERIFIED:
        _tell_stripe_the_default(gateway, stripe_customer_id, snapshot.payment_method_id)

    lock_customer(db, setup.customer_id)
    setup = db.get(MethodSetup, setup_id, populate_existing=True)
    recorded = db.scalar(select(SavedMethod).where(SavedMethod.stripe_payment_method_id == snapshot.payment_method_id))
    if recorded is not None:
        if recorded.customer_id != setup.customer_id:
            raise MethodRefused(NOT_SAVED)
        return recorded  # a concurrent completion (or the webhook) recorded it meanwhile
    return _record_method(ctx, setup, snapshot)


def _record_method(ctx: Context, setup: MethodSetup, snapshot: SetupSnapshot) -> SavedMethod:
    """The saved method row for a checked SetupIntent (`_refusal` said ""), customer locked."""
    db, now = ctx.db, ctx.clock.now()
    verification = verification_for_setup(snapshot)
    verified = verification == Verification.VERIFIED
    fields: dict = dict(
        customer_id=setup.customer_id, setup_id=setup.id, stripe_payment_method_id=snapshot.payment_method_id,
        verification_status=str(verification), verified_at=now if verified else None,
        is_default=verified and _default_method(db, setup.customer_id) is None,
        saved_by_contact_id=setup.contact_id, saved_at=now, ip=setup.ip, user_agent=setup.user_agent,
    )
    bank, card = snapshot.bank_account, snapshot.card
    if bank is not None and bank.last4:
        fields.update(method_type=BANK_METHOD, bank_name=bank.bank_name, account_type=bank.account_type,
                      last4=bank.last4, consent_text=setup.mandate_text, stripe_mandate_id=snapshot.mandate_id,
                      mandate_accepted_at=setup.created_at)
    else:
        fields.update(method_type=CARD_METHOD, brand=card.brand, last4=card.last4, exp_month=card.exp_month,
                      exp_year=card.exp_year, consent_text=setup.consent_text)
    method = SavedMethod(**fields)
    db.add(method)
    setup.completed_at = now
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "method.saved", "saved_method", method.public_id,
                 after={"payment_method": method.stripe_payment_method_id, "method": str(describe_method(method)),
                        "verification": method.verification_status, "default": method.is_default,
                        "setup": setup.public_id})
    return method


# The SetupIntent events we follow, read back from Stripe before they are applied.
SETUP_EVENT_TYPES = ("setup_intent.succeeded", "setup_intent.setup_failed", "setup_intent.requires_action",
                     "setup_intent.canceled")


def setup_id_for_intent(ctx: Context, setup_intent_id: str) -> int | None:
    """Our setup for a SetupIntent id we stored (None for anyone else's)."""
    return ctx.db.scalar(select(MethodSetup.id).where(MethodSetup.stripe_setup_intent_id == setup_intent_id))


def apply_setup_event(ctx: Context, livemode: bool, setup_id: int, current: SetupSnapshot) -> str:
    """Apply Stripe's current view of one of our SetupIntents (read back after a webhook):
    record the method a browser never reported, verify or fail a pending bank account.
    States only move forward (`VERIFICATION_TRANSITIONS`), so a late or repeated event changes
    nothing. The outcome says what happened."""
    db = ctx.db
    setup = db.get(MethodSetup, setup_id)
    lock_customer(db, setup.customer_id)
    setup = db.get(MethodSetup, setup_id, populate_existing=True)
    method = db.scalar(select(SavedMethod).where(SavedMethod.setup_id == setup.id))
    verification = verification_for_setup(current)
    if method is None:
        method = db.scalar(select(SavedMethod).where(SavedMethod.stripe_payment_method_id == current.payment_method_id))
        if method is not None and method.customer_id != setup.customer_id:
            return "ignored: the payment method is another customer's"
    if method is None:
        refusal = _refusal(setup, _stripe_customer_id(db, setup.customer_id), current, livemode)
        if refusal:
            return f"ignored: setup {setup.public_id} not recorded: {refusal}"[:200]
        method = _record_method(ctx, setup, current)
        return f"method {method.public_id} recorded from the webhook ({method.verification_status})"
    if verification is None or verification == method.verification_status:
        return f"ignored: method {method.public_id} is already {method.verification_status}"
    if not VERIFICATION_TRANSITIONS.can_move(method.verification_status, verification):
        return f"ignored: method {method.public_id} is {method.verification_status}, Stripe says {current.status}"
    before = method.verification_status
    method.verification_status = str(VERIFICATION_TRANSITIONS.check(before, verification, method.public_id))
    if verification == Verification.VERIFIED:
        method.verified_at = ctx.clock.now()
        if method.removed_at is None and _default_method(db, method.customer_id) is None:
            method.is_default = True
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "method.verification", "saved_method", method.public_id,
                 before={"verification": before},
                 after={"verification": method.verification_status, "default": method.is_default})
    return f"method {method.public_id} {before} -> {method.verification_status}"


def mark_refused_by_bank(ctx: Context, method_id: int, code: str) -> bool:
    """A debit on this verified bank account failed or was returned: its mandate is unusable
    (SECURITY.md P11). It stops being the default and is never charged again; the customer
    saves another method. Returns True when it changed (once)."""
    db = ctx.db
    method = db.get(SavedMethod, method_id)
    if method is None or not VERIFICATION_TRANSITIONS.can_move(method.verification_status, Verification.FAILED):
        return False
    before, was_default = method.verification_status, method.is_default
    method.is_default = False
    method.verification_status = str(Verification.FAILED)
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "method.refused_by_bank", "saved_method", method.public_id,
                 before={"verification": before, "default": was_default},
                 after={"verification": method.verification_status, "code": (code or "")[:80]})
    return True


def _default_method(db: Session, customer_id: int) -> SavedMethod | None:
    return db.scalar(select(SavedMethod).where(
        SavedMethod.customer_id == customer_id, SavedMethod.is_default.is_(True), SavedMethod.removed_at.is_(None),
    ))


def _tell_stripe_the_default(gateway: MethodGateway, stripe_customer_id: str, payment_method_id: str) -> None:
    """Mirror our default on the Customer for people reading the Stripe Dashboard. Ours is the
    one that counts (autopay reads it), so a failure here is logged, not refused."""
    try:
        gateway.set_default_payment_method(stripe_customer_id, payment_method_id)
    except GatewayError as exc:
        log.warning("Stripe Customer %s: default payment method not set: %s", stripe_customer_id, exc.message)


def set_default_method(ctx: Context, gateway: MethodGateway, access: Access | None, public_id: str) -> SavedMethod:
    """Make one saved, verified method the company's default."""
    db = ctx.db
    method = method_for_access(db, access, public_id)
    if method.is_default:
        return method
    refuse_unverified(method.verification_status, THE_DEFAULT)
    method_id, customer_id, pm_id = method.id, method.customer_id, method.stripe_payment_method_id
    stripe_customer_id = _stripe_customer_id(db, customer_id)
    commit_before_outside_call(db)
    if stripe_customer_id:
        _tell_stripe_the_default(gateway, stripe_customer_id, pm_id)
    lock_customer(db, customer_id)
    method = db.get(SavedMethod, method_id, populate_existing=True)
    if method.removed_at is not None:
        raise MethodRefused(N_("This payment method was removed meanwhile."))
    before = _default_method(db, customer_id)
    # Clear first, then set: the partial unique index allows one default at any moment.
    db.execute(update(SavedMethod).where(SavedMethod.customer_id == customer_id, SavedMethod.is_default.is_(True))
               .values(is_default=False).execution_options(synchronize_session=False))
    db.flush()
    method.is_default = True
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "method.default", "saved_method", method.public_id,
                 before={"default": before.public_id if before is not None else None},
                 after={"default": method.public_id})
    return method


def remove_method(ctx: Context, gateway: MethodGateway, access: Access | None, public_id: str) -> SavedMethod:
    """Detach the method at Stripe, then mark it removed. A removed default leaves the company
    without one until someone chooses: autopay never moves to another method on its own."""
    db = ctx.db
    method = method_for_access(db, access, public_id)
    method_id, pm_id = method.id, method.stripe_payment_method_id
    contact_id = require_whole_account(access).contact_id
    commit_before_outside_call(db)
    try:
        gateway.detach_payment_method(pm_id)
    except GatewayError as exc:
        log.warning("saved method %s: not detached: %s", public_id, exc.message)
        raise MethodRefused(N_("The payment method could not be removed right now. Please try again later.")) from None
    lock_customer(db, method.customer_id)
    method = db.get(SavedMethod, method_id, populate_existing=True)
    if method.removed_at is None:
        was_default = method.is_default
        method.removed_at = ctx.clock.now()
        method.removed_by_contact_id = contact_id
        method.is_default = False
        db.flush()
        audit.record(db, ctx.clock, ctx.actor, "method.removed", "saved_method", method.public_id,
                     before={"default": was_default}, after={"removed": True})
    return method
