"""Stripe's rules for amounts: its units per currency, its minimum charge, its maximum.

Kept beside the Stripe adapter, away from `core.money`, because they are Stripe's and not
money's: another processor would bring its own.
"""

from __future__ import annotations

from portal.domain.core.errors import Text
from portal.domain.core.locales import N_
from portal.domain.core.money import Money, MoneyError, normalize_currency

# Stripe's smallest chargeable amount per currency, in our minor units, as Stripe's table
# ("Minimum and maximum charge amounts", docs.stripe.com/currencies) lists them in major units:
# USD 0.50, GBP 0.30, INR 0.50, JPY 50, HUF 175 ... Only the currencies of that table are here.
# For any other currency Stripe's rule is "the equivalent of 0.50 USD in the settlement
# currency", which depends on the day's exchange rate: we do not guess it; Stripe answers
# `amount_too_small` and the clerk is told the amount is below the card minimum.
# These minimums hold when the charge currency is the account's settlement currency; a charge in
# another currency must also reach the settlement currency's minimum after conversion (README).
STRIPE_MINIMUM_CHARGE: dict[str, int] = {
    "USD": 50, "AED": 200, "AUD": 50, "BGN": 100, "BRL": 50, "CAD": 50, "CHF": 50, "CZK": 1500,
    "DKK": 250, "EUR": 50, "GBP": 30, "HKD": 400, "HUF": 17500, "INR": 50, "JPY": 50, "MXN": 1000,
    "MYR": 200, "NOK": 300, "NZD": 50, "PLN": 200, "RON": 200, "SEK": 300, "SGD": 50, "THB": 1000,
}
# Stripe's `amount` takes at most eight digits, in every currency.
STRIPE_MAXIMUM_AMOUNT = 99_999_999

# Currencies Stripe treats as zero-decimal. Stripe's three-decimal currencies take amounts in
# thousandths like ours, but must be multiples of 10 (the last digit must be 0).
STRIPE_ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "XOF"})
STRIPE_THREE_DECIMAL = frozenset({"KWD", "BHD", "JOD", "OMR", "TND"})

def to_stripe_amount(money: Money) -> int:
    """Convert to the integer Stripe expects in `amount` for this currency."""
    if money.currency in STRIPE_THREE_DECIMAL and money.minor % 10:
        raise MoneyError(Text(N_("%(currency)s card amounts must end in 0 (Stripe's rule)"), currency=money.currency))
    if money.minor > STRIPE_MAXIMUM_AMOUNT:
        raise MoneyError(Text(N_("A card payment can be at most %(amount)s: pay this in several payments or by "
                                 "bank transfer."), amount=stripe_maximum(money.currency)))
    return money.minor


def from_stripe_amount(amount: int, currency: str) -> Money:
    return Money(int(amount), normalize_currency(currency))


def stripe_minimum(currency: str) -> Money:
    """The smallest amount we let a clerk try: Stripe's listed minimum, else one unit Stripe
    can take (10 thousandths for its three-decimal currencies; Stripe decides the rest)."""
    currency = normalize_currency(currency)
    return Money(STRIPE_MINIMUM_CHARGE.get(currency, 10 if currency in STRIPE_THREE_DECIMAL else 1), currency)


def stripe_maximum(currency: str) -> Money:
    return Money(STRIPE_MAXIMUM_AMOUNT, normalize_currency(currency))
