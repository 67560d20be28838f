"""Stripe's rules for amounts: its units per currency, its minimum charge, its maximum.

Kept beside the Stripe adapter, away from `core.money`, because they are Stripe's and not
money's: another processor would bring its own.
"""

from __future__ import annotations

from portal.domain.core.money import Money, MoneyError, normalize_currency

# Stripe's smallest chargeable amount per currency, in our minor units. Stripe states these
# as major-unit amounts (USD 0.50, GBP 0.30, JPY 50 ...); currencies without an entry use the
# USD-equivalent rule of thumb of 50 minor units.
STRIPE_MINIMUM_CHARGE: dict[str, int] = {
    "USD": 50, "EUR": 50, "GBP": 30, "CAD": 50, "AUD": 50, "NZD": 50, "CHF": 50,
    "SEK": 300, "NOK": 300, "DKK": 250, "PLN": 200, "CZK": 1500, "MXN": 1000, "SGD": 50,
    "HKD": 400, "ZAR": 1000, "INR": 5000, "BRL": 50, "JPY": 50, "KRW": 500,
    "KWD": 150, "BHD": 200, "JOD": 350, "OMR": 200, "TND": 1500,
}

# Currencies Stripe treats as zero-decimal. Stripe's three-decimal currencies take amounts in
# thousandths like ours, but must be multiples of 10 (the last digit must be 0).
STRIPE_ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "XOF"})
STRIPE_THREE_DECIMAL = frozenset({"KWD", "BHD", "JOD", "OMR", "TND"})



def to_stripe_amount(money: Money) -> int:
    """Convert to the integer Stripe expects in `amount` for this currency."""
    if money.currency in STRIPE_THREE_DECIMAL and money.minor % 10:
        raise MoneyError(f"{money.currency} card amounts must end in 0 (Stripe's rule)")
    return money.minor


def from_stripe_amount(amount: int, currency: str) -> Money:
    return Money(int(amount), normalize_currency(currency))


def stripe_minimum(currency: str) -> Money:
    currency = normalize_currency(currency)
    return Money(STRIPE_MINIMUM_CHARGE.get(currency, 50), currency)
