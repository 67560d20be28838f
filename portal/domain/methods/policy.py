"""What may be done with saved payment methods, and the words a contact agrees to.

Saved methods belong to the whole account: only a contact signed in to it (not the holder of a
forwarded invoice link) may see, save, choose or remove one (`require_whole_account`). The
consent words are built here, shown on the page and stored with the method exactly as shown.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from portal.domain.access.policy import Access
from portal.domain.core.errors import DomainError, NotFound


# A SetupIntent checks a card without charging it, which is what card testers look for: a
# company may start at most this many card setups within the window.
SETUPS_PER_WINDOW = 10
SETUP_WINDOW = timedelta(hours=1)


class MethodRefused(DomainError):
    """Saving, choosing or removing a method did not happen; the message says why."""


def refuse_too_many_setups(started_in_window: int) -> None:
    if started_in_window >= SETUPS_PER_WINDOW:
        raise MethodRefused("Too many cards were tried in the last hour. Please try again later, or write to us.")


def require_whole_account(access: Access | None) -> Access:
    """Refuse (as "not found") anyone but a contact signed in to the whole account."""
    if access is None or not access.whole_account:
        raise NotFound()
    return access


def consent_text(supplier_name: str, customer_name: str) -> str:
    """The authorisation a contact gives when saving a card (stored with the method)."""
    return (
        f"I authorise {supplier_name} to save this card and to charge it for invoices of {customer_name}, "
        "including installments charged automatically on their due dates, when someone at "
        f"{customer_name} asks for it. The card stays saved until someone at {customer_name} removes it here."
    )


def customer_key(customer_public_id: str) -> str:
    """The idempotency key of the one Stripe Customer of a portal customer: derived from our
    customer's id, so concurrent and repeated first uses name the same Customer."""
    return hashlib.sha256(f"portal-stripe-customer|{customer_public_id}".encode()).hexdigest()


def describe_card(brand: str, last4: str) -> str:
    """"Visa ending 4242"."""
    names = {"amex": "American Express", "diners": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay",
             "mastercard": "Mastercard", "visa": "Visa", "discover": "Discover"}
    return f"{names.get(brand, brand.title() or 'Card')} ending {last4}"
