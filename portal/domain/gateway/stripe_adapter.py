"""The Stripe adapter: the one module in the project that imports the `stripe` SDK.

It turns SDK objects and exceptions into the plain types of `gateway.py`, and verifies webhook
signatures. The same code talks to api.stripe.com and to localstripe (the offline stand-in used
in development and tests). Where the two cannot share a path, the difference lives in one named
method, `_card_confirmation_params`, keyed on `settings.uses_local_stripe`; a second, smaller
one (`_recent_intents`: localstripe cannot filter lists by date) only narrows a listing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import stripe

from portal.domain.gateway.protocol import (
    CardPaymentRequest, GatewayRejected, GatewayUnavailable, IntentNotFound, IntentSnapshot, PaymentDeclined, WebhookEvent, WebhookRejected,
)
from portal.domain.gateway.amounts import to_stripe_amount

log = logging.getLogger(__name__)

# The metadata key naming our payment on its PaymentIntent. Used only to *find* an intent
# whose id we failed to store (a timeout); we never apply money because metadata says so.
REFERENCE_KEY = "portal_payment"
# How long one Stripe call may take before we give up and report the outcome as unknown.
REQUEST_TIMEOUT_SECONDS = 30
SIGNATURE_SCHEME = "v1"


class StripeGateway:
    """`PaymentGateway` backed by the Stripe API (or localstripe, same SDK, same HTTP)."""

    def __init__(self, client: stripe.StripeClient, *, uses_local_stripe: bool, livemode: bool) -> None:
        self._client = client
        self._uses_local_stripe = uses_local_stripe
        self.livemode = livemode

    @classmethod
    def from_settings(cls, settings) -> StripeGateway:
        """Build from `portal.config.Settings`; no network call happens here."""
        local = settings.uses_local_stripe
        options: dict = {
            # SDK retries resend the same Idempotency-Key, so they are safe against Stripe.
            # localstripe ignores the key (a retry would create a second intent): none there.
            "max_network_retries": 0 if local else 2,
            "http_client": stripe.RequestsClient(timeout=REQUEST_TIMEOUT_SECONDS),
        }
        if local:
            options["base_addresses"] = {"api": settings.stripe_api_base.rstrip("/")}
        # A missing key still builds (pages render); every call then fails as GatewayRejected.
        client = stripe.StripeClient(settings.stripe_secret_key or "sk_missing", **options)
        livemode = settings.stripe_secret_key.startswith(("sk_live_", "rk_live_"))
        return cls(client, uses_local_stripe=local, livemode=livemode)

    # --- payments -------------------------------------------------------------------------

    def create_card_intent(self, request: CardPaymentRequest) -> IntentSnapshot:
        with _translated_errors():
            params = {
                "amount": to_stripe_amount(request.amount),
                "currency": request.amount.currency.lower(),
                "confirm": True,
                "metadata": {**request.metadata, REFERENCE_KEY: request.reference},
                **self._card_confirmation_params(request),
            }
            intent = self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        return snapshot_from_intent(intent.to_dict())

    def _card_confirmation_params(self, request: CardPaymentRequest) -> dict:
        """THE difference between real Stripe and localstripe in the card flow.

        Both start from a token made by `stripe.createToken(card)` in the browser.
        - localstripe accepts the token's card (`card_...`) as `payment_method` and refuses the
          `payment_method_types` / `use_stripe_sdk` parameters.
        - Real Stripe needs a PaymentMethod made from the token, `payment_method_types=["card"]`
          (no redirect-based methods, so no `return_url`) and `use_stripe_sdk=True` so that
          3-D Secure is completed by `stripe.confirmCardPayment` on our page.
        The real-Stripe branch is only checked against Stripe's test mode, not in the suite.
        """
        if self._uses_local_stripe:
            token = self._client.v1.tokens.retrieve(request.card_token)
            return {"payment_method": token["card"]["id"]}
        method = self._client.v1.payment_methods.create(
            params={"type": "card", "card": {"token": request.card_token}},
            # Same token, same PaymentMethod on a retry; another token gets its own.
            options={"idempotency_key": _derived_key(request.idempotency_key, request.card_token)},
        )
        return {"payment_method": method["id"], "payment_method_types": ["card"], "use_stripe_sdk": True}

    def retrieve_intent(self, intent_id: str) -> IntentSnapshot:
        with _translated_errors(not_found=IntentNotFound):
            intent = self._client.v1.payment_intents.retrieve(intent_id)
        return snapshot_from_intent(intent.to_dict())

    def cancel_intent(self, intent_id: str) -> IntentSnapshot:
        with _translated_errors(not_found=IntentNotFound):
            intent = self._client.v1.payment_intents.cancel(intent_id)
        return snapshot_from_intent(intent.to_dict())

    def find_intent_by_reference(self, reference: str, created_after: datetime) -> IntentSnapshot | None:
        with _translated_errors():
            for intent in self._recent_intents(created_after):
                snapshot = snapshot_from_intent(intent.to_dict())
                if snapshot.reference == reference:
                    return snapshot
        return None

    def _recent_intents(self, created_after: datetime) -> Iterator:
        """Intents created since `created_after`. localstripe refuses the `created` filter, so
        there every intent is listed (its store only holds one test run's data)."""
        params: dict = {"limit": 100}
        if not self._uses_local_stripe:
            params["created"] = {"gte": int(created_after.timestamp())}
        return self._client.v1.payment_intents.list(params=params).auto_paging_iter()


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
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookRejected(f"unreadable event body: {exc}") from None
    if not event.id.startswith("evt_"):
        raise WebhookRejected("not an event id")
    return event


def snapshot_from_intent(data: dict) -> IntentSnapshot:
    """A PaymentIntent dict (API answer or webhook payload) as an IntentSnapshot.

    `latest_charge` is an id on Stripe and an embedded object on localstripe: both are read.
    """
    charge = data.get("latest_charge")
    if isinstance(charge, dict):
        charge = charge.get("id")
    error = data.get("last_payment_error") or {}
    metadata = {str(k): str(v) for k, v in (data.get("metadata") or {}).items()}
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
    )


def _derived_key(idempotency_key: str, *parts: str) -> str:
    return hashlib.sha256("|".join((idempotency_key, *parts)).encode()).hexdigest()


@contextmanager
def _translated_errors(not_found: type[Exception] = GatewayRejected):
    """SDK exceptions in, the gateway's named errors out."""
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
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            raise not_found(str(exc.user_message or exc)) from None
        raise GatewayRejected(str(exc.user_message or exc)) from None
    except stripe.APIError as exc:
        raise GatewayUnavailable(f"Stripe error: {exc}") from None
    except stripe.StripeError as exc:
        raise GatewayRejected(str(exc.user_message or exc)) from None
