"""The payment gateway as the rest of the portal sees it: plain data in, plain data out.

`stripe_adapter.StripeGateway` is the real implementation (the only module that imports the
Stripe SDK); tests add an in-process fake for the failures no real server produces on demand
(a timeout after Stripe created the object). Nothing here knows about HTTP or the SDK.

Every error a gateway call can end in is one of the named `GatewayError`s below, so callers
decide on meaning ("the card was declined", "we do not know what happened") rather than on
SDK exception classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from portal.domain.core.money import Money
from portal.domain.gateway.amounts import from_stripe_amount

# PaymentIntent statuses as Stripe names them.
INTENT_STATUSES = (
    "requires_payment_method", "requires_confirmation", "requires_action", "processing",
    "requires_capture", "succeeded", "canceled",
)


@dataclass(frozen=True)
class IntentSnapshot:
    """A PaymentIntent as Stripe reported it at one moment (API answer or webhook payload)."""

    id: str
    status: str
    amount: int  # in Stripe's unit for the currency (our minor units, see money.to_stripe_amount)
    currency: str  # upper-case ISO 4217
    livemode: bool
    client_secret: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    reference: str | None = None  # our payment's public id, as the intent's metadata names it
    charge_id: str | None = None
    failure_code: str = ""
    failure_message: str = ""
    # The card paid with, when the answer carries it (an expanded payment method, or a charge's
    # payment_method_details): "visa", "4242". Webhook payloads name the method by id only.
    card_brand: str = ""
    card_last4: str = ""
    # The kind of payment method used ("card", "us_bank_account"), when the answer names it.
    method_type: str = ""
    # `next_action.type` ("use_stripe_sdk", "verify_with_microdeposits", ...) and, for
    # microdeposits, Stripe's hosted page where the customer enters the two amounts.
    next_action: str = ""
    verification_url: str = ""

    @property
    def waits_for_microdeposits(self) -> bool:
        """A bank account still to be verified: nothing is debited before (SECURITY.md P12)."""
        return self.status == "requires_action" and self.next_action == NEXT_ACTION_MICRODEPOSITS

    @property
    def money(self) -> Money:
        return from_stripe_amount(self.amount, self.currency)


# Payment method types as Stripe names them, and the next action of a bank account that is
# verified by microdeposits instead of instantly (Financial Connections).
METHOD_CARD = "card"
METHOD_US_BANK_ACCOUNT = "us_bank_account"
NEXT_ACTION_MICRODEPOSITS = "verify_with_microdeposits"


@dataclass(frozen=True)
class MandateAcceptance:
    """The customer accepted the ACH debit mandate online (sent as `mandate_data`)."""

    accepted_at: datetime
    ip: str
    user_agent: str


# What Stripe.js gives the browser for the payment details it collected (card data never
# reaches us): a ConfirmationToken from the Payment Element (real Stripe), or a card token from
# the card element (localstripe, whose Stripe.js has no Payment Element).
CONFIRMATION_TOKEN_PREFIX = "ctoken_"
CARD_TOKEN_PREFIX = "tok_"


@dataclass(frozen=True)
class CardPaymentRequest:
    """Create a PaymentIntent for `amount` and confirm it at once with what Stripe.js made."""

    amount: Money
    payment_token: str  # "ctoken_..." or "tok_...": the first one sent for this attempt, on every retry
    idempotency_key: str  # saved in our database before the call, reused on every retry
    reference: str  # our payment's public id, stored in the intent's metadata
    metadata: dict[str, str] = field(default_factory=dict)
    return_url: str = ""  # where a payment method that redirects brings the customer back
    # Set for a US bank account payment (ACH Direct Debit): the mandate the customer accepted.
    mandate: MandateAcceptance | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """A webhook event whose signature and age were verified."""

    id: str
    type: str
    livemode: bool
    created: int
    intent: IntentSnapshot | None  # set when data.object is a PaymentIntent
    refund: RefundSnapshot | None = None  # set when data.object is a Refund
    dispute: DisputeSnapshot | None = None  # set when data.object is a Dispute
    setup: SetupSnapshot | None = None  # set when data.object is a SetupIntent


# Refund statuses as Stripe names them (the Refund object, API version pinned in the adapter).
REFUND_STATUSES = ("pending", "requires_action", "succeeded", "failed", "canceled")
# The `reason` we give Stripe for a staff refund: the customer asked, or staff agreed they should
# have their money back. Our own reason (what staff wrote) stays in our database.
REFUND_REQUESTED_BY_CUSTOMER = "requested_by_customer"


@dataclass(frozen=True)
class RefundRequest:
    """Refund part or all of a PaymentIntent's charge."""

    payment_intent_id: str
    amount: Money
    idempotency_key: str  # saved in our database before the call, reused on every retry
    reference: str  # our refund's public id, stored in the refund's metadata
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundSnapshot:
    """A Refund as Stripe reported it (API answer or webhook payload)."""

    id: str
    status: str  # one of REFUND_STATUSES
    amount: int  # in Stripe's unit for the currency
    currency: str  # upper-case ISO 4217
    payment_intent_id: str | None = None
    charge_id: str | None = None
    reference: str | None = None  # our refund's public id, as its metadata names it
    failure_reason: str = ""


@dataclass(frozen=True)
class DisputeSnapshot:
    """A Dispute (a card chargeback) as a webhook payload carries it."""

    id: str
    status: str  # warning_needs_response, needs_response, under_review, won, lost, ...
    amount: int  # in Stripe's unit for the currency
    currency: str  # upper-case ISO 4217
    livemode: bool
    reason: str = ""
    payment_intent_id: str | None = None
    charge_id: str | None = None
    evidence_due_by: int | None = None  # unix time (`evidence_details.due_by`)


class GatewayError(Exception):
    """A gateway call did not give the answer asked for."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PaymentDeclined(GatewayError):
    """The card was declined. `message` is Stripe's text, fit to show the customer."""

    def __init__(self, message: str, code: str = "", intent_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.intent_id = intent_id


class GatewayUnavailable(GatewayError):
    """No answer (timeout, network, Stripe 5xx, rate limit): the outcome is unknown.

    The call may have taken effect. Retrying with the same idempotency key is safe.
    """


class GatewayRejected(GatewayError):
    """Stripe refused what the browser sent (no such token, a token already used): not a
    decline, and not our configuration either. `message` is fit to show the customer."""


class GatewayUnusable(GatewayError):
    """Stripe refused the request for a reason the customer cannot fix: a bad or restricted key,
    an API-version or parameter error, an amount outside Stripe's limits. Staff must act; the
    customer is told card payments are unavailable (or the limit). Never a decline.

    `message` is for the customer, `detail` (Stripe's own text) for the staff log.
    """

    def __init__(self, message: str, detail: str = "", code: str = "") -> None:
        super().__init__(message)
        self.detail = detail
        self.code = code


class IntentNotFound(GatewayError):
    """No such PaymentIntent at Stripe (for this account and mode)."""


# Stripe's `cancellation_reason` values we send.
CANCEL_ABANDONED = "abandoned"  # the reconciler: 3-D Secure never completed
CANCEL_REQUESTED_BY_CUSTOMER = "requested_by_customer"  # the clerk gave up on the page


class WebhookRejected(Exception):
    """A webhook whose signature, timestamp or body cannot be trusted: answer 400."""


class PaymentGateway(Protocol):
    """What the payments domain needs from a card processor."""

    livemode: bool

    def create_card_intent(self, request: CardPaymentRequest) -> IntentSnapshot:
        """Create and confirm a PaymentIntent; raises PaymentDeclined / GatewayUnavailable."""

    def retrieve_intent(self, intent_id: str) -> IntentSnapshot:
        """Stripe's current view of an intent (the source of truth on any doubt)."""

    def cancel_intent(self, intent_id: str, reason: str) -> IntentSnapshot:
        """Cancel an intent that has not taken money; `reason` is one of Stripe's
        cancellation reasons (CANCEL_ABANDONED, CANCEL_REQUESTED_BY_CUSTOMER)."""

    def find_intent_by_reference(self, reference: str, created_after: datetime) -> IntentSnapshot | None:
        """The intent whose metadata names our payment `reference`, if Stripe has one."""

    # --- refunds

    def create_refund(self, request: RefundRequest) -> RefundSnapshot:
        """Refund part or all of an intent's charge; raises GatewayRejected (Stripe refused:
        already refunded, disputed ...) / GatewayUnavailable (outcome unknown: retry with the
        same key)."""

    def retrieve_refund(self, refund_id: str) -> RefundSnapshot:
        """Stripe's current view of a refund; raises RefundNotFound."""


class RefundNotFound(GatewayError):
    """No such Refund at Stripe (for this account and mode)."""


class WebhookVerifier(Protocol):
    """Turns a webhook delivery into a trusted event, or refuses it (built once, with the
    signing secrets and the replay window)."""

    def read(self, payload: bytes, signature_header: str | None, now: datetime) -> WebhookEvent:
        """Verify the signature on the raw body and the timestamp; raises WebhookRejected."""


# --- saved payment methods (SetupIntents for off-session use) -------------------------------

# SetupIntent statuses as Stripe names them.
SETUP_STATUSES = (
    "requires_payment_method", "requires_confirmation", "requires_action", "processing", "canceled", "succeeded",
)


@dataclass(frozen=True)
class CustomerRequest:
    """Create the Stripe Customer of one portal customer (once: the key is derived from our id)."""

    reference: str  # our customer's public id, kept in the Customer's metadata
    name: str
    account_number: str
    idempotency_key: str


@dataclass(frozen=True)
class SetupRequest:
    """Create a SetupIntent for the customer, for later off-session charges; the browser confirms it."""

    stripe_customer_id: str
    idempotency_key: str  # saved in our database before the call, reused on every retry
    reference: str  # our setup's public id, stored in the SetupIntent's metadata
    # Offer a US bank account as well as a card (the contact was shown the ACH mandate).
    bank_accounts: bool = False


@dataclass(frozen=True)
class CardDetails:
    """What a saved card may show: never more than brand, last four and expiry."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class BankAccountDetails:
    """What a saved US bank account may show: the bank's name, the last four digits of the
    account and its type (never the account or routing number)."""

    bank_name: str
    last4: str
    account_type: str  # "checking" or "savings"


@dataclass(frozen=True)
class SetupSnapshot:
    """A SetupIntent as Stripe reported it; `card` (or `bank_account`) set once a card (or a
    US bank account) PaymentMethod is on it."""

    id: str
    status: str
    stripe_customer_id: str | None
    livemode: bool
    client_secret: str | None = None
    payment_method_id: str | None = None
    reference: str | None = None  # our setup's public id, from the metadata
    card: CardDetails | None = None
    failure_message: str = ""
    bank_account: BankAccountDetails | None = None
    # "verify_with_microdeposits" while Stripe waits for the amounts, and its hosted page.
    next_action: str = ""
    verification_url: str = ""
    mandate_id: str | None = None  # the ACH mandate Stripe made from the customer's acceptance


class SetupNotFound(GatewayError):
    """No such SetupIntent at Stripe (for this account and mode)."""


class MethodGateway(Protocol):
    """What the saved payment methods area needs from the card processor."""

    livemode: bool

    def create_customer(self, request: CustomerRequest) -> str:
        """The new (or, for a repeated key, the first) Customer's id."""

    def create_setup_intent(self, request: SetupRequest) -> SetupSnapshot:
        """A SetupIntent (usage off_session) for the browser to confirm."""

    def read_completed_setup(self, setup_intent_id: str) -> SetupSnapshot:
        """Stripe's current view of a SetupIntent, with its card. Once it has succeeded its
        PaymentMethod is attached to the SetupIntent's Customer (Stripe does this itself;
        the offline stand-in needs the attach call made for it)."""

    def detach_payment_method(self, payment_method_id: str) -> None:
        """Detach a saved PaymentMethod from its Customer (permanent); one already detached
        is not an error."""

    def set_default_payment_method(self, stripe_customer_id: str, payment_method_id: str) -> None:
        """The Customer's `invoice_settings.default_payment_method`."""


# --- off-session charges (installment plans) ------------------------------------------------

# Stripe's error code when the bank wants the cardholder present (off-session, SCA): never
# retried off-session; the customer pays on-session (SECURITY.md P8).
AUTHENTICATION_REQUIRED = "authentication_required"


@dataclass(frozen=True)
class OffSessionChargeRequest:
    """Create and confirm a PaymentIntent on a saved card or bank account, with the customer not present
    (`off_session=true`): a charge the customer agreed to in advance (an installment)."""

    amount: Money
    stripe_customer_id: str
    payment_method_id: str
    idempotency_key: str  # one per attempt, saved in our database before the call
    reference: str  # our payment's public id, stored in the intent's metadata
    metadata: dict[str, str] = field(default_factory=dict)
    # A saved US bank account: the ACH mandate Stripe made when it was saved (debited under it).
    mandate_id: str = ""


class OffSessionGateway(Protocol):
    """The off-session charge the installment collector makes. Declines (and Stripe's
    `authentication_required`) raise PaymentDeclined with Stripe's decline code as `code`."""

    livemode: bool

    def create_off_session_intent(self, request: OffSessionChargeRequest) -> IntentSnapshot: ...
