"""The verification status of a saved method and its transition table, named once.

A card, or a bank account Stripe verified instantly (Financial Connections), is `verified` as
soon as it is saved. A bank account Stripe verifies by microdeposits is saved as
`pending_verification`: it is shown, but it cannot be the default nor be charged (SECURITY.md
P12) until Stripe reports the SetupIntent succeeded (`verified`) or failed (`failed`: the
amounts were wrong too often, or the account could not be used). A verified bank account whose
debit the bank failed or returned becomes `failed` too: its mandate is unusable (SECURITY.md
P11), it is no longer the default and is never charged again. Nothing moves back.
"""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.locales import N_
from portal.domain.core.states import Transitions
from portal.domain.gateway.protocol import NEXT_ACTION_MICRODEPOSITS, SetupSnapshot


class Verification(StrEnum):
    VERIFIED = "verified"
    PENDING = "pending_verification"
    FAILED = "failed"


VERIFICATION_TRANSITIONS = Transitions("saved method verification", Verification, {
    Verification.PENDING: {Verification.VERIFIED, Verification.FAILED},
    Verification.VERIFIED: {Verification.FAILED},  # the bank failed or returned a debit on it
    Verification.FAILED: set(),
})

# What a person reads for each status.
VERIFICATION_LABELS = {
    Verification.VERIFIED: N_("Verified"),
    Verification.PENDING: N_("Waiting for verification"),
    Verification.FAILED: N_("Verification failed"),
}

# What a person reads for a bank account that was verified and then refused by its bank (a
# debit failed or came back): `failed` with a `verified_at`.
REFUSED_BY_BANK_LABEL = N_("Refused by the bank: cannot be used")


def verification_label(status: str, verified_at) -> str:
    if status == Verification.FAILED and verified_at is not None:
        return REFUSED_BY_BANK_LABEL
    return VERIFICATION_LABELS.get(status, status)


def verification_for_setup(snapshot: SetupSnapshot) -> Verification | None:
    """What a SetupIntent's status means for the method on it: verified once it succeeded,
    pending while Stripe waits for the customer's microdeposit amounts, failed when Stripe
    gave up on it (it wants another payment method, or it was canceled); None for a SetupIntent
    still being confirmed in the browser, which says nothing yet."""
    if snapshot.status == "succeeded":
        return Verification.VERIFIED
    if snapshot.status == "requires_action" and snapshot.next_action == NEXT_ACTION_MICRODEPOSITS:
        return Verification.PENDING
    if snapshot.status == "canceled" or (snapshot.status == "requires_payment_method" and snapshot.failure_message):
        return Verification.FAILED
    return None
