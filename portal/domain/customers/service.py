"""Writing customers and their contacts as the ERP sends them (the import is the caller).

Each function checks what it is given (lengths, a lower-case address, a known time zone) and
flushes; the caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.errors import DomainError, NotFound
from portal.domain.customers.models import Contact, Customer
from portal.domain.customers.queries import normalize_email


class CustomerRefused(DomainError):
    """The customer or contact was not written; the message says why."""


def create_customer(db: Session, *, account_number: str, name: str, timezone: str, at: datetime) -> Customer:
    if db.scalar(select(Customer.id).where(Customer.account_number == account_number)) is not None:
        raise CustomerRefused(f"Account number {account_number} is already another customer's")
    customer = Customer(account_number=account_number, name=name, timezone=timezone, created_at=at)
    db.add(customer)
    db.flush()
    return customer


def update_customer(db: Session, *, customer_id: int, account_number: str, name: str, timezone: str) -> Customer:
    customer = db.get(Customer, customer_id)
    if customer is None:
        raise NotFound("Customer not found")
    taken = db.scalar(select(Customer.id).where(Customer.account_number == account_number, Customer.id != customer_id))
    if taken is not None:
        raise CustomerRefused(f"Account number {account_number} is already another customer's")
    customer.account_number, customer.name, customer.timezone = account_number, name, timezone
    db.flush()
    return customer


def create_contact(db: Session, *, customer_id: int, email: str, name: str, is_ap_mailbox: bool,
                   at: datetime) -> Contact:
    email = normalize_email(email)
    if db.scalar(select(Contact.id).where(Contact.customer_id == customer_id, Contact.email == email)) is not None:
        raise CustomerRefused(f"The customer already has a contact {email}")
    contact = Contact(customer_id=customer_id, email=email, name=name, is_ap_mailbox=is_ap_mailbox, created_at=at)
    db.add(contact)
    db.flush()
    return contact


def update_contact(db: Session, *, contact_id: int, email: str, name: str, is_ap_mailbox: bool) -> Contact:
    """Correct a contact. A changed address also ends the contact's sessions (they were
    started by whoever read the old mailbox)."""
    contact = db.get(Contact, contact_id)
    if contact is None:
        raise NotFound("Contact not found")
    email = normalize_email(email)
    taken = db.scalar(select(Contact.id).where(Contact.customer_id == contact.customer_id, Contact.email == email,
                                               Contact.id != contact_id))
    if taken is not None:
        raise CustomerRefused(f"The customer already has a contact {email}")
    if email != contact.email:
        contact.session_version += 1
    contact.email, contact.name, contact.is_ap_mailbox = email, name, is_ap_mailbox
    db.flush()
    return contact
