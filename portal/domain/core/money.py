"""Exact money: integer minor units tagged with an ISO 4217 currency.

Floats never appear. Amounts typed by people are checked as bounded text (digits, separators,
the currency's decimals) and turned into integers without any decimal arithmetic; they must
fit the currency's exponent exactly ("10.005" USD is refused, not rounded). Display goes
through Babel so every currency gets its own symbol and number of decimals.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, parse_pattern

from portal.domain.core.errors import Text
from portal.domain.core.locales import N_


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


class UnknownCurrency(MoneyError):
    pass


class CurrencyMismatch(MoneyError):
    pass


# ISO 4217 minor-unit exponents for the currencies we accept. A currency not listed here is
# refused everywhere rather than guessed.
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "NZD": 2, "CHF": 2, "SEK": 2,
    "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "MXN": 2, "SGD": 2, "HKD": 2, "ZAR": 2,
    "INR": 2, "BRL": 2,
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "XOF": 0,
    "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3,
}

# Typed amounts (Money.parse): plain ASCII digits, commas only between groups of three, one
# decimal point. Anything longer than the cap, or with more whole digits than any invoice can
# have, is refused before it becomes a number.
MAX_AMOUNT_TEXT = 32
MAX_WHOLE_DIGITS = 15
_AMOUNT_TEXT = re.compile(
    r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.(?P<decimals>[0-9]+))?", re.ASCII,
)


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(f"Unsupported currency: {currency!r}") from None


def normalize_currency(code: str) -> str:
    code = (code or "").strip().upper()
    exponent(code)
    return code


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in minor units of one currency. Arithmetic refuses to mix currencies."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise MoneyError("Money amounts are whole minor units (int)")
        exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a typed amount such as "1,234.50" exactly; refuse extra decimals.

        The text is checked as text before any arithmetic (SECURITY.md P16): ASCII digits,
        optional thousands separators (commas in groups of three), at most one decimal point
        followed by at most the currency's decimals, and at most `MAX_AMOUNT_TEXT` characters.
        No sign, exponent, NaN, Infinity or non-ASCII digit gets through, so no input can make
        this build a huge number.
        """
        currency = normalize_currency(currency)
        exp = exponent(currency)
        cleaned = text.strip() if isinstance(text, str) else ""
        if not cleaned:
            raise MoneyError(Text(N_("Enter an amount")))
        if len(cleaned) > MAX_AMOUNT_TEXT:
            raise MoneyError(Text(N_("That amount is too long")))
        match = _AMOUNT_TEXT.fullmatch(cleaned)
        if match is None:
            raise MoneyError(Text(N_("Enter the amount as digits, for example 1,234.50")) if exp else
                             Text(N_("Enter the amount as digits, for example 1,234")))
        whole, decimals = (match.group("whole") or "").replace(",", ""), match.group("decimals") or ""
        if len(decimals) > exp:
            raise MoneyError(
                Text(N_("%(currency)s amounts have %(count)s decimal place"), currency=currency, count=exp)
                if exp == 1 else
                Text(N_("%(currency)s amounts have %(count)s decimal places"), currency=currency, count=exp)
                if exp else Text(N_("%(currency)s amounts have no decimal places"), currency=currency)
            )
        if len(whole.lstrip("0")) > MAX_WHOLE_DIGITS:
            raise MoneyError(Text(N_("That amount is too large")))
        return cls(int(whole or "0") * 10 ** exp + int(decimals.ljust(exp, "0") or "0"), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money only combines with Money")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    @property
    def is_zero(self) -> bool:
        return self.minor == 0

    def as_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def plain(self) -> str:
        """The amount as a plain number with the currency's decimals, for form fields."""
        exp = exponent(self.currency)
        return f"{self.as_decimal():.{exp}f}"

    def format(self, locale: str = "en_US") -> str:
        return _currency_format(self.currency, locale).apply(self.minor)

    def __str__(self) -> str:
        return self.format()


def _pattern_text(currency: str, locale: str) -> str:
    """The locale's standard currency pattern; for a currency with other than 0 or 2 decimals
    (KWD) the same pattern with that many ("#,##0.000 ¤"), symbol and spacing where the
    locale puts them."""
    exp = exponent(currency)
    text = Locale.parse(locale).currency_formats["standard"].pattern
    return text if exp in (0, 2) else text.replace("0.00", "0." + "0" * exp)


def _babel_format(minor: int, currency: str, locale: str) -> str:
    exp = exponent(currency)
    pattern = None if exp in (0, 2) else _pattern_text(currency, locale)
    return format_currency(
        Decimal(minor).scaleb(-exp), currency, format=pattern, locale=locale,
        currency_digits=pattern is None,
    )


@dataclass(frozen=True)
class _CurrencyFormat:
    """Babel's currency format for one (currency, locale), read once and applied cheaply.

    `format_currency` re-reads the locale's data on every call (about 30 µs); a page of 25
    invoices formats some 50 amounts. The pieces are taken from the same CLDR pattern Babel
    uses, and `_currency_format` checks them against Babel before trusting them.
    """

    exponent: int
    positive: tuple[str, str]
    negative: tuple[str, str]
    decimal: str
    group: str
    primary_group: int
    secondary_group: int

    def _grouped(self, digits: str) -> str:
        if len(digits) <= self.primary_group:
            return digits
        head, tail = digits[: -self.primary_group], digits[-self.primary_group:]
        parts = [tail]
        while len(head) > self.secondary_group:
            parts.append(head[-self.secondary_group:])
            head = head[: -self.secondary_group]
        parts.append(head)
        return self.group.join(reversed(parts))

    def apply(self, minor: int) -> str:
        prefix, suffix = self.negative if minor < 0 else self.positive
        digits = str(abs(minor)).rjust(self.exponent + 1, "0")
        if self.exponent:
            number = self._grouped(digits[: -self.exponent]) + self.decimal + digits[-self.exponent:]
        else:
            number = self._grouped(digits)
        return f"{prefix}{number}{suffix}"


class _UseBabel:
    def __init__(self, currency: str, locale: str) -> None:
        self.currency, self.locale = currency, locale

    def apply(self, minor: int) -> str:
        return _babel_format(minor, self.currency, self.locale)


@lru_cache(maxsize=256)
def _currency_format(currency: str, locale: str) -> _CurrencyFormat | _UseBabel:
    exp = exponent(currency)
    babel_locale = Locale.parse(locale)
    text = _pattern_text(currency, locale)
    pattern = parse_pattern(text)
    symbol = babel_locale.currency_symbols.get(currency, currency)
    symbols = babel_locale.number_symbols["latn"]
    fast = _CurrencyFormat(
        exponent=exp,
        positive=(pattern.prefix[0].replace("¤", symbol), pattern.suffix[0].replace("¤", symbol)),
        negative=(pattern.prefix[1].replace("¤", symbol), pattern.suffix[1].replace("¤", symbol)),
        decimal=symbols["decimal"], group=symbols["group"],
        primary_group=pattern.grouping[0], secondary_group=pattern.grouping[1],
    )
    # Spacing rules and exotic patterns are Babel's business: where a probe differs, use Babel.
    probes = (0, 5, -5, 123_456_789, -987_654_321_012)
    if all(fast.apply(p) == _babel_format(p, currency, locale) for p in probes):
        return fast
    return _UseBabel(currency, locale)


def total(amounts: list[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


Weight = int | float | Decimal | Fraction


def largest_remainder(total: int, weights: Sequence[Weight]) -> list[int]:
    """Whole numbers proportional to `weights` that add up to exactly `total`.

    Each part first gets the whole part of its exact share; the units left over go one each to
    the largest fractional remainders, earlier positions first on a tie, so the result is the
    same on every run. Shares are computed with exact fractions (a float weight counts at its
    exact binary value), never rounded floats. A zero weight gets zero.
    """
    if isinstance(total, bool) or not isinstance(total, int):
        raise MoneyError("Only a whole number of units can be split")
    if not weights:
        raise MoneyError("Nothing to split between: no weights")
    try:
        exact_weights = [Fraction(weight) for weight in weights]
    except (TypeError, ValueError, OverflowError):
        raise MoneyError("Weights must be finite numbers") from None
    if any(weight < 0 for weight in exact_weights):
        raise MoneyError("Weights cannot be negative")
    weight_sum = sum(exact_weights)
    if weight_sum == 0:
        raise MoneyError("At least one weight must be positive")
    units = abs(total)
    shares = [units * weight / weight_sum for weight in exact_weights]
    parts = [int(share) for share in shares]  # shares are >= 0: int() is the floor
    left_over = units - sum(parts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (parts[i] - shares[i], i))
    for i in by_remainder[:left_over]:
        parts[i] += 1
    return [-part for part in parts] if total < 0 else parts


def allocate(total: Money, weights: Sequence[Weight]) -> list[Money]:
    """Split `total` into parts proportional to `weights` that add up to it exactly, to the
    minor unit (largest remainder; see `largest_remainder`). Equal weights give parts that
    differ by at most one minor unit, the earlier parts taking the extra units."""
    return [Money(part, total.currency) for part in largest_remainder(total.minor, weights)]
