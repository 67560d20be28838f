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
from portal.domain.core.locales import DEFAULT_LANGUAGE, N_, Text


# A SetupIntent checks a card without charging it, which is what card testers look for: a
# company may start at most this many card setups within the window.
SETUPS_PER_WINDOW = 10
SETUP_WINDOW = timedelta(hours=1)


class MethodRefused(DomainError):
    """Saving, choosing or removing a method did not happen; the message says why."""


def refuse_too_many_setups(started_in_window: int) -> None:
    if started_in_window >= SETUPS_PER_WINDOW:
        raise MethodRefused(N_("Too many payment methods were tried in the last hour. Please try again later, "
                               "or write to us."))


def require_whole_account(access: Access | None) -> Access:
    """Refuse (as "not found") anyone but a contact signed in to the whole account."""
    if access is None or not access.whole_account:
        raise NotFound()
    return access


# The authorisation a contact gives when saving a card, in their language; stored with the
# method exactly as shown.
CARD_CONSENT_TEXT = N_(
    "I authorise %(supplier)s to save this card and to charge it for invoices of %(customer)s, "
    "including installments charged automatically on their due dates, when someone at "
    "%(customer)s asks for it. The card stays saved until someone at %(customer)s removes it here."
)


def consent_text(supplier_name: str, customer_name: str, language: str | None = DEFAULT_LANGUAGE) -> str:
    """The authorisation a contact gives when saving a card (stored with the method)."""
    return Text(CARD_CONSENT_TEXT, supplier=supplier_name, customer=customer_name).render(language)


# A US bank account is saved only for a customer invoiced in US dollars (ACH Direct Debit).
BANK_ACCOUNT_CURRENCIES = ("USD",)


def offers_bank_accounts(currency: str, dialect_saves_bank_accounts: bool) -> bool:
    """Whether the setup form offers a US bank account beside a card."""
    return dialect_saves_bank_accounts and currency in BANK_ACCOUNT_CURRENCIES


# The ACH debit mandate a contact accepts when saving a bank account, in their language;
# stored with it exactly as shown.
BANK_MANDATE_TEXT = N_(
    "By saving a bank account, I authorize %(supplier)s to debit it through the ACH network for "
    "invoices of %(customer)s, each time someone at %(customer)s asks for it, including "
    "installments debited automatically on their due dates, and, if a debit is returned, to debit it "
    "again or otherwise collect the amount as the invoices allow. The account stays saved until someone "
    "at %(customer)s removes it here; removing it revokes this authorization for later debits."
)


def bank_mandate_text(supplier_name: str, customer_name: str, language: str | None = DEFAULT_LANGUAGE) -> str:
    """The ACH debit mandate a contact accepts when saving a bank account (stored with it)."""
    return Text(BANK_MANDATE_TEXT, supplier=supplier_name, customer=customer_name).render(language)


def customer_key(customer_public_id: str) -> str:
    """The idempotency key of the one Stripe Customer of a portal customer: derived from our
    customer's id, so concurrent and repeated first uses name the same Customer."""
    return hashlib.sha256(f"portal-stripe-customer|{customer_public_id}".encode()).hexdigest()


# How a saved bank account is named, by its type.
_BANK_ACCOUNT_NAMES = {
    "checking": N_("%(bank)s checking account ending %(last4)s"),
    "savings": N_("%(bank)s savings account ending %(last4)s"),
}
_OTHER_BANK_ACCOUNT = N_("%(bank)s account ending %(last4)s")


def describe_bank_account(bank_name: str, account_type: str, last4: str) -> Text:
    """"STRIPE TEST BANK checking account ending 6789", in the reader's language when shown."""
    return Text(_BANK_ACCOUNT_NAMES.get(account_type, _OTHER_BANK_ACCOUNT),
                bank=bank_name or Text(N_("Bank")), last4=last4)


def describe_method(method) -> Text:
    """A saved method's label: a card's or a bank account's (`str()` is the English)."""
    if method.method_type == BANK_METHOD:
        return describe_bank_account(method.bank_name, method.account_type, method.last4)
    return describe_card(method.brand, method.last4)


BANK_METHOD = "us_bank_account"
CARD_METHOD = "card"


def refuse_unverified(verification_status: str, what: str | Text) -> None:
    """A bank account waiting for its microdeposits (or that failed them) is never charged nor
    made the default (SECURITY.md P12). `what` is what it cannot become (`THE_DEFAULT`)."""
    if verification_status == "pending_verification":
        raise MethodRefused(N_("This bank account is waiting for verification: it cannot be %(what)s until "
                               "the two small deposits Stripe sends are confirmed."), what=what)
    if verification_status != "verified":
        raise MethodRefused(N_("This bank account could not be verified: it cannot be %(what)s. Remove it and "
                               "add it again, or use a card."), what=what)


# What `refuse_unverified` says a bank account cannot become, in the reader's language.
THE_DEFAULT = Text(N_("the default"))


def describe_card(brand: str, last4: str) -> Text:
    """"Visa ending 4242", in the reader's language when shown."""
    names = {"amex": "American Express", "diners": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay",
             "mastercard": "Mastercard", "visa": "Visa", "discover": "Discover"}
    return Text(N_("%(brand)s ending %(last4)s"), brand=names.get(brand, brand.title()) or Text(N_("Card")), last4=last4)
