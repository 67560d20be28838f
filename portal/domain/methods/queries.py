"""Saved payment methods as the pages read them: always scoped to the signed-in company, and
only for a contact signed in to the whole account (anything else is "not found")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access.policy import Access
from portal.domain.core.errors import NotFound
from portal.domain.invoicing.models import Invoice
from portal.domain.methods.models import MethodSetup, SavedMethod
from portal.domain.methods.policy import BANK_METHOD, describe_method, require_whole_account
from portal.domain.methods.states import VERIFICATION_LABELS, Verification, verification_label

# The currency the Payment Element's setup mode is told when the customer has no invoice yet.
DEFAULT_SETUP_CURRENCY = "USD"


@dataclass(frozen=True)
class MethodLine:
    public_id: str
    label: str  # "Visa ending 4242", "STRIPE TEST BANK checking account ending 6789"
    expiry: str  # "12/2034"; "" for a bank account
    is_default: bool
    saved_at: object
    is_bank_account: bool = False
    verification: str = Verification.VERIFIED
    verification_label: str = VERIFICATION_LABELS[Verification.VERIFIED]

    @property
    def verified(self) -> bool:
        """Only a verified method can be the default or be charged (SECURITY.md P12)."""
        return self.verification == Verification.VERIFIED


def saved_methods(db: Session, access: Access | None) -> list[MethodLine]:
    """The company's saved cards and bank accounts, newest first (removed ones are not listed)."""
    access = require_whole_account(access)
    rows = db.scalars(
        select(SavedMethod).where(SavedMethod.customer_id == access.customer_id, SavedMethod.removed_at.is_(None))
        .order_by(SavedMethod.saved_at.desc(), SavedMethod.id.desc())
    ).all()
    return [MethodLine(m.public_id, describe_method(m),
                       f"{m.exp_month:02d}/{m.exp_year}" if m.exp_month and m.exp_year else "",
                       m.is_default, m.saved_at, m.method_type == BANK_METHOD, m.verification_status,
                       verification_label(m.verification_status, m.verified_at)) for m in rows]


def method_for_access(db: Session, access: Access | None, public_id: str) -> SavedMethod:
    """One saved (not removed) method of the signed-in company, or NotFound."""
    access = require_whole_account(access)
    method = db.scalar(select(SavedMethod).where(
        SavedMethod.public_id == public_id, SavedMethod.customer_id == access.customer_id,
        SavedMethod.removed_at.is_(None),
    ))
    if method is None:
        raise NotFound()
    return method


def setup_for_access(db: Session, access: Access | None, public_id: str) -> MethodSetup:
    access = require_whole_account(access)
    setup = db.scalar(select(MethodSetup).where(
        MethodSetup.public_id == public_id, MethodSetup.customer_id == access.customer_id,
    ))
    if setup is None:
        raise NotFound()
    return setup


def setup_currency(db: Session, access: Access | None) -> str:
    """The currency the customer is invoiced in (its newest invoice's), for the setup form."""
    access = require_whole_account(access)
    currency = db.scalar(select(Invoice.currency).where(Invoice.customer_id == access.customer_id)
                         .order_by(Invoice.id.desc()).limit(1))
    return currency or DEFAULT_SETUP_CURRENCY
