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

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, UTC
from urllib.parse import quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.domain.core import audit
from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock
from portal.domain.notifications.rendering import render_email
from portal.domain.core.errors import DomainError
from portal.domain.ledger.queries import balance_subquery
from portal.domain.access.models import AccessLink
from portal.domain.customers.models import Contact
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.service import enqueue

INVOICE = "invoice"
SIGN_IN = "sign_in"
PURPOSES = (INVOICE, SIGN_IN)

# The path segment each purpose uses in its URL (`/link/<segment>/<token>`). The route and the
# link builder both read this table, so the two can never disagree.
URL_SEGMENTS = {INVOICE: "invoices", SIGN_IN: "sign-in"}
PURPOSE_BY_SEGMENT = {segment: purpose for purpose, segment in URL_SEGMENTS.items()}

SIGN_IN_LINK_LIFETIME = timedelta(minutes=15)
INVOICE_LINK_GRACE = timedelta(days=30)
INVOICE_LINK_MAX_LIFETIME = timedelta(days=120)
# Random bits inside every token (SECURITY.md A4 asks for at least 128).
TOKEN_RANDOM_BYTES = 32

_SALTS = {INVOICE: "portal.link.invoice", SIGN_IN: "portal.link.sign-in"}


class LinkError(DomainError):
    """A link that cannot be used. `link` is the row when the token itself was genuine."""

    reason = "invalid"

    def __init__(self, message: str, link: AccessLink | None = None) -> None:
        super().__init__(message)
        self.link = link


class InvalidLink(LinkError):
    reason = "invalid"

    def __init__(self, link: AccessLink | None = None) -> None:
        super().__init__("This link is not valid. Check that it was copied completely.", link)


class ExpiredLink(LinkError):
    reason = "expired"

    def __init__(self, link: AccessLink) -> None:
        super().__init__("This link has expired.", link)


class UsedLink(LinkError):
    reason = "used"

    def __init__(self, link: AccessLink) -> None:
        super().__init__("This sign-in link has already been used. Each one works once.", link)


class RevokedLink(LinkError):
    reason = "revoked"

    def __init__(self, link: AccessLink) -> None:
        super().__init__("This link has been withdrawn by our billing team.", link)


@dataclass(frozen=True)
class LinkSigner:
    """The keys tokens are signed with and the public address links are built on.

    `secret_keys` is oldest first, newest last (itsdangerous' rotation order): new tokens are
    signed with the last key, and tokens signed with an older key still verify until that key
    is dropped from `SECRET_KEY_FALLBACKS`.
    """

    secret_keys: tuple[str, ...]
    public_url: str

    @classmethod
    def from_settings(cls, settings) -> LinkSigner:
        """Build from `portal.config.Settings` (duck-typed so the domain does not need it)."""
        keys = (*settings.secret_key_fallbacks, settings.secret_key)
        return cls(secret_keys=tuple(keys), public_url=settings.public_url.rstrip("/"))

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        return URLSafeSerializer(list(self.secret_keys), salt=_SALTS[purpose])

    def new_token(self, purpose: str) -> tuple[str, str]:
        """A fresh token for `purpose` and the hash to store for it."""
        nonce = secrets.token_urlsafe(TOKEN_RANDOM_BYTES)
        return self._serializer(purpose).dumps(nonce), token_hash(purpose, nonce)

    def hash_of(self, purpose: str, token: str) -> str:
        """The stored hash for `token`; `InvalidLink` when the signature does not verify."""
        if purpose not in _SALTS or not isinstance(token, str) or len(token) > 512:
            raise InvalidLink()
        try:
            nonce = self._serializer(purpose).loads(token)
        except BadSignature:
            raise InvalidLink() from None
        if not isinstance(nonce, str) or len(nonce) < 22:  # 22 base64 chars = 128 bits
            raise InvalidLink()
        return token_hash(purpose, nonce)

    def url_for(self, purpose: str, token: str, next_path: str | None = None) -> str:
        """The absolute URL of the confirm page for `token`."""
        url = f"{self.public_url}/link/{URL_SEGMENTS[purpose]}/{quote(token, safe='')}"
        safe = safe_next_path(next_path)
        return f"{url}?{urlencode({'next': safe})}" if safe else url


def token_hash(purpose: str, nonce: str) -> str:
    """SHA-256 over the purpose and the random part: what the database keeps instead."""
    return hashlib.sha256(f"{purpose}:{nonce}".encode()).hexdigest()


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
) -> IssuedLink:
    """An invoice-scoped link for `contact`: what a reminder email carries.

    Every invoice must belong to the contact's company; the caller commits. The holder can
    view and pay exactly these invoices, nothing else of the account.
    """
    invoices = list({invoice.id: invoice for invoice in invoices}.values())
    if not invoices:
        raise DomainError("An invoice link needs at least one invoice.")
    if any(invoice.customer_id != contact.customer_id for invoice in invoices):
        raise DomainError("Every invoice of a link must belong to the contact's company.")
    expires_at = invoice_link_expiry(invoices, contact.customer.timezone, clock.now())
    return _add_link(db, clock, signer, purpose=INVOICE, contact=contact, expires_at=expires_at,
                     invoices=invoices)


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
    db: Session, clock: Clock, signer: LinkSigner, *, contact: Contact, next_path: str | None = None,
    supplier_name: str = "",
) -> IssuedLink:
    """Issue a sign-in link and queue the email carrying it to the contact's own address.

    Never copied to anyone (not even the AP mailbox): it opens the whole account.
    """
    issued = issue_sign_in_link(db, clock, signer, contact=contact, next_path=next_path)
    email = render_email(
        "sign_in_link", contact=contact, customer=contact.customer, url=issued.url,
        minutes=int(SIGN_IN_LINK_LIFETIME.total_seconds() // 60), supplier_name=supplier_name,
    )
    enqueue(db, clock, kind="sign_in_link", to=contact.email, email=email)
    return issued


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def request_sign_in_links(
    db: Session, clock: Clock, signer: LinkSigner, *, email: str, next_path: str | None = None,
    supplier_name: str = "",
) -> int:
    """The "send me a sign-in link" form: one email per company the address is a contact of.

    Returns how many were queued. The caller must answer the same way whatever this returns,
    so the form cannot be used to find out which addresses are customers (A5).
    """
    address = normalize_email(email)
    if not address or len(address) > 254:
        return 0
    contacts = contacts_with_email(db, address)
    for contact in contacts:
        send_sign_in_link(db, clock, signer, contact=contact, next_path=next_path,
                          supplier_name=supplier_name)
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
    if link.revoked_at is not None:
        raise RevokedLink(link)
    if link.purpose == SIGN_IN and link.used_at is not None:
        raise UsedLink(link)
    if link.expires_at <= clock.now():
        raise ExpiredLink(link)
    return link


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

    Sessions remember the contact's `session_version`; bumping it makes every open session
    fail its next check. Returns how many links were revoked. The caller commits.
    """
    now = clock.now()
    revoked = db.execute(
        update(AccessLink)
        .where(AccessLink.contact_id == contact.id, AccessLink.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    before = contact.session_version
    contact.session_version = before + 1
    db.flush()
    audit.record(
        db, clock, actor, "contact.access_revoked", "contact", contact.public_id,
        before={"session_version": before},
        after={"session_version": contact.session_version, "links_revoked": revoked},
    )
    return revoked


def unpaid_invoices(db: Session, customer_id: int) -> list[Invoice]:
    """The company's invoices with an open balance, oldest due first: what a reminder link
    carries when the caller names none."""
    balances = balance_subquery(Invoice.customer_id == customer_id)
    return list(db.scalars(
        select(Invoice).join(balances, balances.c.invoice_id == Invoice.id)
        .where(Invoice.customer_id == customer_id, balances.c.balance_minor > 0)
        .order_by(Invoice.due_date, Invoice.id)
    ).all())


def contacts_with_email(db: Session, email: str) -> list[Contact]:
    """Every contact (of any company) using this address, with its company loaded."""
    return list(db.scalars(
        select(Contact).options(joinedload(Contact.customer))
        .where(Contact.email == normalize_email(email)).order_by(Contact.id)
    ).all())


# ---------------------------------------------------------------------------------------------
# Where to go after signing in

_UNSAFE_RAW = re.compile(r"[\x00-\x20\x7f\\]")
_UNSAFE_DECODED = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next_path(value: str | None) -> str | None:
    """`value` when it is a path on this site (`/invoices/abc?page=2`), else None (A6).

    Browsers forgive a lot: they treat `\\` as `/`, drop tabs and newlines, and follow
    `//host` to another site. So the path must start with exactly one `/` (also once
    percent-decoded), contain no backslash or control character (raw or percent-encoded) nor a
    raw space, and parse with neither a scheme nor a host.
    """
    if not value or not isinstance(value, str) or len(value) > 2000:
        return None
    decoded = unquote(value)
    if _UNSAFE_RAW.search(value) or _UNSAFE_DECODED.search(decoded):
        return None
    if not value.startswith("/") or value.startswith("//") or decoded.startswith("//"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value
