"""Exact money (SECURITY.md P5): minor units, the exponent table, Stripe's currency rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.domain.core.money import CURRENCY_EXPONENTS, CurrencyMismatch, Money, MoneyError, UnknownCurrency
from portal.domain.gateway.amounts import (
    STRIPE_MAXIMUM_AMOUNT, STRIPE_THREE_DECIMAL, from_stripe_amount, stripe_minimum, to_stripe_amount,
)


@pytest.mark.parametrize(("currency", "typed", "minor", "plain", "shown"), [
    ("USD", "1,234.56", 123_456, "1234.56", "$1,234.56"),
    ("USD", "0.5", 50, "0.50", "$0.50"),
    ("JPY", "12,345", 12_345, "12345", "¥12,345"),
    ("KWD", "1.234", 1_234, "1.234", "KWD1.234"),
    ("KWD", "10", 10_000, "10.000", "KWD10.000"),
])
def test_round_trips(currency, typed, minor, plain, shown):
    money = Money.parse(typed, currency)
    assert money == Money(minor, currency)
    assert money.plain() == plain
    assert Money.parse(money.plain(), currency) == money
    assert money.format().replace("\xa0", "") == shown


@pytest.mark.parametrize(("currency", "typed"), [("USD", "10.005"), ("JPY", "1.5"), ("KWD", "0.0001")])
def test_more_decimals_than_the_currency_has_are_refused_not_rounded(currency, typed):
    with pytest.raises(MoneyError):
        Money.parse(typed, currency)


@pytest.mark.parametrize("typed", ["", "  ", "abc", "1e3x", "NaN", "Infinity", "1.2.3"])
def test_non_amounts_are_refused(typed):
    with pytest.raises(MoneyError):
        Money.parse(typed, "USD")


@pytest.mark.parametrize("currency", ["XYZ", "usdd", "", "BTC"])
def test_unknown_currency_is_refused(currency):
    with pytest.raises(UnknownCurrency):
        Money(100, currency)
    with pytest.raises(UnknownCurrency):
        Money.parse("1", currency)


def test_floats_and_bools_are_not_money():
    for value in (1.0, True, "100"):
        with pytest.raises(MoneyError):
            Money(value, "USD")


def test_currencies_do_not_mix():
    with pytest.raises(CurrencyMismatch):
        Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(CurrencyMismatch):
        Money(100, "USD") < Money(100, "JPY")  # noqa: B015 (the comparison itself raises)


def test_stripe_amounts():
    assert to_stripe_amount(Money(1_000, "JPY")) == 1_000  # zero-decimal: yen, not hundredths
    assert to_stripe_amount(Money(12_340, "KWD")) == 12_340
    with pytest.raises(MoneyError):
        to_stripe_amount(Money(12_345, "KWD"))  # Stripe wants the last digit 0
    assert from_stripe_amount(2_000, "usd") == Money(2_000, "USD")
    assert stripe_minimum("usd") == Money(50, "USD") and stripe_minimum("JPY") == Money(50, "JPY")


def test_stripe_minimums_follow_stripes_table():
    # Stripe's table: INR 0.50 (not 50.00), SEK 3.00, GBP 0.30.
    assert stripe_minimum("INR") == Money(50, "INR")
    assert stripe_minimum("SEK") == Money(300, "SEK")
    assert stripe_minimum("GBP") == Money(30, "GBP")
    # Not in Stripe's table: no guessed minimum (Stripe decides from its exchange rate).
    assert stripe_minimum("ZAR") == Money(1, "ZAR") and stripe_minimum("KWD") == Money(10, "KWD")


@pytest.mark.parametrize("currency", ["USD", "JPY", "KWD"])
def test_amounts_above_stripes_eight_digits_are_refused_before_stripe(currency):
    assert to_stripe_amount(Money(STRIPE_MAXIMUM_AMOUNT - 9, currency)) == 99_999_990
    with pytest.raises(MoneyError, match="at most"):
        to_stripe_amount(Money(STRIPE_MAXIMUM_AMOUNT + 1, currency))


currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
amounts = st.integers(min_value=-10**15, max_value=10**15)


@given(st.integers(min_value=0, max_value=10**15 - 1), currencies)
def test_parse_of_plain_is_identity(minor, currency):
    money = Money(minor, currency)
    assert Money.parse(money.plain(), currency) == money
    assert Money.parse("0" + money.plain(), currency) == money


@given(st.integers(min_value=1, max_value=10**15), currencies)
def test_a_typed_amount_carries_no_sign(minor, currency):
    with pytest.raises(MoneyError):
        Money.parse(Money(-minor, currency).plain(), currency)


@given(st.lists(amounts, max_size=20), currencies)
def test_sums_are_exact(minors, currency):
    total = Money.zero(currency)
    for minor in minors:
        total = total + Money(minor, currency)
    assert total == Money(sum(minors), currency)
    assert total - total == Money.zero(currency)


@given(st.integers(min_value=1, max_value=STRIPE_MAXIMUM_AMOUNT), currencies)
def test_stripe_round_trip(minor, currency):
    money = Money(minor, currency)
    if currency in STRIPE_THREE_DECIMAL and minor % 10:
        with pytest.raises(MoneyError):
            to_stripe_amount(money)
    else:
        assert from_stripe_amount(to_stripe_amount(money), currency.lower()) == money


# --- the cached formatter must say exactly what Babel says ----------------------------------

from hypothesis import given as _given, settings as _settings, strategies as _st  # noqa: E402

from portal.domain.core.money import CURRENCY_EXPONENTS as _EXPONENTS, _babel_format # noqa: E402

_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "ja_JP", "en_IN", "de_CH")


@_settings(max_examples=300, deadline=None)
@_given(
    minor=_st.integers(min_value=-10**15, max_value=10**15),
    currency=_st.sampled_from(sorted(_EXPONENTS)),
    locale=_st.sampled_from(_LOCALES),
)
def test_fast_formatting_matches_babel_everywhere(minor, currency, locale):
    assert Money(minor, currency).format(locale) == _babel_format(minor, currency, locale)


# SECURITY.md P16: typed amounts are bounded text. `Decimal("1E+999990")` is cheap, but scaling
# it to minor units builds a 3.3-million-bit integer; `1e999999999` overflowed into a 500.
HOSTILE_AMOUNTS = [
    "1E+999990", "1e999999999", "1E+99", "1e2", "-1e-999999999", "9" * 10_000, "1" + "0" * 40,
    "0." + "0" * 10_000 + "1", "NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf",
    "-10.00", "+10.00", "١٢٣", "１２３", "12\u00a0345", "1_000", "0x10", "1,00", "1,2345.00",
    ".", "5.", "1..2", "1.2.3", "10.00\x00", "10\r\n.00", " 1 0 ",
]


@pytest.mark.parametrize("typed", HOSTILE_AMOUNTS)
def test_hostile_amount_text_is_refused_as_text(typed):
    with pytest.raises(MoneyError):
        Money.parse(typed, "USD")


@pytest.mark.parametrize(("typed", "minor"), [
    ("1,234,567.89", 123_456_789), ("1234567.89", 123_456_789), (".5", 50), ("007.10", 710),
    ("999,999,999,999,999.99", 99_999_999_999_999_999), (" 12 ", 1_200),
])
def test_ordinary_amount_text_still_parses(typed, minor):
    assert Money.parse(typed, "USD") == Money(minor, "USD")


def test_the_whole_digits_are_capped():
    with pytest.raises(MoneyError, match="too large"):
        Money.parse("1" + "0" * 15, "USD")
    with pytest.raises(MoneyError, match="too long"):
        Money.parse("1" * 33, "JPY")

