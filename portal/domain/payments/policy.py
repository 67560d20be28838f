"""Pure decisions about card payments: what a pay form may contain, what is payable, when card
payments pause. No database, no gateway: each function decides from its arguments.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from portal.domain.core.errors import DomainError
from portal.domain.core.locales import DEFAULT_LANGUAGE, N_, Text, language_or_default, translations
from portal.domain.core.money import Money
from portal.domain.ledger.queries import Standing

NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CARD_TOKEN_PATTERN = re.compile(r"^tok_[A-Za-z0-9_]{1,250}$")
CONFIRMATION_TOKEN_PATTERN = re.compile(r"^ctoken_[A-Za-z0-9_]{1,240}$")
MAX_INVOICES_PER_PAYMENT = 50
MAX_REASON_LENGTH = 200
MAX_PO_LENGTH = 60
MAX_MEMO_LENGTH = 500
SHORT_PAY_REASONS = ("Partial payment", "Amount in question, we will write to you", "Credit expected", "Other")

# Card testing: whoever holds a link tries stolen cards one after another. Only real declines
# count (a `PaymentDeclined` from the card network: the attempt's failure_code is the decline
# code); a token Stripe does not know, or Stripe refusing *us* (keys, API version, limits), is
# recorded with a failure_code starting "refused:" and never counts. Declines are counted from
# our own payment rows (under the customer lock), so every web process agrees, at three levels,
# so that one holder cannot lock everyone else out:
# - one invoice link (a forwarded link's holder): 3 declines in the window pause that link;
# - one contact (all their sessions): 5 pause that contact: a clerk who mistypes twice is fine;
# - the whole customer: 15, from any mix of contacts and links, pause card payments for all.
# A pause lasts until the oldest counted decline leaves the window.
DECLINE_WINDOW = timedelta(hours=1)
DECLINES_BEFORE_PAUSE = {"link": 3, "contact": 5, "customer": 15}
NOT_A_DECLINE_PREFIX = "refused:"
_PAUSED = {
    "link": N_("%(count)s cards were declined through this link within an hour, so card payments are paused "
               "for %(minutes)s minutes to protect the account. Nothing was charged. If you need to pay "
               "sooner, write to us."),
    "contact": N_("%(count)s cards were declined for you within an hour, so card payments are paused for "
                  "%(minutes)s minutes to protect the account. Nothing was charged. If you need to pay sooner, "
                  "write to us."),
    "customer": N_("%(count)s cards were declined for this account within an hour, so card payments are paused "
                   "for %(minutes)s minutes to protect the account. Nothing was charged. If you need to pay "
                   "sooner, write to us."),
}


class PaymentRefused(DomainError):
    """The request cannot be paid as asked; nothing was changed."""


class PaymentConflict(PaymentRefused):
    """The payment's current state does not allow what was asked (e.g. cancel after it went
    through); nothing was changed."""


class PaymentsPaused(PaymentRefused):
    """Card payments for this customer are paused for a while (too many declines)."""

    def __init__(self, message: str | Text, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


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
    card_token: str = ""  # "tok_..." from the card element (localstripe)
    po_number: str = ""
    memo: str = ""
    confirmation_token: str = ""  # "ctoken_..." from the Payment Element (real Stripe)
    # What the Payment Element says was chosen ("card" or "us_bank_account"), and whether the
    # ACH debit mandate shown with a bank account was accepted.
    method: str = "card"
    mandate_accepted: bool = False

    @property
    def payment_token(self) -> str:
        return self.confirmation_token or self.card_token


def check_form_shape(form: CardPaymentForm) -> None:
    """Refusals that need no database: a malformed form changes nothing and costs nothing."""
    if not NONCE_PATTERN.match(form.nonce or ""):
        raise PaymentRefused(N_("This payment form has expired. Reload the page and try again."))
    tokens = [t for t in (form.card_token, form.confirmation_token) if t]
    if len(tokens) != 1 or not (CARD_TOKEN_PATTERN.match(form.card_token or "")
                                or CONFIRMATION_TOKEN_PATTERN.match(form.confirmation_token or "")):
        raise PaymentRefused(N_("Enter your card details."))
    if form.method not in PAYMENT_METHODS:
        raise PaymentRefused(N_("Choose how to pay: card or US bank account."))
    if form.method == BANK_ACCOUNT and not form.confirmation_token:
        raise PaymentRefused(N_("Bank account payments need the page's bank form: reload the page and try again."))
    if form.method == BANK_ACCOUNT and not form.mandate_accepted:
        raise PaymentRefused(N_("Accept the debit authorization shown with the bank account to pay from it."))
    if not form.allocations:
        raise PaymentRefused(N_("Choose at least one invoice to pay."))
    if len(form.allocations) > MAX_INVOICES_PER_PAYMENT:
        raise PaymentRefused(N_("Pay at most %(count)s invoices at once."), count=MAX_INVOICES_PER_PAYMENT)
    ids = [a.invoice_public_id for a in form.allocations]
    if len(set(ids)) != len(ids):
        raise PaymentRefused(N_("An invoice appears twice in this payment."))
    if len(form.po_number.strip()) > MAX_PO_LENGTH:
        raise PaymentRefused(N_("The PO number can be at most %(count)s characters."), count=MAX_PO_LENGTH)
    if len(form.memo.strip()) > MAX_MEMO_LENGTH:
        raise PaymentRefused(N_("The memo can be at most %(count)s characters."), count=MAX_MEMO_LENGTH)
    for allocation in form.allocations:
        if len(allocation.reason.strip()) > MAX_REASON_LENGTH:
            raise PaymentRefused(N_("A reason can be at most %(count)s characters."), count=MAX_REASON_LENGTH)


def request_key(nonce: str, currency: str, amounts: dict[str, Money]) -> str:
    """Same form (nonce) with the same allocations -> same key; any change -> a new attempt."""
    canonical = ";".join(f"{public_id}={amounts[public_id].minor}" for public_id in sorted(amounts))
    return hashlib.sha256(f"{nonce}|{currency}|{canonical}".encode()).hexdigest()


def check_payable(standing: Standing, amount: Money, reason: str) -> None:
    number = standing.invoice.number
    if standing.is_paid:
        raise PaymentRefused(N_("Invoice %(number)s is already paid."), number=number)
    payable = standing.payable
    disputed = standing.disputed
    if payable.is_zero and not disputed.is_zero and standing.in_flight.is_zero:
        raise PaymentRefused(
            N_("Invoice %(number)s: its open balance of %(amount)s is disputed and can be paid "
               "once the dispute is resolved."), number=number, amount=disputed,
        )
    if payable.is_zero:
        raise PaymentRefused(
            N_("Invoice %(number)s already has a payment in progress. Wait until it completes or fails."),
            number=number,
        )
    if amount > payable:
        paying, held = not standing.in_flight.is_zero, not disputed.is_zero
        if paying and held:
            template = N_("Invoice %(number)s: at most %(amount)s can be paid now (%(in_flight)s is already being "
                          "paid; %(disputed)s is disputed and held until the dispute is resolved).")
        elif paying:
            template = N_("Invoice %(number)s: at most %(amount)s can be paid now (%(in_flight)s is already being "
                          "paid).")
        elif held:
            template = N_("Invoice %(number)s: at most %(amount)s can be paid now (%(disputed)s is disputed and "
                          "held until the dispute is resolved).")
        else:
            template = N_("Invoice %(number)s: at most %(amount)s can be paid now.")
        raise PaymentRefused(template, number=number, amount=payable, in_flight=standing.in_flight, disputed=disputed)
    if amount < payable and not reason:
        raise PaymentRefused(N_("Reason required for invoice %(number)s: say why you are paying less than "
                                "%(amount)s."), number=number, amount=payable)


def refuse_while_declines_pile_up(declined_at: dict[str, Sequence[datetime]], now: datetime) -> None:
    """`declined_at[scope]`: the newest declines counted at that level (at most its limit),
    newest first; a scope that does not apply (no link) is absent or empty."""
    waits = {}
    for scope, limit in DECLINES_BEFORE_PAUSE.items():
        times = declined_at.get(scope) or ()
        if len(times) >= limit:
            waits[scope] = max(int((times[limit - 1] + DECLINE_WINDOW - now).total_seconds()), 60)
    if not waits:
        return
    scope = max(waits, key=lambda s: waits[s])
    wait = waits[scope]
    raise PaymentsPaused(
        Text(_PAUSED[scope], count=DECLINES_BEFORE_PAUSE[scope], minutes=-(-wait // 60)),
        retry_after_seconds=wait,
    )


# --- the payment reference ----------------------------------------------------------------
# What a clerk quotes on the phone, files with the remittance and finds on every page, email
# and PDF of one payment: "PAY-2026-000123", the year the attempt was started (UTC) and its
# number within that year. Digits only after the fixed prefix, so nothing can be misread
# (no O/0, I/1/l, S/5). Six digits are padded; a seventh is simply added past 999,999.
# URLs keep using the random public id: the reference is sequential, so it must never be
# what grants or finds access.
REFERENCE_PREFIX = "PAY"
REFERENCE_DIGITS = 6
REFERENCE_PATTERN = re.compile(rf"^{REFERENCE_PREFIX}-(\d{{4}})-(\d{{{REFERENCE_DIGITS},9}})$")
MAX_REFERENCE_LENGTH = 20  # the column's width: "PAY-" + year + "-" + up to 9 digits


def payment_reference(year: int, number: int) -> str:
    """The reference of the `number`th payment attempt started in `year`."""
    if not 1000 <= year <= 9999:
        raise ValueError(f"year {year} out of range")
    if not 1 <= number < 10**9:
        raise ValueError(f"reference number {number} out of range")
    return f"{REFERENCE_PREFIX}-{year:04d}-{number:0{REFERENCE_DIGITS}d}"


def parse_payment_reference(text: str) -> tuple[int, int] | None:
    """(year, number) of a well-formed reference (case and surrounding spaces forgiven), else None."""
    match = REFERENCE_PATTERN.match((text or "").strip().upper()[:MAX_REFERENCE_LENGTH + 1])
    if match is None:
        return None
    year, number = int(match.group(1)), int(match.group(2))
    return (year, number) if number >= 1 and year >= 1000 else None


# --- US bank account (ACH Direct Debit) ---------------------------------------------------
CARD = "card"
BANK_ACCOUNT = "us_bank_account"
PAYMENT_METHODS = (CARD, BANK_ACCOUNT)
# Money received outside Stripe and recorded by staff (`service.record_offline_payment`), as
# receipts name it (translated where the receipt is written, `queries.receipt_of`).
OFFLINE_METHOD_LABELS = {
    "offline_wire": N_("Wire transfer, received outside the portal"),
    "offline_ach": N_("ACH transfer, received outside the portal"),
    "offline_check": N_("Check, received outside the portal"),
    "offline_card": N_("Card payment made outside the portal"),
}
BANK_ACCOUNT_CURRENCIES = ("USD",)
# Stripe: an ACH debit takes up to 4 business days to succeed or fail.
ACH_BUSINESS_DAYS = 4

# The words shown beside a bank account on the pay page, in the contact's language, stored
# with each acceptance exactly as shown and sent to Stripe as the mandate's online acceptance.
# `%(supplier)s` is our company's name.
ACH_MANDATE_TEXT = N_(
    "By paying from a bank account, you authorize %(supplier)s to debit the account you choose for the "
    "amount shown, once, through the ACH network, and, if the debit is returned, to debit it again "
    "or otherwise collect the amount as the invoices allow. You can revoke this authorization by "
    "writing to us before the payment is submitted to your bank."
)
UNNAMED_SUPPLIER = N_("the supplier")


@dataclass(frozen=True)
class BankConsent:
    """Where a pay request came from, and the supplier whose name the mandate words carry."""

    ip: str = ""
    user_agent: str = ""
    supplier_name: str = ""
    language: str = DEFAULT_LANGUAGE  # the contact's, which the page showed the mandate in


@dataclass(frozen=True)
class StoredMandate:
    """The ACH mandate a customer accepted when saving a bank account (the words shown, when,
    from where), which an off-session debit of that account is made under."""

    text: str
    accepted_at: datetime
    ip: str = ""
    user_agent: str = ""


def mandate_text(supplier_name: str, language: str | None = DEFAULT_LANGUAGE) -> str:
    """The mandate words in `language`, as the pay page shows them and the debit stores them."""
    gettext = translations(language_or_default(language)).gettext
    return gettext(ACH_MANDATE_TEXT) % {"supplier": supplier_name or gettext(UNNAMED_SUPPLIER)}


def ach_expected_by(started: date) -> date:
    """When an ACH debit started on `started` should have settled: 4 business days later,
    weekends skipped (bank holidays are not counted: the date is an estimate)."""
    day, left = started, ACH_BUSINESS_DAYS
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def in_flight_label(label: str, method: str, status: str, started_at: datetime) -> str | Text:
    """"Processing, expected by 07 Dec 2026" for a bank debit on its way (a `Text`: the page
    translates it and writes the date its reader's way); `label` otherwise."""
    if method == BANK_ACCOUNT and status == "processing":
        return Text(N_("Processing, expected by %(day)s"), day=ach_expected_by(started_at.date()))
    if method == BANK_ACCOUNT and status == "requires_action":
        return N_("Waiting for bank account verification")
    return label


# What the bank said, in plain words. Keys: NACHA return codes and Stripe's failure codes and
# dispute reasons for ACH debits (`last_payment_error.code`, the dispute's `reason`).
_CLOSED = "Your bank says this account is closed. Pay with another account or by card."
_NOT_FOUND = "Your bank could not find this account. Check the routing and account numbers, or pay another way."
_NOT_AUTHORIZED = ("Your bank says the debit was not authorized by the account holder. If this was a mistake, "
                   "ask your bank to allow debits from us, then pay again.")
_FUNDS = "Your bank returned the debit for insufficient funds. Pay again once the funds are there, or pay by card."
_RESTRICTED = "Your bank does not allow debits from this account. Pay with another account or by card."
_STOPPED = "The account holder asked your bank to stop this payment. Pay again when ready, or pay by card."
ACH_RETURN_REASONS: dict[str, str] = {
    "R01": _FUNDS, "insufficient_funds": _FUNDS,
    "R02": _CLOSED, "account_closed": _CLOSED,
    "R03": _NOT_FOUND, "no_account": _NOT_FOUND,
    "R04": "The account number is not valid. Check it, or pay another way.",
    "invalid_account_number": "The account number is not valid. Check it, or pay another way.",
    "R05": _NOT_AUTHORIZED, "R07": "The account holder revoked the authorization for this debit. Pay another way.",
    "R08": _STOPPED,
    "R10": _NOT_AUTHORIZED, "R29": _NOT_AUTHORIZED, "debit_not_authorized": _NOT_AUTHORIZED,
    "R16": "Your bank has frozen this account. Pay with another account or by card.",
    "R20": "This account cannot be debited (it is not a checking or savings account). Pay another way.",
    "bank_account_restricted": _RESTRICTED,
    "bank_account_unusable": _RESTRICTED,
}
ACH_RETURN_FALLBACK = "Your bank did not pay this debit. Pay again with another account or by card."


def ach_return_reason(code: str) -> str:
    """The sentence a customer reads for what their bank said (a return or failure code)."""
    code = (code or "").strip()
    return ACH_RETURN_REASONS.get(code.upper() if code[:1] in "rR" and code[1:].isdigit() else code.lower(),
                                  ACH_RETURN_FALLBACK)
