"""Signed links into the customer portal: issue, look up, redeem and revoke (SECURITY.md A1-A6).

Two purposes:

* **invoice** links are what reminder emails carry. They open only the invoices they name
  (view and pay), are reusable, and live until the latest due date + 30 days, never less than
  30 days and never more than 120 days from issue. A forwarded reminder therefore gives the
  colleague no more than those invoices.
* **sign-in** links open the whole company account. They are single use, live 15 minutes and
  are only ever emailed to the contact's own address.

A token is an itsdangerous signature (one salt per purpose, so an invoice token is refused
where a sign-in token is expected) over 256 random bits. The database keeps only the SHA-256
of those bits; the row is the authority on scope, expiry, use and revocation, so staff can
revoke a link that is still cryptographically valid.

Nothing here touches Flask: the routes pass in the session, the clock, the signer (keys and
public URL) and the actor.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, UTC
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.domain.access.models import AccessLink, SignInLinkRequest
from portal.domain.access.sessions import end_contact_sessions
from portal.domain.access.policy import (
    INVOICE, INVOICE_LINK_GRACE, INVOICE_LINK_MAX_LIFETIME, SIGN_IN, SIGN_IN_LINK_LIFETIME,
)
from portal.domain.access.states import LinkState, link_state
from portal.domain.access.tokens import InvalidLink, LinkError, LinkSigner
from portal.domain.core import audit
from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock
from portal.domain.core.errors import DomainError
from portal.domain.core.locales import N_, normalize_language
from portal.domain.customers.models import Contact
from portal.domain.customers.queries import contacts_with_email, normalize_email
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import enqueue


class ExpiredLink(LinkError):
    reason = "expired"

    def __init__(self, link: AccessLink) -> None:
        super().__init__(N_("This link has expired."), link)


class UsedLink(LinkError):
    reason = "used"

    def __init__(self, link: AccessLink) -> None:
        super().__init__(N_("This sign-in link has already been used. Each one works once."), link)


class RevokedLink(LinkError):
    reason = "revoked"

    def __init__(self, link: AccessLink) -> None:
        super().__init__(N_("This link has been withdrawn by our billing team."), link)


@dataclass(frozen=True)
class IssuedLink:
    """A freshly issued link. `token` and `url` exist only here: the row keeps a hash."""

    link: AccessLink
    token: str
    url: str


# ---------------------------------------------------------------------------------------------
# Issuing


def invoice_link_expiry(invoices: Sequence[Invoice], timezone_name: str, now: datetime) -> datetime:
    """End of (latest due date + 30 days) in the customer's time zone, clamped to
    [now + 30 days, now + 120 days].

    The floor exists because reminders go out for invoices that are already overdue: a link
    born expired would be useless. The ceiling bounds how long a leaked email stays useful.
    """
    latest_due = max(invoice.due_date for invoice in invoices)
    last_day = latest_due + INVOICE_LINK_GRACE
    end_of_last_day = datetime.combine(last_day + timedelta(days=1), time(0), ZoneInfo(timezone_name))
    expires = min(max(end_of_last_day, now + INVOICE_LINK_GRACE), now + INVOICE_LINK_MAX_LIFETIME)
    return expires.astimezone(UTC)


def _add_link(
    db: Session, clock: Clock, signer: LinkSigner, *, purpose: str, contact: Contact,
    expires_at: datetime, invoices: Sequence[Invoice] = (), next_path: str | None = None,
) -> IssuedLink:
    token, hashed = signer.new_token(purpose)
    link = AccessLink(
        token_hash=hashed, purpose=purpose, customer_id=contact.customer_id, contact_id=contact.id,
        created_at=clock.now(), expires_at=expires_at, used_at=None, revoked_at=None,
    )
    link.contact = contact
    link.invoices = list(invoices)
    db.add(link)
    db.flush()
    return IssuedLink(link=link, token=token, url=signer.url_for(purpose, token, next_path))


def issue_invoice_link(
    db: Session, clock: Clock, signer: LinkSigner, *, contact: Contact, invoices: Sequence[Invoice],
    next_path: str | None = None,
) -> IssuedLink:
    """An invoice-scoped link for `contact`: what a reminder email carries.

    Every invoice must belong to the contact's company; the caller commits. The holder can
    view and pay exactly these invoices (and see their disputes), nothing else of the account.
    `next_path` (a same-site path, e.g. the dispute page) is where the link lands instead of
    the invoice.
    """
    invoices = list({invoice.id: invoice for invoice in invoices}.values())
    if not invoices:
        raise DomainError("An invoice link needs at least one invoice.")
    if any(invoice.customer_id != contact.customer_id for invoice in invoices):
        raise DomainError("Every invoice of a link must belong to the contact's company.")
    expires_at = invoice_link_expiry(invoices, contact.customer.timezone, clock.now())
    return _add_link(db, clock, signer, purpose=INVOICE, contact=contact, expires_at=expires_at,
                     invoices=invoices, next_path=next_path)


def issue_sign_in_link(
    db: Session, clock: Clock, signer: LinkSigner, *, contact: Contact, next_path: str | None = None,
) -> IssuedLink:
    """A single-use, 15-minute link to the whole account. Only ever sent to `contact.email`.

    `next_path` (a same-site path such as `/invoices/abc`) is carried in the URL so the contact
    lands where they were going; anything else is dropped.
    """
    return _add_link(db, clock, signer, purpose=SIGN_IN, contact=contact,
                     expires_at=clock.now() + SIGN_IN_LINK_LIFETIME, next_path=next_path)


def send_sign_in_link(
    db: Session, clock: Clock, signer: LinkSigner, supplier: SupplierDetails, *, contact: Contact,
    next_path: str | None = None, language: str | None = None,
) -> IssuedLink:
    """Issue a sign-in link and queue the email carrying it to the contact's own address, in the
    contact's language, else `language` (the one the visitor who asked for it reads the portal
    in), else English.

    Never copied to anyone (not even the AP mailbox): it opens the whole account.
    """
    issued = issue_sign_in_link(db, clock, signer, contact=contact, next_path=next_path)
    email = render_email(
        "sign_in_link", supplier=supplier, language=normalize_language(contact.language) or language,
        contact=contact, customer=contact.customer, url=issued.url,
        minutes=int(SIGN_IN_LINK_LIFETIME.total_seconds() // 60),
    )
    enqueue(db, clock, kind="sign_in_link", to=contact.email, email=email)
    return issued


def record_sign_in_link_request(
    db: Session, clock: Clock, *, email: str, next_path: str | None = None, language: str | None = None,
) -> None:
    """The "send me a sign-in link" form: record the request, for any address.

    The request does the same work, one insert, whether or not the address belongs to a
    contact, so neither its answer nor its time tells them apart (A5, A15). The outbox sender
    resolves it (`access.jobs.resolve_sign_in_link_requests`) and queues the emails. `language`
    is the one the visitor reads the portal in: the email falls back to it when the contact has
    chosen none.
    """
    address = normalize_email(email)
    if not address or len(address) > 254:
        return
    db.add(SignInLinkRequest(email=address, next_path=next_path, language=normalize_language(language),
                             requested_at=clock.now(), resolved_at=None))


def request_sign_in_links(
    db: Session, clock: Clock, signer: LinkSigner, supplier: SupplierDetails, *, email: str,
    next_path: str | None = None, language: str | None = None,
) -> int:
    """Resolve one sign-in link request: one email per company the address is a contact of,
    each in that contact's language, else `language` (the visitor's), else English.

    Returns how many were queued. Runs in the outbox sender, never in the request that asked,
    so the form cannot be used to find out which addresses are customers (A5).
    """
    address = normalize_email(email)
    if not address or len(address) > 254:
        return 0
    # A contact who left the company signs in no more (`customers.service.mark_contact_left`).
    contacts = [contact for contact in contacts_with_email(db, address) if contact.left_at is None]
    for contact in contacts:
        send_sign_in_link(db, clock, signer, supplier, contact=contact, next_path=next_path,
                          language=language)
    return len(contacts)


# ---------------------------------------------------------------------------------------------
# Looking up and redeeming


def find_link(db: Session, clock: Clock, signer: LinkSigner, purpose: str, token: str) -> AccessLink:
    """The link behind `token`, checked but not changed: what the confirm page shows.

    Raises `InvalidLink`, `RevokedLink`, `UsedLink` (sign-in links only) or `ExpiredLink`,
    in that order of precedence. A GET or HEAD (an email scanner) only ever calls this.
    """
    hashed = signer.hash_of(purpose, token)
    link = db.scalar(
        select(AccessLink)
        .options(joinedload(AccessLink.contact).joinedload(Contact.customer),
                 selectinload(AccessLink.invoices))
        .where(AccessLink.token_hash == hashed)
        # Always the database's word on use and revocation, never a stale copy in the session.
        .execution_options(populate_existing=True)
    )
    # The lookup is by hash, so its timing says nothing about the token; the compare below is
    # constant-time anyway, and also pins the row to the purpose the URL claimed.
    if link is None or not hmac.compare_digest(link.token_hash, hashed) or link.purpose != purpose:
        raise InvalidLink()
    state = link_state(purpose=link.purpose, revoked_at=link.revoked_at, used_at=link.used_at,
                       expires_at=link.expires_at, now=clock.now())
    if state != LinkState.ACTIVE:
        raise _REFUSALS[state](link)
    return link


_REFUSALS = {LinkState.REVOKED: RevokedLink, LinkState.USED: UsedLink, LinkState.EXPIRED: ExpiredLink}


def redeem_link(
    db: Session, clock: Clock, signer: LinkSigner, purpose: str, token: str, *, ip: str = "",
) -> AccessLink:
    """Use a link to sign in (the confirm page's POST). The caller then starts the session.

    A sign-in link is consumed with one conditional UPDATE, so two concurrent POSTs of the
    same token cannot both succeed (the loser sees `UsedLink`). An invoice link stays usable;
    its `used_at` records the first use, for staff. Writes a `contact.signed_in` audit row
    whose actor is the link's contact, seen from `ip`.
    """
    link = find_link(db, clock, signer, purpose, token)
    now = clock.now()
    claim = (
        update(AccessLink)
        .where(AccessLink.id == link.id, AccessLink.revoked_at.is_(None), AccessLink.expires_at > now)
        .values(used_at=func.coalesce(AccessLink.used_at, literal(now, AccessLink.used_at.type)))
        .execution_options(synchronize_session=False)
    )
    if link.purpose == SIGN_IN:
        claim = claim.where(AccessLink.used_at.is_(None))
    if db.execute(claim).rowcount != 1:
        db.refresh(link)
        if link.revoked_at is not None:
            raise RevokedLink(link)
        if link.purpose == SIGN_IN and link.used_at is not None:
            raise UsedLink(link)
        raise ExpiredLink(link)
    db.refresh(link, ["used_at"])
    contact_id = link.contact.public_id
    audit.record(
        db, clock, Actor("contact", contact_id, ip), "contact.signed_in", "contact", contact_id,
        after={"purpose": link.purpose, "link": link.public_id,
               "invoices": [invoice.public_id for invoice in link.invoices]},
    )
    return link


def find_renewable_link(db: Session, clock: Clock, signer: LinkSigner, purpose: str, token: str) -> AccessLink:
    """The link behind an expired or used token, for "email me a fresh link".

    A genuine but stale token proves the holder once had the contact's email, so a new
    sign-in link may be sent to that contact (never elsewhere). Revoked and invalid tokens
    get nothing.
    """
    try:
        return find_link(db, clock, signer, purpose, token)
    except (ExpiredLink, UsedLink) as stale:
        return stale.link


# ---------------------------------------------------------------------------------------------
# Revoking


def revoke_contact_access(db: Session, clock: Clock, *, contact: Contact, actor: Actor) -> int:
    """Withdraw every live link of `contact` and end their sessions (A3).

    Every live session row of the contact is ended, and the contact's `session_version` (which
    session cookies remember) is bumped: either makes every open session fail its next check. Returns how many links were revoked. The caller commits.
    """
    now = clock.now()
    revoked = db.execute(
        update(AccessLink)
        .where(AccessLink.contact_id == contact.id, AccessLink.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    before = contact.session_version
    contact.session_version = before + 1
    sessions_ended = end_contact_sessions(db, clock, contact.id)
    db.flush()
    audit.record(
        db, clock, actor, "contact.access_revoked", "contact", contact.public_id,
        before={"session_version": before},
        after={"session_version": contact.session_version, "links_revoked": revoked,
               "sessions_ended": sessions_ended},
    )
    return revoked


def unpaid_invoices(db: Session, customer_id: int) -> list[Invoice]:
    """The company's invoices with an open balance, oldest due first: what a reminder link
    carries when the caller names none."""
    return list(db.scalars(
        select(Invoice).where(Invoice.customer_id == customer_id, Invoice.balance_minor > 0)
        .order_by(Invoice.due_date, Invoice.id)
    ).all())


class InvoiceLinkReason(StrEnum):
    """Why a contact gets an invoice link by email: the email's first sentence says it, in the
    contact's language (`email/invoice_link.txt`)."""

    NAMED_RIGHT_PERSON = "named_right_person"  # a colleague named them for these invoices
    COLLEAGUE_BOUNCED = "colleague_bounced"    # our emails to a colleague come back undelivered


def send_invoice_link(
    db: Session, clock: Clock, signer: LinkSigner, supplier: SupplierDetails, *, contact: Contact,
    invoices: Sequence[Invoice], reason: InvoiceLinkReason, next_path: str | None = None,
    bounced_address: str = "", cc: Sequence[str] = (), dedupe_key: str | None = None,
) -> IssuedLink:
    """Issue an invoice link for `contact` and queue the email carrying it; `reason` says why
    they get it (with `bounced_address`, the colleague's address that bounced)."""
    if reason is InvoiceLinkReason.COLLEAGUE_BOUNCED and not bounced_address:
        raise TypeError("a bounce notice names the address that bounced")
    issued = issue_invoice_link(db, clock, signer, contact=contact, invoices=invoices, next_path=next_path)
    email = render_email("invoice_link", supplier=supplier, contact=contact, customer=contact.customer,
                         invoices=issued.link.invoices, url=issued.url, reason=str(reason),
                         bounced_address=bounced_address)
    enqueue(db, clock, kind="invoice_link", to=contact.email, email=email, cc=list(cc), dedupe_key=dedupe_key)
    return issued
