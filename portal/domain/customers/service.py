"""What is written on a customer and its contacts: the ERP's customers and contacts as they are
imported; the hold staff put on a customer; a contact a clerk named, a contact who left (and
undoing it), and an address marked failing when a message to it bounced (and clearing that).

The import functions check what they are given (lengths, a lower-case address, a known time
zone) and flush; the caller commits. A customer on hold gets no installment plan approved at
once (`plans.policy.outside_policy`): every proposal waits for staff. Setting and clearing a
hold both need a reason (staff read it on the plan pages); each change is one audit row with
the state before and after. The route checks the permission (`HOLD_CUSTOMERS`). A contact who
left gets no reminders and cannot sign in: their links are revoked and their sessions ended
(`access.service.revoke_contact_access`), and sign-in link requests skip them. Each change is
audited; the caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access.service import revoke_contact_access
from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.locales import N_
from portal.domain.core.errors import DomainError, NotFound
from portal.domain.core.locales import normalize_language
from portal.domain.customers.models import Contact, Customer
from portal.domain.customers.policy import MAX_REASON_LENGTH, NamedContact
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
                   at: datetime, language: str | None = None) -> Contact:
    email = normalize_email(email)
    if db.scalar(select(Contact.id).where(Contact.customer_id == customer_id, Contact.email == email)) is not None:
        raise CustomerRefused(f"The customer already has a contact {email}")
    contact = Contact(customer_id=customer_id, email=email, name=name, is_ap_mailbox=is_ap_mailbox, created_at=at,
                      language=normalize_language(language))
    db.add(contact)
    db.flush()
    return contact


def update_contact(db: Session, *, contact_id: int, email: str, name: str, is_ap_mailbox: bool,
                   language: str | None = None) -> Contact:
    """Correct a contact. A changed address also ends the contact's sessions (they were
    started by whoever read the old mailbox). `language` None keeps the contact's language."""
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
    if normalize_language(language) is not None:
        contact.language = normalize_language(language)
    db.flush()
    return contact


class LanguageRefused(DomainError):
    """Not a language the portal speaks; nothing changed."""


def set_contact_language(db: Session, contact_id: int, language: str) -> Contact:
    """The contact's own choice of language, for the portal, its emails and PDFs."""
    code = normalize_language(language)
    if code is None or code != (language or "").strip().lower():
        raise LanguageRefused(N_("Choose one of the languages offered."))
    contact = db.get(Contact, contact_id)
    if contact is None:
        raise NotFound("Contact not found")
    contact.language = code
    db.flush()
    return contact


MAX_HOLD_REASON = 500


class HoldRefused(DomainError):
    """The hold cannot be changed as asked; nothing changed."""


def set_on_hold(ctx: Context, customer: Customer | None, *, on_hold: bool, reason: str) -> Customer:
    """Put `customer` on hold (`on_hold=True`) or clear its hold, for `reason`."""
    if customer is None:
        raise NotFound("No customer has this account number.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise HoldRefused("Give a reason: other staff read it.")
    if len(reason) > MAX_HOLD_REASON:
        raise HoldRefused(f"Keep the reason under {MAX_HOLD_REASON} characters.")
    if customer.on_hold == on_hold:
        raise HoldRefused(f"{customer.name} is {'already' if on_hold else 'not'} on hold.")
    before = {"on_hold": customer.on_hold, "reason": customer.hold_reason}
    customer.on_hold, customer.hold_reason = on_hold, reason
    customer.hold_changed_by, customer.hold_changed_at = ctx.actor.id[:64], ctx.clock.now()
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "customer.hold_set" if on_hold else "customer.hold_cleared",
                 "customer", customer.public_id, before=before, after={"on_hold": on_hold, "reason": reason})
    return customer


def contact_with_email(db, customer_id: int, email: str) -> Contact | None:
    return db.scalar(select(Contact).where(Contact.customer_id == customer_id, Contact.email == email))


def add_contact(ctx: Context, customer_id: int, named: NamedContact, *, why: str,
                language: str | None = None) -> Contact:
    """Add the contact (a checked `NamedContact`, reading `language`: by default the portal's),
    or give back the company's contact with that address (back from having left, if it had)."""
    existing = contact_with_email(ctx.db, customer_id, named.email)
    if existing is not None:
        if existing.left_at is not None:
            undo_contact_left(ctx, existing)
        return existing
    contact = Contact(customer_id=customer_id, email=named.email, name=named.name, is_ap_mailbox=False,
                      session_version=1, created_at=ctx.clock.now(), left_at=None, email_failing_at=None,
                      email_failure="", language=normalize_language(language))
    ctx.db.add(contact)
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "contact.added", "contact", contact.public_id,
                 after={"customer_id": customer_id, "email": named.email, "why": why})
    return contact


def mark_contact_left(ctx: Context, contact: Contact) -> Contact:
    """No more reminders, no more signing in (links revoked, sessions ended)."""
    if contact.left_at is not None:
        return contact
    contact.left_at = ctx.clock.now()
    revoke_contact_access(ctx.db, ctx.clock, contact=contact, actor=ctx.actor)
    audit.record(ctx.db, ctx.clock, ctx.actor, "contact.left", "contact", contact.public_id,
                 after={"left_at": contact.left_at.isoformat()})
    return contact


def undo_contact_left(ctx: Context, contact: Contact) -> Contact:
    """Staff undo it: reminders reach the contact again and they may ask for a sign-in link."""
    before = contact.left_at
    if before is None:
        return contact
    contact.left_at = None
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "contact.returned", "contact", contact.public_id,
                 before={"left_at": before.isoformat()})
    return contact


def mark_email_failing(ctx: Context, contact: Contact, reason: str, at: datetime | None = None) -> bool:
    """Record that mail to the contact bounced; True when the address was fine until now."""
    reason = " ".join((reason or "").split())[:MAX_REASON_LENGTH]
    first = contact.email_failing_at is None
    if first:
        contact.email_failing_at = at or ctx.clock.now()
    contact.email_failure = reason
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "contact.email_failing", "contact", contact.public_id,
                 after={"reason": reason, "first": first})
    return first


def clear_email_failing(ctx: Context, contact: Contact) -> Contact:
    """Staff say the address works again (fixed, or it was a passing failure)."""
    before = contact.email_failing_at
    if before is None:
        return contact
    contact.email_failing_at = None
    contact.email_failure = ""
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "contact.email_cleared", "contact", contact.public_id,
                 before={"email_failing_at": before.isoformat()})
    return contact
