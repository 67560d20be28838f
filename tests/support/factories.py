"""Test data: factory_boy factories that flush, never commit.

A test arranges its data in the `db` session with these, then acts. In-process domain calls
see the flushed rows through the same session. The app under test reads through its own
connections, so the test client commits what the test arranged before each request it sends
(`tests/support/fixtures/app.py`); a test that hands data to another thread or process commits itself.

Invoices and ledger entries go through the product's own write path (`issue_invoice`,
`post_entry`), so the maintained balances are what production would have.

The `make_*` functions are the short spellings most tests use.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy.orm import Session, object_session

from portal.domain.access.models import AccessLink
from portal.domain.access.policy import ACCOUNT, INVOICES
from portal.domain.access.sessions import start_session
from portal.domain.core.clock import Clock
from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.service import NewLine, issue_invoice
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.service import post_entry
from portal.domain.payments.models import Payment, PaymentAllocation
from portal.domain.payments.service import next_payment_reference
from portal.domain.payments.states import PaymentStatus
from portal.domain.staff.credentials import PasswordHasher, new_totp_secret
from portal.domain.staff.models import StaffMember
from portal.domain.staff.sessions import start_staff_session
from portal.domain.staff.states import StaffRole, StaffStatus
from portal.web.customer_session import SESSION_KEY, session_payload
from admin.session import COOKIE_PATH, STAFF_COOKIE


class _Flushing(SQLAlchemyModelFactory):
    """Rows added to the session the caller passes (`_session=`) and flushed, never committed."""

    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        session = kwargs.pop("_session")
        cls._meta.sqlalchemy_session = session
        try:
            return super()._create(model_class, *args, **kwargs)
        finally:
            cls._meta.sqlalchemy_session = None


class CustomerFactory(_Flushing):
    class Meta:
        model = Customer

    account_number = factory.Sequence(lambda n: f"C-{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n} Ltd")
    timezone = "America/New_York"


class ContactFactory(_Flushing):
    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"clerk{n}@example.com")
    name = "Pat Clerk"
    is_ap_mailbox = False


class PaymentFactory(_Flushing):
    class Meta:
        model = Payment

    method = "card"
    status = PaymentStatus.PROCESSING
    request_key = factory.Sequence(lambda n: f"request-{n}")
    idempotency_key = factory.Sequence(lambda n: f"idempotency-{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # The real numbering, so factory rows and payments made by the app never collide.
        if "reference" not in kwargs:
            kwargs["reference"] = next_payment_reference(kwargs["_session"], kwargs["created_at"].year)
        return super()._create(model_class, *args, **kwargs)


class AllocationFactory(_Flushing):
    class Meta:
        model = PaymentAllocation


class InvoiceLinkFactory(_Flushing):
    """An invoice-scoped access link row with no token: for `sign_in(link=...)`."""

    class Meta:
        model = AccessLink

    token_hash = factory.Sequence(lambda n: f"test-{n:059d}")
    purpose = "invoice"


_invoice_numbers = itertools.count(1)


def make_customer(db: Session, clock: Clock, name: str | None = None, timezone: str = "America/New_York") -> Customer:
    extra = {"name": name} if name else {}
    return CustomerFactory(_session=db, timezone=timezone, created_at=clock.now(), **extra)


def make_contact(db: Session, clock: Clock, customer: Customer, email: str | None = None, name: str = "Pat Clerk",
                 is_ap_mailbox: bool = False) -> Contact:
    extra = {"email": email.lower()} if email else {}
    return ContactFactory(_session=db, customer_id=customer.id, name=name, is_ap_mailbox=is_ap_mailbox,
                          created_at=clock.now(), **extra)


def make_invoice(
    db: Session,
    clock: Clock,
    customer: Customer,
    *,
    total_minor: int = 12_500,
    currency: str = "USD",
    issue_date: date | None = None,
    due_date: date | None = None,
    po_number: str | None = None,
    number: str | None = None,
    lines: list[tuple[str, Decimal | int, int]] | None = None,
) -> Invoice:
    """An issued invoice, through the invoicing service. `lines` are (description, quantity,
    unit price minor); by default one line for the whole total."""
    today = clock.now().date()
    issue_date = issue_date or today - timedelta(days=10)
    due_date = due_date or issue_date + timedelta(days=30)
    if lines is None:
        lines = [("Consulting services", 1, total_minor)]
    return issue_invoice(
        db, customer_id=customer.id, number=number or f"INV-{next(_invoice_numbers):06d}",
        po_number=po_number, currency=currency, issue_date=issue_date, due_date=due_date, terms="Net 30",
        at=clock.now(),
        lines=[NewLine(description, Decimal(quantity), unit, amount_minor=int(Decimal(quantity) * unit))
               for description, quantity, unit in lines],
    )


def sign_in(client, contact: Contact, clock: Clock, *, scope: str = ACCOUNT, link=None) -> None:
    """Start a server-side session for `contact` (committed) and put it into the test client's
    cookie jar, as redeeming a link would."""
    scope = scope if link is None else INVOICES
    db = object_session(contact)
    db.commit()  # end any read snapshot first: on SQLite a stale one cannot turn into a write
    started = start_session(db, clock, contact=contact, scope=scope, link=link)
    db.flush()  # the client commits it before its next request
    with client.session_transaction() as session:
        session[SESSION_KEY] = session_payload(contact, scope, link, clock.now(), started.token)
        session.permanent = True


def add_invoice_entry(db: Session, clock: Clock, invoice: Invoice, kind: str, amount_minor: int,
                      *, payment_id: int | None = None, reference: str = "") -> InvoiceEntry:
    """Append one history entry (credit note, settled payment, reversal...) to an invoice."""
    return post_entry(db, invoice_id=invoice.id, kind=kind, amount_minor=amount_minor,
                      payment_id=payment_id, reference=reference, at=clock.now())


def make_allocated_payment(db: Session, clock: Clock, customer: Customer,
                           allocations: list[tuple[Invoice, int]], *, status: str = "processing",
                           method: str = "card") -> Payment:
    """A payment attempt in `status` allocating (invoice, amount minor) pairs; no entries."""
    payment = PaymentFactory(
        _session=db, customer_id=customer.id, currency=allocations[0][0].currency,
        amount_minor=sum(amount for _, amount in allocations), method=method, status=status,
        created_at=clock.now(), updated_at=clock.now(),
    )
    for invoice, amount in allocations:
        AllocationFactory(_session=db, payment_id=payment.id, invoice_id=invoice.id, amount_minor=amount)
    return payment


def make_invoice_link(db: Session, clock: Clock, contact: Contact, invoices: list[Invoice], *,
                      days: int = 30) -> AccessLink:
    """An invoice-scoped access link row (no token: for signing in with `sign_in(link=...)`)."""
    link = InvoiceLinkFactory(
        _session=db, customer_id=contact.customer_id, contact_id=contact.id, created_at=clock.now(),
        expires_at=clock.now() + timedelta(days=days), invoices=list(invoices),
    )
    return link


# ---------------------------------------------------------------------------------------------
# Staff

STAFF_PASSWORD = "correct horse battery staple"
# The cheapest argon2 parameters, as the app under test uses (PORTAL_MODE=test).
TEST_PASSWORD_HASHER = PasswordHasher.cheapest()
_staff_numbers = itertools.count(1)


def make_staff(db: Session, clock: Clock, *, role: str = StaffRole.ANALYST, email: str | None = None,
               name: str | None = None, password: str = STAFF_PASSWORD, totp_secret: str | None = None,
               away: bool = False, status: str = StaffStatus.ACTIVE) -> StaffMember:
    """A staff member (flushed). Admins get a TOTP secret unless one is given or `totp_secret=""`
    asks for none (an admin who must still enrol)."""
    number = next(_staff_numbers)
    if totp_secret is None and role == StaffRole.ADMIN:
        totp_secret = new_totp_secret()
    staff = StaffMember(
        email=(email or f"{role}{number}@northwind.example").lower(), name=name or f"{str(role).capitalize()} {number}",
        role=role, status=status, password_hash=TEST_PASSWORD_HASHER.hash(password), totp_secret=totp_secret or None,
        away=away, timezone="UTC", created_at=clock.now(), password_changed_at=clock.now(),
    )
    db.add(staff)
    db.flush()
    return staff


def staff_sign_in(client, staff: StaffMember, clock: Clock) -> str:
    """Start a server-side staff session (the client commits it before its next request) and
    put its cookie in the client's jar, as signing in would. Returns the cookie's token."""
    db = object_session(staff)
    db.commit()
    started = start_staff_session(db, clock, staff)
    db.flush()
    client.set_cookie(STAFF_COOKIE, started.token, path=COOKIE_PATH)
    return started.token
