"""Writing contacts: adding one a clerk named, marking one as having left (and undoing it),
and marking an address as failing when a message to it bounced (and clearing that).

A contact who left gets no reminders and cannot sign in: their links are revoked and their
sessions ended (`access.service.revoke_contact_access`), and sign-in link requests skip them.
Each change is audited; the caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from portal.domain.access.service import revoke_contact_access
from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.customers.models import Contact
from portal.domain.customers.policy import MAX_REASON_LENGTH, NamedContact


def contact_with_email(db, customer_id: int, email: str) -> Contact | None:
    return db.scalar(select(Contact).where(Contact.customer_id == customer_id, Contact.email == email))


def add_contact(ctx: Context, customer_id: int, named: NamedContact, *, why: str) -> Contact:
    """Add the contact (a checked `NamedContact`), or give back the company's contact with
    that address (back from having left, if it had)."""
    existing = contact_with_email(ctx.db, customer_id, named.email)
    if existing is not None:
        if existing.left_at is not None:
            undo_contact_left(ctx, existing)
        return existing
    contact = Contact(customer_id=customer_id, email=named.email, name=named.name, is_ap_mailbox=False,
                      session_version=1, created_at=ctx.clock.now(), left_at=None, email_failing_at=None,
                      email_failure="")
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
