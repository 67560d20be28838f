"""The payment reference's format: "PAY-2026-000123", nothing that can be misread."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from portal.domain.payments.policy import (
    MAX_REFERENCE_LENGTH, REFERENCE_PATTERN, parse_payment_reference, payment_reference,
)


def test_the_reference_names_the_year_and_a_six_digit_number():
    assert payment_reference(2026, 123) == "PAY-2026-000123"
    assert payment_reference(2027, 1) == "PAY-2027-000001"
    assert payment_reference(2026, 999_999) == "PAY-2026-999999"
    assert payment_reference(2026, 1_000_000) == "PAY-2026-1000000"  # grows, never wraps


@pytest.mark.parametrize("year, number", [(2026, 0), (2026, -1), (999, 1), (10_000, 1), (2026, 10**9)])
def test_out_of_range_numbers_are_refused(year, number):
    with pytest.raises(ValueError):
        payment_reference(year, number)


@given(st.integers(1000, 9999), st.integers(1, 10**9 - 1))
def test_every_reference_reads_back_as_its_year_and_number_and_fits_the_column(year, number):
    reference = payment_reference(year, number)
    assert parse_payment_reference(reference) == (year, number)
    assert REFERENCE_PATTERN.match(reference)
    assert len(reference) <= MAX_REFERENCE_LENGTH
    # Only the fixed prefix and digits: no O/0, I/1/l, S/5 or B/8 to confuse on the phone.
    assert set(reference) <= set("PAY-0123456789")


@given(st.tuples(st.integers(1000, 9999), st.integers(1, 10**9 - 1)),
       st.tuples(st.integers(1000, 9999), st.integers(1, 10**9 - 1)))
def test_two_different_numbers_never_share_a_reference(a, b):
    assert (payment_reference(*a) == payment_reference(*b)) == (a == b)


@pytest.mark.parametrize("text, parsed", [
    (" pay-2026-000123 ", (2026, 123)),
    ("PAY-2026-000000", None),
    ("PAY-2026-12345", None),
    ("PAY-26-000123", None),
    ("PAY-2026-00O123", None),
    ("pi_3Nx2026000123", None),
    ("PAY-2026-000123\nPAY", None),
    ("", None),
    ("PAY-2026-" + "1" * 10_000, None),
])
def test_parsing_accepts_only_well_formed_references(text, parsed):
    assert parse_payment_reference(text) == parsed
