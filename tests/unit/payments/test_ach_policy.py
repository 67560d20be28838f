"""US bank account payments: what the customer reads for a bank's return code, when a debit
is expected to settle, and what a bank account form must carry."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from portal.domain.core.locales import translate
from portal.domain.payments.policy import (
    ACH_RETURN_FALLBACK, AllocationRequest, CardPaymentForm, PaymentRefused, ach_expected_by, ach_return_reason,
    check_form_shape, in_flight_label,
)


@pytest.mark.parametrize("code, words", [
    ("R01", "insufficient funds"),
    ("insufficient_funds", "insufficient funds"),
    ("R02", "account is closed"),
    ("account_closed", "account is closed"),
    ("R03", "could not find this account"),
    ("no_account", "could not find this account"),
    ("R04", "account number is not valid"),
    ("invalid_account_number", "account number is not valid"),
    ("R07", "revoked the authorization"),
    ("R08", "stop this payment"),
    ("R10", "not authorized by the account holder"),
    ("R29", "not authorized by the account holder"),
    ("debit_not_authorized", "not authorized by the account holder"),
    ("r10", "not authorized by the account holder"),  # case forgiven
    (" R01 ", "insufficient funds"),
    ("R16", "frozen"),
    ("bank_account_restricted", "does not allow debits"),
])
def test_return_codes_become_plain_sentences(code, words):
    assert words in ach_return_reason(code)


@pytest.mark.parametrize("code", ["", "R99", "something_new", "generic_decline"])
def test_unknown_return_codes_get_the_plain_fallback(code):
    assert ach_return_reason(code) == ACH_RETURN_FALLBACK


@pytest.mark.parametrize("started, expected", [
    (date(2026, 11, 30), date(2026, 12, 4)),  # Monday -> Friday
    (date(2026, 12, 2), date(2026, 12, 8)),  # Wednesday -> Tuesday, over the weekend
    (date(2026, 12, 4), date(2026, 12, 10)),  # Friday -> Thursday
    (date(2026, 12, 5), date(2026, 12, 10)),  # Saturday -> Thursday
    (date(2026, 12, 6), date(2026, 12, 10)),  # Sunday -> Thursday
])
def test_a_debit_is_expected_four_business_days_after_it_started(started, expected):
    assert ach_expected_by(started) == expected


def test_in_flight_label_names_the_expected_day_for_a_bank_debit_only():
    started = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    label = in_flight_label("Payment processing", "us_bank_account", "processing", started)
    assert str(label) == "Processing, expected by 08 Dec 2026"
    # Translated where it is read, the date written the reader's way.
    assert translate(label, "fr") == "En cours, prévu d'ici le 8 déc. 2026"
    assert translate(label, "de") == "In Bearbeitung, erwartet bis 08.12.2026"
    assert in_flight_label("Payment processing", "card", "processing", started) == "Payment processing"
    assert "verification" in in_flight_label("x", "us_bank_account", "requires_action", started)


def _form(**fields) -> CardPaymentForm:
    return CardPaymentForm(nonce="n" * 24, allocations=(AllocationRequest("inv", "1.00"),), **fields)


@pytest.mark.parametrize("fields, message", [
    ({"confirmation_token": "ctoken_x", "method": "us_bank_account"}, "debit authorization"),
    ({"card_token": "tok_visa", "method": "us_bank_account", "mandate_accepted": True}, "bank form"),
    ({"confirmation_token": "ctoken_x", "method": "paypal", "mandate_accepted": True}, "card or US bank account"),
])
def test_bank_account_forms_are_checked_before_anything_is_read(fields, message):
    with pytest.raises(PaymentRefused, match=message):
        check_form_shape(_form(**fields))


def test_a_bank_account_form_with_its_mandate_accepted_passes():
    check_form_shape(_form(confirmation_token="ctoken_x", method="us_bank_account", mandate_accepted=True))
