"""What a SetupIntent read back from Stripe means for the method on it (a table), and what
the adapter reads from a SetupIntent carrying a US bank account."""

from __future__ import annotations

import pytest

from portal.domain.gateway.protocol import SETUP_STATUSES, SetupSnapshot
from portal.domain.gateway.stripe_adapter import parse_webhook_event, snapshot_from_setup
from portal.domain.methods.policy import (
    MethodRefused, describe_bank_account, offers_bank_accounts, refuse_unverified,
)
from portal.domain.methods.states import VERIFICATION_TRANSITIONS, Verification, verification_for_setup


def _setup(status: str, next_action: str = "", failure: str = "") -> SetupSnapshot:
    return SetupSnapshot(id="seti_1", status=status, stripe_customer_id="cus_1", livemode=False,
                         next_action=next_action, failure_message=failure)


@pytest.mark.parametrize("status, next_action, failure, expected", [
    ("succeeded", "", "", Verification.VERIFIED),
    ("requires_action", "verify_with_microdeposits", "", Verification.PENDING),
    # A card's 3-D Secure still open in the browser: nothing to record yet.
    ("requires_action", "use_stripe_sdk", "", None),
    ("requires_payment_method", "", "", None),  # not confirmed yet
    ("requires_payment_method", "", "The microdeposit amounts did not match.", Verification.FAILED),
    ("requires_confirmation", "", "", None),
    ("processing", "", "", None),
    ("canceled", "", "", Verification.FAILED),
])
def test_what_each_setup_intent_status_means(status, next_action, failure, expected):
    assert verification_for_setup(_setup(status, next_action, failure)) == expected


def test_every_setup_intent_status_is_in_the_table():
    meanings = {verification_for_setup(_setup(status)) for status in SETUP_STATUSES}
    assert meanings <= {None, *Verification}


def test_only_a_pending_method_moves_and_only_forward():
    # A verified one moves once more: to failed, when its bank refuses a debit (P11).
    assert VERIFICATION_TRANSITIONS.final == {Verification.FAILED}
    assert VERIFICATION_TRANSITIONS.can_move(Verification.VERIFIED, Verification.FAILED)
    assert not any(VERIFICATION_TRANSITIONS.can_move(status, Verification.PENDING) for status in Verification)


@pytest.mark.parametrize("status, refused", [
    ("verified", None), ("pending_verification", "waiting for verification"), ("failed", "could not be verified"),
])
def test_an_unverified_bank_account_is_neither_charged_nor_the_default(status, refused):
    if refused is None:
        refuse_unverified(status, "the default")
    else:
        with pytest.raises(MethodRefused, match=refused):
            refuse_unverified(status, "the default")


def test_bank_accounts_are_offered_in_us_dollars_by_the_real_dialect_only():
    assert offers_bank_accounts("USD", True)
    assert not offers_bank_accounts("EUR", True)
    assert not offers_bank_accounts("USD", False)  # localstripe has no us_bank_account


def test_the_adapter_reads_a_bank_account_waiting_for_microdeposits():
    snapshot = snapshot_from_setup({
        "id": "seti_1", "object": "setup_intent", "status": "requires_action", "customer": "cus_1",
        "livemode": False, "metadata": {"portal_setup": "abc"}, "mandate": "mandate_1",
        "payment_method": {"id": "pm_1", "type": "us_bank_account", "us_bank_account": {
            "bank_name": "STRIPE TEST BANK", "last4": "6789", "account_type": "checking", "routing_number": "110000000"}},
        "next_action": {"type": "verify_with_microdeposits", "verify_with_microdeposits": {
            "hosted_verification_url": "https://payments.stripe.com/microdeposit/sacs_test_1"}},
    })
    assert snapshot.card is None and snapshot.mandate_id == "mandate_1" and snapshot.reference == "abc"
    assert (snapshot.bank_account.bank_name, snapshot.bank_account.last4, snapshot.bank_account.account_type) == (
        "STRIPE TEST BANK", "6789", "checking")
    assert verification_for_setup(snapshot) == Verification.PENDING
    assert snapshot.verification_url.startswith("https://payments.stripe.com/")
    assert str(describe_bank_account("STRIPE TEST BANK", "checking", "6789")) == "STRIPE TEST BANK checking account ending 6789"
    assert str(describe_bank_account("", "other", "6789")) == "Bank account ending 6789"


def test_a_setup_intent_event_carries_its_setup():
    event = parse_webhook_event(b'{"id": "evt_1", "type": "setup_intent.succeeded", "livemode": false, "created": 1,'
                                b' "data": {"object": {"id": "seti_1", "object": "setup_intent", "status": "succeeded",'
                                b' "customer": "cus_1", "payment_method": "pm_1", "livemode": false}}}')
    assert event.intent is None and event.setup.id == "seti_1" and event.setup.payment_method_id == "pm_1"


def test_a_bank_account_refused_after_verification_reads_as_refused_by_the_bank():
    from datetime import datetime, UTC

    from portal.domain.methods.states import REFUSED_BY_BANK_LABEL, verification_label

    assert verification_label("failed", datetime(2026, 6, 1, tzinfo=UTC)) == REFUSED_BY_BANK_LABEL
    assert verification_label("failed", None) == "Verification failed"  # it never verified
    assert verification_label("verified", datetime(2026, 6, 1, tzinfo=UTC)) == "Verified"
