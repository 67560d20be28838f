"""The Stripe adapter: the one module in the project that imports the `stripe` SDK.

It turns SDK objects and exceptions into the plain types of `protocol.py`, and verifies webhook
signatures. One API version is pinned here (`STRIPE_API_VERSION`) and sent on every request.

Two dialects, chosen once from `STRIPE_DIALECT` (never from the API address, which may be a
proxy or a recorder): `RealStripe` (api.stripe.com; the page's Payment Element makes a
ConfirmationToken) and `LocalStripe` (the offline stand-in; the page's card element makes a
card token). Each is one small class below: how a payment is confirmed, how retries are
made, how recent intents are listed. Everything else is shared.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import stripe

from portal.domain.core.money import MoneyError
from portal.domain.gateway.amounts import stripe_maximum, stripe_minimum, to_stripe_amount
from portal.domain.gateway.protocol import (
    CARD_TOKEN_PREFIX, CONFIRMATION_TOKEN_PREFIX, REFUND_REQUESTED_BY_CUSTOMER, BankAccountDetails, CardDetails,
    CardPaymentRequest,
    CustomerRequest, DisputeSnapshot, GatewayRejected, GatewayUnavailable, GatewayUnusable, IntentNotFound,
    IntentSnapshot, MandateAcceptance, METHOD_US_BANK_ACCOUNT, NEXT_ACTION_MICRODEPOSITS, OffSessionChargeRequest,
    PaymentDeclined, RefundNotFound, RefundRequest, RefundSnapshot, SetupNotFound, SetupRequest,
    SetupSnapshot, WebhookEvent, WebhookRejected,
)

log = logging.getLogger(__name__)

# The Stripe API version every request names (Stripe-Version header), and the version the
# webhook endpoint must be created with (README). Changing it is a migration: read Stripe's
# changelog, then run the `stripe_contract` tests, which check our requests against the
# parameter types the installed SDK generates for its own pinned version.
STRIPE_API_VERSION = "2026-10-28.endive"
# The metadata key naming our payment on its PaymentIntent. Used only to *find* an intent
# whose id we failed to store (a timeout); we never apply money because metadata says so.
REFERENCE_KEY = "portal_payment"
# The metadata keys naming our customer on its Stripe Customer, and our setup on its SetupIntent.
CUSTOMER_KEY = "portal_customer"
SETUP_KEY = "portal_setup"
# The metadata key naming our refund on its Stripe Refund (found again by it, never trusted).
REFUND_REFERENCE_KEY = "portal_refund"
SIGNATURE_SCHEME = "v1"
# A US bank account (USD only; Payment Element, dynamic payment methods): verified instantly
# through Financial Connections where the bank allows it, by microdeposits otherwise. We only
# ask for what debiting needs (the `payment_method` permission).
US_BANK_ACCOUNT_OPTIONS = {
    "verification_method": "automatic",
    "financial_connections": {"permissions": ["payment_method"]},
}
# What a setup may save besides a bank account (which the real dialect adds when offered).
SETUP_METHOD_TYPES = ("card",)
# Asked for on every intent we create or read: the payment method as an object rather than an
# id, so the answer names the card (brand and last four) for the receipt.
EXPAND_INTENT = ["payment_method"]
# The same for a SetupIntent read back after the browser confirmed it: the card saved.
EXPAND_SETUP = ["payment_method"]
# One HTTP attempt gives up after this long without an answer (connect, or between bytes).
REQUEST_TIMEOUT_SECONDS = 6
# Retries the SDK makes after a network failure or a 409/429/5xx, with the same Idempotency-Key.
MAX_NETWORK_RETRIES = 2
# The SDK sleeps at most this long between two attempts (stripe._http_client.HTTPClient.MAX_DELAY).
MAX_RETRY_DELAY_SECONDS = 5
# The longest one Stripe call can take, retries included: kept well inside the web worker's
# timeout (payments.service.WEB_WORKER_TIMEOUT, gunicorn --timeout in the README).
CALL_BUDGET_SECONDS = (MAX_NETWORK_RETRIES + 1) * REQUEST_TIMEOUT_SECONDS + MAX_NETWORK_RETRIES * MAX_RETRY_DELAY_SECONDS
# Shown when Stripe refuses us rather than the card (keys, API version, parameters).
UNAVAILABLE_MESSAGE = "Card payments are unavailable right now. Nothing was charged. Please try again later or write to us."


class RealStripe:
    """api.stripe.com. The page's Payment Element (deferred-intent mode) makes a
    ConfirmationToken; we create and confirm the PaymentIntent with it; 3-D Secure runs in the
    page through `stripe.handleNextAction`.

    Payment methods are dynamic (the ones enabled in the Dashboard that fit the amount and
    currency): `payment_method_types` is not writable on this API version. Redirects are
    allowed, so a payment method that sends the customer to their bank brings them back to the
    payment's status page (`return_url`), which waits for the webhook like every other payment.
    A USD intent also carries the US bank account options (`US_BANK_ACCOUNT_OPTIONS`), and a
    bank account payment the mandate the customer accepted on our page (`mandate_data`).
    """

    name = "real"
    saves_bank_accounts = True
    calls_per_payment = 1
    network_retries = MAX_NETWORK_RETRIES

    def __init__(self, public_url: str) -> None:
        self._public_url = public_url.rstrip("/")

    def confirmation_params(self, client: stripe.StripeClient, request: CardPaymentRequest) -> dict:
        if not request.payment_token.startswith(CONFIRMATION_TOKEN_PREFIX):
            raise GatewayRejected("Enter your card details again: this page needs reloading.")
        params = {
            "confirmation_token": request.payment_token,
            "automatic_payment_methods": {"enabled": True},
            "return_url": f"{self._public_url}/payments/{request.reference}",
        }
        if request.amount.currency == "USD":
            params["payment_method_options"] = {METHOD_US_BANK_ACCOUNT: US_BANK_ACCOUNT_OPTIONS}
        if request.mandate is not None:
            params["mandate_data"] = mandate_data(request.mandate)
        return params

    def recent_intents_params(self, created_after: datetime) -> dict:
        return {"limit": 100, "created": {"gte": int(created_after.timestamp())}}

    def cancel_params(self, reason: str) -> dict:
        return {"cancellation_reason": reason}

    def setup_params(self, request: SetupRequest) -> dict:
        # Dynamic payment methods, none that redirects: the page confirms in place
        # (stripe.confirmSetup with redirect "if_required") and reports back itself. When a
        # bank account is offered, only the types we can charge later are allowed
        # (`payment_method_types` is not writable on this API version); the account is
        # verified through Financial Connections where the bank allows it, by microdeposits
        # otherwise.
        params: dict = {"automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}}
        if request.bank_accounts:
            params["allowed_payment_method_types"] = [*SETUP_METHOD_TYPES, METHOD_US_BANK_ACCOUNT]
            params["payment_method_options"] = {METHOD_US_BANK_ACCOUNT: US_BANK_ACCOUNT_OPTIONS}
        return params

    def attach_after_setup(self, client: stripe.StripeClient, setup: dict) -> None:
        """Stripe attaches a SetupIntent's PaymentMethod to its Customer on success."""

    def refund_params(self) -> dict:
        return {"reason": REFUND_REQUESTED_BY_CUSTOMER}

    def off_session_params(self) -> dict:
        # No customer to follow a redirect: only payment methods that never redirect.
        return {"automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}}


class LocalStripe:
    """localstripe: its Stripe.js has only a card element, so the page sends a card token; the
    token's card is the intent's `payment_method` (localstripe refuses confirmation tokens,
    `automatic_payment_methods` and `return_url`); 3-D Secure runs through
    `stripe.confirmCardPayment`. It ignores Idempotency-Key, so the SDK never retries there; it
    cannot filter lists by date (its store only holds one run's data) and refuses
    `cancellation_reason`."""

    name = "localstripe"
    saves_bank_accounts = False
    calls_per_payment = 2
    network_retries = 0

    def confirmation_params(self, client: stripe.StripeClient, request: CardPaymentRequest) -> dict:
        if not request.payment_token.startswith(CARD_TOKEN_PREFIX):
            raise GatewayRejected("Enter your card details again: this page needs reloading.")
        token = client.v1.tokens.retrieve(request.payment_token)
        return {"payment_method": token["card"]["id"]}

    def recent_intents_params(self, created_after: datetime) -> dict:
        return {"limit": 100}

    def cancel_params(self, reason: str) -> dict:
        return {}  # "Unexpected cancellation_reason"

    def setup_params(self, request: SetupRequest) -> dict:
        # It refuses automatic_payment_methods, and has no us_bank_account: cards only.
        return {"payment_method_types": list(SETUP_METHOD_TYPES)}

    def attach_after_setup(self, client: stripe.StripeClient, setup: dict) -> None:
        """localstripe's SetupIntent confirm leaves the method unattached (TOOLING.md)."""
        method = setup.get("payment_method")
        if setup.get("status") != "succeeded" or not isinstance(method, dict) or not setup.get("customer"):
            return
        if method.get("customer") == setup["customer"]:
            return
        attached = client.v1.payment_methods.attach(
            method["id"], params={"customer": setup["customer"]},
            options={"idempotency_key": _derived_key("attach", method["id"], setup["customer"])},
        )
        setup["payment_method"] = attached.to_dict()

    def refund_params(self) -> dict:
        return {}  # refunds there accept no `reason`

    def off_session_params(self) -> dict:
        return {"payment_method_types": ["card"]}  # it refuses automatic_payment_methods


def dialect_for(settings) -> RealStripe | LocalStripe:
    return LocalStripe() if settings.uses_local_stripe else RealStripe(settings.public_url)


class StripeGateway:
    """`PaymentGateway` backed by the Stripe API (or localstripe, same SDK, same HTTP)."""

    def __init__(self, client: stripe.StripeClient, *, dialect: RealStripe | LocalStripe, livemode: bool) -> None:
        self._client = client
        self.dialect = dialect
        self.livemode = livemode

    @classmethod
    def from_settings(cls, settings) -> StripeGateway:
        """Build from `portal.config.Settings`; no network call happens here."""
        dialect = dialect_for(settings)
        options: dict = {
            "stripe_version": STRIPE_API_VERSION,
            # SDK retries resend the same Idempotency-Key, so they are safe against Stripe.
            "max_network_retries": dialect.network_retries,
            "http_client": stripe.RequestsClient(timeout=REQUEST_TIMEOUT_SECONDS),
        }
        if settings.stripe_api_base:
            options["base_addresses"] = {"api": settings.stripe_api_base.rstrip("/")}
        # A missing key still builds (pages render); every call then fails as GatewayUnusable.
        client = stripe.StripeClient(settings.stripe_secret_key or "sk_missing", **options)
        livemode = settings.stripe_secret_key.startswith(("sk_live_", "rk_live_"))
        return cls(client, dialect=dialect, livemode=livemode)

    # --- payments -------------------------------------------------------------------------

    def create_card_intent(self, request: CardPaymentRequest) -> IntentSnapshot:
        try:
            amount = to_stripe_amount(request.amount)
        except MoneyError as exc:  # refused before Stripe is asked
            raise GatewayUnusable(str(exc), detail=str(exc), code="amount_too_large") from None
        with _translated_errors(paying=request):
            params = {
                "amount": amount,
                "currency": request.amount.currency.lower(),
                "confirm": True,
                "metadata": {**request.metadata, REFERENCE_KEY: request.reference},
                "expand": EXPAND_INTENT,
                **self.dialect.confirmation_params(self._client, request),
            }
            intent = self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        return snapshot_from_intent(intent.to_dict())

    def retrieve_intent(self, intent_id: str) -> IntentSnapshot:
        with _translated_errors(not_found=IntentNotFound):
            intent = self._client.v1.payment_intents.retrieve(intent_id, params={"expand": EXPAND_INTENT})
        return snapshot_from_intent(intent.to_dict())

    def cancel_intent(self, intent_id: str, reason: str) -> IntentSnapshot:
        with _translated_errors(not_found=IntentNotFound):
            intent = self._client.v1.payment_intents.cancel(
                intent_id, params=self.dialect.cancel_params(reason),
                # A retried cancel (the SDK's, or the reconciler's next run) is the same request.
                options={"idempotency_key": _derived_key("cancel", intent_id, reason)},
            )
        return snapshot_from_intent(intent.to_dict())

    def find_intent_by_reference(self, reference: str, created_after: datetime) -> IntentSnapshot | None:
        with _translated_errors():
            for intent in self._recent_intents(created_after):
                snapshot = snapshot_from_intent(intent.to_dict())
                if snapshot.reference == reference:
                    return snapshot
        return None

    def _recent_intents(self, created_after: datetime) -> Iterator:
        params = self.dialect.recent_intents_params(created_after)
        return self._client.v1.payment_intents.list(params=params).auto_paging_iter()


    # --- saved payment methods --------------------------------------------------------------

    def create_customer(self, request: CustomerRequest) -> str:
        with _translated_errors():
            customer = self._client.v1.customers.create(
                params={"name": request.name[:200],
                        "metadata": {CUSTOMER_KEY: request.reference, "account_number": request.account_number[:100]}},
                options={"idempotency_key": request.idempotency_key},
            )
        return str(customer["id"])

    def create_setup_intent(self, request: SetupRequest) -> SetupSnapshot:
        with _translated_errors():
            setup = self._client.v1.setup_intents.create(
                params={"customer": request.stripe_customer_id, "usage": "off_session",
                        "metadata": {SETUP_KEY: request.reference}, **self.dialect.setup_params(request)},
                options={"idempotency_key": request.idempotency_key},
            )
        return snapshot_from_setup(setup.to_dict())

    def read_completed_setup(self, setup_intent_id: str) -> SetupSnapshot:
        with _translated_errors(not_found=SetupNotFound):
            setup = self._client.v1.setup_intents.retrieve(setup_intent_id, params={"expand": EXPAND_SETUP}).to_dict()
            self.dialect.attach_after_setup(self._client, setup)
        return snapshot_from_setup(setup)

    def detach_payment_method(self, payment_method_id: str) -> None:
        with _translated_errors():
            method = self._client.v1.payment_methods.retrieve(payment_method_id).to_dict()
            if not method.get("customer"):
                return  # already detached (by an earlier try, or in the Dashboard)
            self._client.v1.payment_methods.detach(
                payment_method_id, options={"idempotency_key": _derived_key("detach", payment_method_id)},
            )

    def set_default_payment_method(self, stripe_customer_id: str, payment_method_id: str) -> None:
        with _translated_errors():
            self._client.v1.customers.update(
                stripe_customer_id, params={"invoice_settings": {"default_payment_method": payment_method_id}},
                # A fresh key per change: A, then B, then A again are three changes.
                options={"idempotency_key": secrets.token_hex(32)},
            )

    # --- refunds ---------------------------------------------------------------------------

    def create_refund(self, request: RefundRequest) -> RefundSnapshot:
        try:
            amount = to_stripe_amount(request.amount)
        except MoneyError as exc:
            raise GatewayRejected(str(exc)) from None
        with _translated_errors():
            refund = self._client.v1.refunds.create(
                params={
                    "payment_intent": request.payment_intent_id,
                    "amount": amount,
                    "metadata": {**request.metadata, REFUND_REFERENCE_KEY: request.reference},
                    **self.dialect.refund_params(),
                },
                options={"idempotency_key": request.idempotency_key},
            )
        return snapshot_from_refund(refund.to_dict())

    def retrieve_refund(self, refund_id: str) -> RefundSnapshot:
        with _translated_errors(not_found=RefundNotFound):
            refund = self._client.v1.refunds.retrieve(refund_id)
        return snapshot_from_refund(refund.to_dict())

    # --- off-session charges (installment plans) ----------------------------------------------

    def create_off_session_intent(self, request: OffSessionChargeRequest) -> IntentSnapshot:
        """Charge a saved card, or a saved bank account under its mandate (the debit is then
        `processing` for days), with the customer not present. A decline, or the bank asking
        for authentication, raises PaymentDeclined (code `authentication_required` or the
        decline code); the intent it names stays at Stripe, unconfirmed."""
        try:
            amount = to_stripe_amount(request.amount)
        except MoneyError as exc:
            raise GatewayUnusable(str(exc), detail=str(exc), code="amount_too_large") from None
        with _translated_errors(paying=request):
            intent = self._client.v1.payment_intents.create(
                params={
                    "amount": amount,
                    "currency": request.amount.currency.lower(),
                    "customer": request.stripe_customer_id,
                    "payment_method": request.payment_method_id,
                    "off_session": True,
                    "confirm": True,
                    "metadata": {**request.metadata, REFERENCE_KEY: request.reference},
                    "expand": EXPAND_INTENT,
                    **self.dialect.off_session_params(),
                    **({"mandate": request.mandate_id} if request.mandate_id else {}),
                },
                options={"idempotency_key": request.idempotency_key},
            )
        return snapshot_from_intent(intent.to_dict())


class StripeWebhookVerifier:
    """`WebhookVerifier` for Stripe's signature scheme, with every configured secret (rotation)."""

    def __init__(self, secrets: tuple[str, ...], tolerance_seconds: int) -> None:
        if tolerance_seconds <= 0:
            raise ValueError("webhook tolerance must be positive")
        self._secrets = tuple(secrets)
        self._tolerance = tolerance_seconds

    @classmethod
    def from_settings(cls, settings) -> StripeWebhookVerifier:
        return cls(settings.stripe_webhook_secrets, settings.stripe_webhook_tolerance)

    def read(self, payload: bytes, signature_header: str | None, now: datetime) -> WebhookEvent:
        verify_webhook_signature(payload, signature_header, self._secrets, self._tolerance, now)
        return parse_webhook_event(payload)


def verify_webhook_signature(
    payload: bytes, signature_header: str | None, secrets: tuple[str, ...],
    tolerance_seconds: int, now: datetime,
) -> None:
    """Stripe's scheme: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.payload">`.

    The HMAC is over the raw bytes received: a re-serialized body fails. Every configured
    secret is tried (rotation). The timestamp must be within `tolerance_seconds` of our clock
    (replay window); the SDK's own check reads the wall clock, hence this implementation.
    """
    if tolerance_seconds <= 0:
        raise WebhookRejected("webhook tolerance must be positive")
    if not secrets:
        raise WebhookRejected("no webhook secret configured")
    if not signature_header:
        raise WebhookRejected("missing Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in signature_header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookRejected("bad timestamp in Stripe-Signature") from None
        elif key == SIGNATURE_SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookRejected("malformed Stripe-Signature header")
    signed = str(timestamp).encode() + b"." + payload
    expected = [hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in secrets]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise WebhookRejected("signature does not match")
    age = int(now.timestamp()) - timestamp
    if age > tolerance_seconds or -age > tolerance_seconds:
        raise WebhookRejected(f"timestamp outside the {tolerance_seconds} s tolerance")


def parse_webhook_event(payload: bytes) -> WebhookEvent:
    """The fields we use from a verified event body."""
    try:
        data = json.loads(payload)
        obj = data["data"]["object"]
        event = WebhookEvent(
            id=str(data["id"]), type=str(data["type"]), livemode=bool(data["livemode"]),
            created=int(data["created"]),
            intent=snapshot_from_intent(obj) if obj.get("object") == "payment_intent" else None,
            refund=snapshot_from_refund(obj) if obj.get("object") == "refund" else None,
            setup=snapshot_from_setup(obj) if obj.get("object") == "setup_intent" else None,
            dispute=snapshot_from_dispute(obj, bool(data["livemode"])) if obj.get("object") == "dispute" else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookRejected(f"unreadable event body: {exc}") from None
    if not event.id.startswith("evt_"):
        raise WebhookRejected("not an event id")
    return event


def mandate_data(mandate: MandateAcceptance) -> dict:
    """The ACH debit mandate as the customer accepted it on our page (online acceptance)."""
    return {"customer_acceptance": {
        "type": "online", "accepted_at": int(mandate.accepted_at.timestamp()),
        "online": {"ip_address": mandate.ip or "0.0.0.0", "user_agent": mandate.user_agent or "unknown"},
    }}


def _method_type(data: dict, charge) -> str:
    """The payment method's type: from the expanded method, the charge's details, or the only
    type the intent allows."""
    method = data.get("payment_method")
    if isinstance(method, dict) and method.get("type"):
        return str(method["type"])[:40]
    if isinstance(charge, dict) and isinstance(charge.get("payment_method_details"), dict):
        kind = charge["payment_method_details"].get("type")
        if kind:
            return str(kind)[:40]
    types = data.get("payment_method_types") or []
    return str(types[0])[:40] if len(types) == 1 else ""


def snapshot_from_intent(data: dict) -> IntentSnapshot:
    """A PaymentIntent dict (API answer or webhook payload) as an IntentSnapshot.

    `latest_charge` is an id on Stripe and an embedded object on localstripe: both are read.
    """
    charge = data.get("latest_charge")
    brand, last4 = _card_of(data.get("payment_method"), charge)
    if isinstance(charge, dict):
        charge = charge.get("id")
    method_type = _method_type(data, charge)
    error = data.get("last_payment_error") or {}
    metadata = {str(k): str(v) for k, v in (data.get("metadata") or {}).items()}
    next_action = data.get("next_action") or {}
    verification = next_action.get(NEXT_ACTION_MICRODEPOSITS) or {}
    return IntentSnapshot(
        id=str(data["id"]),
        status=str(data["status"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        livemode=bool(data.get("livemode", False)),
        client_secret=data.get("client_secret"),
        metadata=metadata,
        reference=metadata.get(REFERENCE_KEY),
        charge_id=charge if isinstance(charge, str) else None,
        failure_code=str(error.get("decline_code") or error.get("code") or ""),
        failure_message=str(error.get("message") or ""),
        card_brand=brand,
        card_last4=last4,
        method_type=method_type,
        next_action=str(next_action.get("type") or ""),
        verification_url=str(verification.get("hosted_verification_url") or "")[:500],
    )


def snapshot_from_setup(data: dict) -> SetupSnapshot:
    """A SetupIntent dict (its payment method expanded or an id) as a SetupSnapshot."""
    method = data.get("payment_method")
    card = bank = None
    if isinstance(method, dict):
        raw = method.get("card") if isinstance(method.get("card"), dict) else None
        if raw is not None:
            last4 = str(raw.get("last4") or "")
            card = CardDetails(
                brand=str(raw.get("brand") or "").strip().lower()[:20],
                last4=last4 if len(last4) == 4 and last4.isdigit() else "",
                exp_month=int(raw.get("exp_month") or 0), exp_year=int(raw.get("exp_year") or 0),
            )
        raw = method.get(METHOD_US_BANK_ACCOUNT) if isinstance(method.get(METHOD_US_BANK_ACCOUNT), dict) else None
        if raw is not None:
            last4 = str(raw.get("last4") or "")
            bank = BankAccountDetails(
                bank_name=str(raw.get("bank_name") or "").strip()[:100],
                last4=last4 if len(last4) == 4 and last4.isdigit() else "",
                account_type=str(raw.get("account_type") or "").strip().lower()[:20],
            )
        method = method.get("id")
    next_action = data.get("next_action") or {}
    verification = next_action.get(NEXT_ACTION_MICRODEPOSITS) or {}
    customer = data.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    error = data.get("last_setup_error") or {}
    metadata = data.get("metadata") or {}
    return SetupSnapshot(
        id=str(data["id"]), status=str(data["status"]),
        stripe_customer_id=str(customer) if customer else None, livemode=bool(data.get("livemode", False)),
        client_secret=data.get("client_secret"), payment_method_id=str(method) if method else None,
        reference=str(metadata[SETUP_KEY]) if SETUP_KEY in metadata else None,
        card=card, failure_message=str(error.get("message") or ""), bank_account=bank,
        next_action=str(next_action.get("type") or ""),
        verification_url=str(verification.get("hosted_verification_url") or "")[:500],
        mandate_id=_id_of(data.get("mandate")),
    )


def _id_of(value) -> str | None:
    """An expandable field: an id string, or an embedded object with an id."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def snapshot_from_refund(data: dict) -> RefundSnapshot:
    """A Refund dict (API answer or webhook payload) as a RefundSnapshot."""
    metadata = data.get("metadata") or {}
    return RefundSnapshot(
        id=str(data["id"]),
        status=str(data.get("status") or "pending"),
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        payment_intent_id=_id_of(data.get("payment_intent")),
        charge_id=_id_of(data.get("charge")),
        reference=str(metadata[REFUND_REFERENCE_KEY]) if REFUND_REFERENCE_KEY in metadata else None,
        failure_reason=str(data.get("failure_reason") or ""),
    )


def snapshot_from_dispute(data: dict, livemode: bool) -> DisputeSnapshot:
    """A Dispute dict from a `charge.dispute.*` event as a DisputeSnapshot."""
    due_by = (data.get("evidence_details") or {}).get("due_by")
    return DisputeSnapshot(
        id=str(data["id"]),
        status=str(data["status"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        livemode=bool(data.get("livemode", livemode)),
        reason=str(data.get("reason") or ""),
        payment_intent_id=_id_of(data.get("payment_intent")),
        charge_id=_id_of(data.get("charge")),
        evidence_due_by=int(due_by) if due_by else None,
    )


def _card_of(payment_method, charge) -> tuple[str, str]:
    """(brand, last four) from an expanded payment method or an embedded charge's
    payment_method_details; ("", "") when the answer names neither (ids only).

    A PaymentMethod holds its card under "card"; a legacy Card object (`card_...`, what a card
    token names, and what localstripe expands its intents' method to) is the card itself.
    """
    card = None
    if isinstance(payment_method, dict):
        card = payment_method if payment_method.get("object") == "card" else payment_method.get("card")
    if not isinstance(card, dict) and isinstance(charge, dict):
        card = (charge.get("payment_method_details") or {}).get("card")
    if not isinstance(card, dict):
        return "", ""
    brand = str(card.get("brand") or "").strip().lower()[:20]
    last4 = str(card.get("last4") or "").strip()
    return brand, last4 if len(last4) == 4 and last4.isdigit() else ""


def _derived_key(idempotency_key: str, *parts: str) -> str:
    return hashlib.sha256("|".join((idempotency_key, *parts)).encode()).hexdigest()


# Parameters naming what the browser sent: Stripe refusing them is about that token.
_TOKEN_PARAMS = {"confirmation_token", "payment_method", "card", "token", "source"}


def _token_refused(exc: stripe.InvalidRequestError) -> bool:
    param = (getattr(exc, "param", None) or "").split("[")[0]
    return exc.http_status == 404 or param in _TOKEN_PARAMS


def _unusable(exc: stripe.StripeError, paying: CardPaymentRequest | OffSessionChargeRequest | None, kind: str) -> GatewayUnusable:
    code = str(getattr(exc, "code", None) or kind)
    detail = f"{type(exc).__name__} ({code}): {exc.user_message or exc}"
    if paying is not None and code == "amount_too_small":
        return GatewayUnusable(
            f"Stripe refused this amount as below its card minimum ({stripe_minimum(paying.amount.currency).format()} "
            "or its equivalent in our settlement currency). Nothing was charged.", detail=detail, code=code,
        )
    if paying is not None and code == "amount_too_large":
        return GatewayUnusable(
            f"A card payment can be at most {stripe_maximum(paying.amount.currency).format()}: pay this in several "
            "payments or by bank transfer. Nothing was charged.", detail=detail, code=code,
        )
    return GatewayUnusable(UNAVAILABLE_MESSAGE, detail=detail, code=code)


@contextmanager
def _translated_errors(not_found: type[Exception] = GatewayRejected, paying: CardPaymentRequest | OffSessionChargeRequest | None = None):
    """SDK exceptions in, the gateway's named errors out.

    Only a `CardError` (the card network or Stripe's fraud checks said no) is a decline. While
    paying, an invalid request is either about the token the browser sent (GatewayRejected) or
    about us: keys, API version, parameters, amount limits (GatewayUnusable).
    """
    try:
        yield
    except stripe.CardError as exc:
        error = exc.error
        intent = getattr(error, "payment_intent", None) if error is not None else None
        if intent is not None and not isinstance(intent, str):
            intent = intent["id"]
        message = (error.message if error is not None and error.message else None) or "Your card was declined."
        code = (getattr(error, "decline_code", None) or exc.code or "card_declined") if error else (exc.code or "")
        raise PaymentDeclined(message, code=code, intent_id=intent) from None
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise GatewayUnavailable(f"Stripe did not answer: {exc.user_message or exc}") from None
    except stripe.IdempotencyError as exc:
        # The key was used before with other parameters: that first request reached Stripe,
        # but we do not know its outcome. Reconciliation finds the intent by its reference.
        raise GatewayUnavailable(f"an earlier request with this key is pending: {exc}") from None
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        raise _unusable(exc, paying, "authentication") from None
    except stripe.InvalidRequestError as exc:
        if paying is None:
            if exc.http_status == 404:
                raise not_found(str(exc.user_message or exc)) from None
            raise GatewayRejected(str(exc.user_message or exc)) from None
        if _token_refused(exc) and exc.code not in ("amount_too_small", "amount_too_large"):
            raise GatewayRejected(
                "These card details could not be used. Enter them again; nothing was charged.",
            ) from None
        raise _unusable(exc, paying, "invalid_request") from None
    except stripe.APIError as exc:
        raise GatewayUnavailable(f"Stripe error: {exc}") from None
    except stripe.StripeError as exc:
        if paying is None:
            raise GatewayRejected(str(exc.user_message or exc)) from None
        raise _unusable(exc, paying, "stripe_error") from None
