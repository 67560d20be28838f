""""I'm not the right person" (WRONG_CONTACT) and bounced emails (EMAIL_BOUNCED), end to end.

The clerk names the right contact and may say they have left themselves
(`report_wrong_contact`). When the address's domain already belongs to the company's contacts
(and is not free mail, `policy.known_company_domain`) the contact is added at once; otherwise a
WRONG_CONTACT follow-up waits for staff to approve (`approve_contact`) or reject
(`reject_contact`) it. Once added, the new contact is emailed an invoice link for the invoices
concerned, and a clerk who said they left is marked so (then, not before: the company always
keeps someone to write to).

A bounce (`record_bounce`, from `flask record-bounce` in the mail server's pipe) marks every
contact using that address as failing (reminders skip them), raises one EMAIL_BOUNCED
follow-up per contact while one is active, and emails the company's other contacts an
invoice-scoped link to the "I'm not the right person" form. The address is cleared again by
staff (`resolve_bounce`), or by the contact signing in with a sign-in link emailed to it after
the bounce (`proven_by_sign_in`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import func, select

from portal.domain.core.locales import N_
from portal.domain.access.models import AccessLink
from portal.domain.access.policy import SIGN_IN, Access
from portal.domain.access.service import InvoiceLinkReason, send_invoice_link, unpaid_invoices
from portal.domain.access.tokens import LinkSigner
from portal.domain.core.context import Context
from portal.domain.core.errors import NotFound
from portal.domain.customers.models import Contact
from portal.domain.customers.policy import (
    THE_NOTE, THE_REASON, ContactRefused, NamedContact, clean_line, known_company_domain, parse_email, parse_named_contact,
    receives_email,
)
from portal.domain.customers.queries import contacts_with_email
from portal.domain.customers.service import (
    add_contact, clear_email_failing, contact_with_email, mark_contact_left, mark_email_failing,
)
from portal.domain.followups.models import Followup, FollowupInvoice
from portal.domain.followups.service import move_followup, raise_followup
from portal.domain.followups.states import ACTIVE, KIND_SLUGS, REPORT_PATH, FollowupKind, FollowupStatus
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.queries import named_invoice_figures
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import enqueue
from portal.domain.payments.service import lock_customer

MAX_INVOICES_PER_CONTACT_REPORT = 20
MAX_NOTE_LENGTH = 1000
REQUEST_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CONTACT_FORM_PATH = "/" + REPORT_PATH.format(slug=KIND_SLUGS[FollowupKind.WRONG_CONTACT])


@dataclass(frozen=True)
class ContactMail:
    supplier: SupplierDetails
    signer: LinkSigner


@dataclass(frozen=True)
class ContactReport:
    """What the clerk's report did: the follow-up, and the contact when it was added at once."""

    followup: Followup
    added: Contact | None


def contact_form_path(invoice_public_ids: Sequence[str]) -> str:
    return f"{CONTACT_FORM_PATH}?{urlencode([('invoices', public_id) for public_id in invoice_public_ids])}"


def _check_ids(public_ids: Sequence[str]) -> list[str]:
    ids = list(public_ids)
    if not ids:
        raise ContactRefused(N_("Choose the invoices the right person should receive."))
    if len(ids) > MAX_INVOICES_PER_CONTACT_REPORT:
        raise ContactRefused(N_("Name the right person for at most %(limit)s invoices at once."), limit=MAX_INVOICES_PER_CONTACT_REPORT)
    if len(set(ids)) != len(ids):
        raise ContactRefused(N_("An invoice appears twice."))
    return ids


def contact_form_invoices(db, access: Access, public_ids: Sequence[str]) -> list[Invoice]:
    rows = named_invoice_figures(db, access, _check_ids(public_ids))
    found = {invoice.id: invoice for invoice in db.scalars(
        select(Invoice).where(Invoice.id.in_([r.id for r in rows])).execution_options(populate_existing=True))}
    return [found[row.id] for row in rows]


def _welcome(ctx: Context, mail: ContactMail, contact: Contact, invoices: Sequence[Invoice], followup: Followup):
    send_invoice_link(
        ctx.db, ctx.clock, mail.signer, mail.supplier, contact=contact, invoices=invoices,
        reason=InvoiceLinkReason.NAMED_RIGHT_PERSON,
        dedupe_key=f"contact_added:{followup.public_id}",
    )


def _finish(ctx: Context, mail: ContactMail, followup: Followup, *, staff_id: int | None) -> Contact:
    details = followup.details
    named = NamedContact(name=details["name"], email=details["email"])
    reporter = ctx.db.get(Contact, followup.reported_by_contact_id) if followup.reported_by_contact_id else None
    # The colleague a clerk names most likely reads what the clerk reads.
    contact = add_contact(ctx, followup.customer_id, named, why=f"follow-up {followup.public_id}",
                          language=reporter.language if reporter is not None else None)
    ctx.db.refresh(contact)
    invoices = list(ctx.db.scalars(select(Invoice).join(FollowupInvoice, FollowupInvoice.invoice_id == Invoice.id)
                                   .where(FollowupInvoice.followup_id == followup.id).order_by(FollowupInvoice.id)))
    if invoices:
        _welcome(ctx, mail, contact, invoices, followup)
    if details.get("reporter_left") and followup.reported_by_contact_id not in (None, contact.id):
        mark_contact_left(ctx, ctx.db.get(Contact, followup.reported_by_contact_id))
    move_followup(ctx, followup, FollowupStatus.RESOLVED, outcome="contact_added", staff_id=staff_id,
                  for_customer=True, text=f"{named.name} ({named.email}) was added and sent a link to the invoices.")
    return contact


def report_wrong_contact(
    ctx: Context, access: Access, mail: ContactMail, *, invoice_public_ids: Sequence[str], named: NamedContact,
    reporter_left: bool, note: str, request_key: str,
) -> ContactReport:
    """The clerk names the right person for the invoices (one report per form token)."""
    if not REQUEST_KEY_PATTERN.match(request_key or ""):
        raise ContactRefused(N_("This form has expired. Reload the page and try again."))
    named = parse_named_contact(named.name, named.email)  # checked again: the domain trusts no caller
    note = clean_line(note, what=THE_NOTE, max_length=MAX_NOTE_LENGTH, required=False) if note else ""
    invoices = contact_form_invoices(ctx.db, access, invoice_public_ids)
    lock_customer(ctx.db, access.customer_id)
    company = list(ctx.db.scalars(select(Contact).where(Contact.customer_id == access.customer_id)))
    existing = contact_with_email(ctx.db, access.customer_id, named.email)
    if existing is not None and existing.id == access.contact_id:
        raise ContactRefused(N_("That is the address this link was sent to: name someone else."))
    at_once = existing is not None and existing.left_at is None or known_company_domain(
        named.email, [contact.email for contact in company if contact.left_at is None])
    followup, created = raise_followup(
        ctx, kind=FollowupKind.WRONG_CONTACT, customer_id=access.customer_id,
        invoice_ids=[invoice.id for invoice in invoices], note=note, contact_id=access.contact_id,
        link_id=access.link_id, request_key=request_key,
        details={"name": named.name, "email": named.email, "reporter_left": bool(reporter_left),
                 "reporter": ctx.db.get(Contact, access.contact_id).public_id,
                 "added_at_once": bool(at_once)},
    )
    if not created or not at_once:
        added = contact_with_email(ctx.db, access.customer_id, named.email) if followup.status not in ACTIVE else None
        return ContactReport(followup, added)
    return ContactReport(followup, _finish(ctx, mail, followup, staff_id=None))


def _active_contact_followup(ctx: Context, public_id: str) -> Followup:
    followup = ctx.db.scalar(select(Followup).where(Followup.public_id == public_id,
                                                    Followup.kind == FollowupKind.WRONG_CONTACT.value)
                             .with_for_update().execution_options(populate_existing=True))
    if followup is None:
        raise NotFound("Follow-up not found")
    if followup.status not in ACTIVE:
        raise ContactRefused(N_("This follow-up is already closed."))
    return followup


def approve_contact(ctx: Context, mail: ContactMail, public_id: str, *, staff_id: int) -> Contact:
    """Staff approve the contact the clerk named: added, sent the invoice link."""
    followup = _active_contact_followup(ctx, public_id)
    lock_customer(ctx.db, followup.customer_id)
    return _finish(ctx, mail, followup, staff_id=staff_id)


def reject_contact(ctx: Context, mail: ContactMail, public_id: str, *, reason: str, staff_id: int) -> Followup:
    """Staff refuse the contact; the clerk who named them reads why."""
    reason = clean_line(reason, what=THE_REASON, max_length=MAX_NOTE_LENGTH)
    followup = _active_contact_followup(ctx, public_id)
    move_followup(ctx, followup, FollowupStatus.DISMISSED, outcome="rejected", staff_id=staff_id, text=reason,
                  for_customer=True)
    reporter = ctx.db.get(Contact, followup.reported_by_contact_id) if followup.reported_by_contact_id else None
    if reporter is not None and receives_email(reporter):
        email = render_email("contact_rejected", supplier=mail.supplier, contact=reporter,
                             customer=reporter.customer, named=followup.details, reason=reason)
        enqueue(ctx.db, ctx.clock, kind="contact_rejected", to=reporter.email, email=email,
                dedupe_key=f"contact_rejected:{followup.public_id}")
    return followup


# ---------------------------------------------------------------------------------------------
# Bounces


@dataclass(frozen=True)
class BounceReport:
    contacts: int = 0       # contacts using the address
    followups: int = 0      # follow-ups raised (none while one is active for the contact)
    notified: int = 0       # other contacts emailed the "right person" form


def _active_bounce(db, contact: Contact) -> Followup | None:
    return db.scalar(select(Followup).where(
        Followup.customer_id == contact.customer_id, Followup.kind == FollowupKind.EMAIL_BOUNCED.value,
        Followup.status.in_([status.value for status in ACTIVE]),
        Followup.dedupe_key.like(f"email_bounced:{contact.public_id}:%")))


def _bounce_followups(db, contact: Contact) -> int:
    """How many bounce follow-ups the contact had: the next one's key counts on from it (the
    customer's lock is held, so two bounces at once cannot both take the same number)."""
    return db.scalar(select(func.count()).select_from(Followup).where(
        Followup.customer_id == contact.customer_id, Followup.kind == FollowupKind.EMAIL_BOUNCED.value,
        Followup.dedupe_key.like(f"email_bounced:{contact.public_id}:%")))


def record_bounce(ctx: Context, mail: ContactMail, address: str, *, reason: str = "") -> BounceReport:
    """A message to `address` bounced (`ContactRefused` for an address that is not one)."""
    address = parse_email(address)
    reason = clean_line(reason, what=THE_REASON, max_length=200, required=False) if reason else ""
    report = BounceReport()
    for contact in contacts_with_email(ctx.db, address):
        lock_customer(ctx.db, contact.customer_id)
        mark_email_failing(ctx, contact, reason)
        report = BounceReport(report.contacts + 1, report.followups, report.notified)
        if _active_bounce(ctx.db, contact) is not None:
            continue
        invoices = unpaid_invoices(ctx.db, contact.customer_id)[:MAX_INVOICES_PER_CONTACT_REPORT]
        followup, _ = raise_followup(
            ctx, kind=FollowupKind.EMAIL_BOUNCED, customer_id=contact.customer_id,
            invoice_ids=[invoice.id for invoice in invoices],
            details={"contact": contact.public_id, "email": address, "reason": reason},
            dedupe_key=f"email_bounced:{contact.public_id}:{_bounce_followups(ctx.db, contact) + 1}",
        )
        notified = 0
        if invoices:
            others = [other for other in ctx.db.scalars(select(Contact).where(
                Contact.customer_id == contact.customer_id, Contact.id != contact.id).order_by(Contact.id))
                if receives_email(other)]
            for other in others:
                send_invoice_link(
                    ctx.db, ctx.clock, mail.signer, mail.supplier, contact=other, invoices=invoices,
                    next_path=contact_form_path([invoice.public_id for invoice in invoices]),
                    reason=InvoiceLinkReason.COLLEAGUE_BOUNCED, bounced_address=address,
                    dedupe_key=f"bounce_notice:{followup.public_id}:{other.public_id}",
                )
                notified += 1
        report = BounceReport(report.contacts, report.followups + 1, report.notified + notified)
    return report


def proven_by_sign_in(ctx: Context, link: AccessLink) -> int:
    """A contact just signed in with `link`. A sign-in link goes to the contact's address and
    to no one else: one emailed after the address bounced shows that it receives email again.
    Then every contact using the address is cleared (reminders reach them again) and their
    active bounce follow-ups are resolved, as staff would once they had checked. An invoice
    link (copied to the company's AP mailbox, perhaps) or a sign-in link sent before the
    bounce proves nothing. Returns how many contacts were cleared."""
    if link.purpose != SIGN_IN:
        return 0
    address = link.contact.email
    cleared = 0
    for contact in contacts_with_email(ctx.db, address):
        if contact.email_failing_at is None or link.created_at <= contact.email_failing_at:
            continue
        lock_customer(ctx.db, contact.customer_id)
        clear_email_failing(ctx, contact)
        followup = _active_bounce(ctx.db, contact)
        if followup is not None:
            move_followup(ctx, followup, FollowupStatus.RESOLVED, outcome="email_works", contact_id=link.contact_id,
                          text=f"{address} receives email again: a sign-in link sent to it after the bounce was used.")
        cleared += 1
    return cleared


def resolve_bounce(ctx: Context, public_id: str, contact: Contact, *, staff_id: int) -> Contact:
    """Staff say the bounced address works again: reminders reach it; its follow-up (when
    still active) is resolved."""
    clear_email_failing(ctx, contact)
    followup = ctx.db.scalar(select(Followup).where(Followup.public_id == public_id,
                                                    Followup.customer_id == contact.customer_id))
    if followup is None:
        raise NotFound("Follow-up not found")
    if followup.kind == FollowupKind.EMAIL_BOUNCED.value and followup.status in ACTIVE:
        move_followup(ctx, followup, FollowupStatus.RESOLVED, outcome="email_works", staff_id=staff_id,
                      text=f"{contact.email} receives email again.")
    return contact
