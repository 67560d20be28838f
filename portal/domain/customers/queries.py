"""Finding the people who act for a customer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.domain.customers.models import Contact, Customer, CustomerTag


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def contacts_with_email(db: Session, email: str) -> list[Contact]:
    """Every contact (of any company) using this address, with its company loaded."""
    return list(db.scalars(
        select(Contact).options(joinedload(Contact.customer))
        .where(Contact.email == normalize_email(email)).order_by(Contact.id)
    ).all())


def customer_tags(db: Session, customer_id: int) -> frozenset[str]:
    """The customer's tags, for routing its disputes."""
    return frozenset(db.scalars(select(CustomerTag.tag).where(CustomerTag.customer_id == customer_id)))


def customer_by_account_number(db: Session, account_number: str) -> Customer | None:
    """The customer with this account number, or None."""
    return db.scalar(select(Customer).where(Customer.account_number == (account_number or "").strip()))


def customers_on_hold(db: Session, limit: int = 200) -> list[Customer]:
    """Customers on hold, by name (the staff plans page lists them)."""
    return list(db.scalars(select(Customer).where(Customer.on_hold.is_(True)).order_by(Customer.name).limit(limit)))
