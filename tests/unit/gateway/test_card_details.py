"""The card a payment was made with, as Stripe's answers name it (for the receipt)."""

from __future__ import annotations

import pytest

from portal.domain.gateway.stripe_adapter import snapshot_from_intent
from portal.domain.payments.queries import card_label

BASE = {"id": "pi_1", "status": "succeeded", "amount": 1000, "currency": "usd", "livemode": False}


@pytest.mark.parametrize("extra, card", [
    # Real Stripe, payment_method expanded.
    ({"payment_method": {"object": "payment_method", "card": {"brand": "mastercard", "last4": "4444"}}},
     ("mastercard", "4444")),
    # localstripe: a legacy Card object (what a card token names).
    ({"payment_method": {"object": "card", "brand": "Visa", "last4": "4242"}}, ("visa", "4242")),
    # An embedded charge's payment_method_details.
    ({"payment_method": "pm_1", "latest_charge": {"id": "ch_1", "payment_method_details": {
        "type": "card", "card": {"brand": "amex", "last4": "0005"}}}}, ("amex", "0005")),
    # A webhook payload: ids only.
    ({"payment_method": "pm_1", "latest_charge": "ch_1"}, ("", "")),
    ({}, ("", "")),
    # Nonsense is dropped rather than shown.
    ({"payment_method": {"card": {"brand": "visa", "last4": "42<b>"}}}, ("visa", "")),
    ({"payment_method": {"card": "visa"}}, ("", "")),
])
def test_the_card_is_read_from_whatever_the_answer_carries(extra, card):
    snapshot = snapshot_from_intent({**BASE, **extra})
    assert (snapshot.card_brand, snapshot.card_last4) == card


def test_card_labels_read_as_on_a_card_statement():
    assert card_label("visa", "4242") == "Visa ending in 4242"
    assert card_label("amex", "0005") == "American Express ending in 0005"
    assert card_label("cartes_bancaires", "1234") == "Cartes Bancaires ending in 1234"
    assert card_label("new_network", "1234") == "New Network ending in 1234"
    assert card_label(None, "1234") == "Card ending in 1234"
    assert card_label("visa", None) == ""
