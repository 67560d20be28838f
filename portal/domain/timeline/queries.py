"""One customer's history on one timeline, for staff: invoices, payments, refunds and
chargebacks, disputes, plans and installments, promises, emails and access links, newest first.

Each kind of event is one SELECT of the same eight columns, cut to its newest rows up to the
page asked for; one UNION ALL orders them and reads one page (plus one row, to know whether
there is another), so a page costs the same three statements (customer, totals, timeline)
whether the customer has ten events or ten thousand. Paging stops at `MAX_PAGE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Integer, String, bindparam, case, cast, literal, null, or_, select, union_all
from sqlalchemy.orm import Session

from portal.domain.access.models import AccessLink
from portal.domain.core.database import read
from portal.domain.core.errors import NotFound
from portal.domain.core.money import Money
from portal.domain.customers.models import Contact, Customer
from portal.domain.disputes.models import Dispute, DisputeReason
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import AccountTotal
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.models import Payment
from portal.domain.plans.models import Installment, Plan
from portal.domain.plans.states import InstallmentStatus
from portal.domain.promises.models import Promise
from portal.domain.refunds.models import Chargeback, Refund

PAGE_SIZE = 50
MAX_PAGE = 40
MAX_SEARCH = 100
SEARCH_PAGE_SIZE = 50


class CustomerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such customer.")


# What each kind of entry says, and which page it links to (by the public id it carries).
KIND_LABELS: dict[str, str] = {
    "invoice": "Invoice issued",
    "payment": "Payment",
    "refund": "Refund",
    "chargeback": "Chargeback",
    "dispute_raised": "Dispute raised",
    "dispute_decided": "Dispute decided",
    "plan": "Plan proposed",
    "installment": "Installment",
    "promise_made": "Promise made",
    "promise_decided": "Promise",
    "email": "Email",
    "link_issued": "Link issued",
    "link_used": "Link used",
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    public_id: str | None  # of the object the entry links to (its page), when it has one
    title: str
    detail: str
    status: str
    amount: Money | None

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass(frozen=True)
class CustomerTimeline:
    public_id: str
    name: str
    account_number: str
    timezone: str
    totals: tuple[tuple[Money, int], ...]  # open amount and open invoice count, per currency
    entries: tuple[TimelineEntry, ...]
    page: int
    has_next: bool


def _text(value):
    return cast(value, String)


def _none_text():
    return cast(null(), String)


def _none_int():
    return cast(null(), Integer)


COLUMNS = ("at", "kind", "public_id", "title", "detail", "status", "amount_minor", "currency")


def _row(*columns):
    """One kind's SELECT, its columns named alike in every kind (the union matches them by place)."""
    return select(*(column.label(name) for column, name in zip(columns, COLUMNS, strict=True)))


def _events(customer_id):
    """Every kind of event of one customer as (at, kind, public_id, title, detail, status,
    amount_minor, currency)."""
    emails = select(Contact.email).where(Contact.customer_id == customer_id)
    return [
        _row(Invoice.created_at, literal("invoice"), _none_text(), Invoice.number,
             literal("due ") + _text(Invoice.due_date), literal(""), Invoice.total_minor, Invoice.currency)
        .where(Invoice.customer_id == customer_id),
        _row(Payment.created_at, literal("payment"), Payment.public_id, Payment.reference, Payment.method,
             Payment.status, Payment.amount_minor, Payment.currency)
        .where(Payment.customer_id == customer_id),
        _row(Refund.created_at, literal("refund"), Payment.public_id, Payment.reference, Refund.reason,
             Refund.status, Refund.amount_minor, Refund.currency)
        .join(Payment, Payment.id == Refund.payment_id).where(Payment.customer_id == customer_id),
        _row(Chargeback.opened_at, literal("chargeback"), Payment.public_id, Payment.reference, Chargeback.reason,
             Chargeback.status, Chargeback.amount_minor, Chargeback.currency)
        .join(Payment, Payment.id == Chargeback.payment_id).where(Payment.customer_id == customer_id),
        _row(Dispute.created_at, literal("dispute_raised"), Dispute.public_id, DisputeReason.label,
             literal(""), literal(""), _none_int(), Dispute.currency)
        .join(DisputeReason, DisputeReason.id == Dispute.reason_id).where(Dispute.customer_id == customer_id),
        _row(Dispute.resolved_at, literal("dispute_decided"), Dispute.public_id, DisputeReason.label,
             literal(""), Dispute.status, _none_int(), Dispute.currency)
        .join(DisputeReason, DisputeReason.id == Dispute.reason_id)
        .where(Dispute.customer_id == customer_id, Dispute.resolved_at.is_not(None)),
        _row(Plan.created_at, literal("plan"), Plan.public_id,
             _text(Plan.installment_count) + literal(" installments"), Plan.cadence,
             Plan.status, Plan.total_minor, Plan.currency)
        .where(Plan.customer_id == customer_id),
        _row(case((Installment.paid_at.is_not(None), Installment.paid_at), else_=Installment.updated_at),
             literal("installment"), Plan.public_id, literal("No. ") + _text(Installment.number),
             literal("due ") + _text(Installment.due_on),
             Installment.status, Installment.amount_minor, Plan.currency)
        .join(Plan, Plan.id == Installment.plan_id)
        .where(Plan.customer_id == customer_id,
             Installment.status.in_([InstallmentStatus.PAID, InstallmentStatus.FAILED,
                                     InstallmentStatus.ACTION_REQUIRED])),
        _row(Promise.created_at, literal("promise_made"), Promise.public_id,
             literal("for ") + _text(Promise.promised_date), Promise.method, literal(""), Promise.total_minor,
             Promise.currency)
        .where(Promise.customer_id == customer_id),
        _row(Promise.decided_at, literal("promise_decided"), Promise.public_id,
             literal("for ") + _text(Promise.promised_date),
             Promise.method, Promise.status, Promise.total_minor, Promise.currency)
        .where(Promise.customer_id == customer_id, Promise.decided_at.is_not(None)),
        _row(OutboxMessage.created_at, literal("email"), _none_text(), OutboxMessage.subject,
             OutboxMessage.kind + literal(" to ") + OutboxMessage.to_address, OutboxMessage.status,
             _none_int(), _none_text())
        .where(OutboxMessage.to_address.in_(emails)),
        _row(AccessLink.created_at, literal("link_issued"), _none_text(), AccessLink.purpose, Contact.email,
             case((AccessLink.revoked_at.is_not(None), "revoked"), else_=""), _none_int(), _none_text())
        .join(Contact, Contact.id == AccessLink.contact_id).where(AccessLink.customer_id == customer_id),
        _row(AccessLink.used_at, literal("link_used"), _none_text(), AccessLink.purpose, Contact.email,
             literal(""), _none_int(), _none_text())
        .join(Contact, Contact.id == AccessLink.contact_id)
        .where(AccessLink.customer_id == customer_id, AccessLink.used_at.is_not(None)),
    ]


_CUSTOMER = (select(Customer.id, Customer.public_id, Customer.name, Customer.account_number, Customer.timezone)
             .where(Customer.public_id == bindparam("public_id")))
_TOTALS = (select(AccountTotal.currency, AccountTotal.open_minor, AccountTotal.open_count)
           .where(AccountTotal.customer_id == bindparam("customer_id")).order_by(AccountTotal.currency))


@cache
def _timeline_statement():
    """Built once; the customer and the page are bind parameters. Each kind reads only its
    newest rows up to the page asked for (a top-N read on its customer index), so the union
    never sorts more than `kinds x page x PAGE_SIZE` rows, however long the history is."""
    newest = bindparam("newest", type_=Integer)
    kinds = [select(kind.order_by(kind.selected_columns.at.desc()).limit(newest).subquery())
             for kind in _events(bindparam("customer_id", type_=Integer))]
    events = union_all(*kinds).subquery()
    return (select(events).order_by(events.c.at.desc(), events.c.kind, events.c.title)
            .limit(bindparam("page_rows", type_=Integer)).offset(bindparam("skip", type_=Integer)))


def customer_timeline(db: Session, public_id: str, page: int = 1) -> CustomerTimeline:
    """One page of the customer's timeline, newest first; `CustomerNotFound` for an unknown id."""
    if not isinstance(public_id, str) or not 1 <= len(public_id) <= 22:
        raise CustomerNotFound()
    customer = read(db, _CUSTOMER, {"public_id": public_id}).one_or_none()
    if customer is None:
        raise CustomerNotFound()
    page = min(max(page, 1), MAX_PAGE)
    totals = tuple((Money(int(row.open_minor), row.currency), int(row.open_count))
                   for row in read(db, _TOTALS, {"customer_id": customer.id}))
    rows = read(db, _timeline_statement(), {
        "customer_id": customer.id, "newest": page * PAGE_SIZE + 1, "page_rows": PAGE_SIZE + 1,
        "skip": (page - 1) * PAGE_SIZE,
    }).all()
    entries = tuple(
        TimelineEntry(at=row.at, kind=row.kind, public_id=row.public_id, title=row.title or "",
                      detail=row.detail or "", status=row.status or "",
                      amount=Money(int(row.amount_minor), row.currency) if row.amount_minor is not None else None)
        for row in rows[:PAGE_SIZE]
    )
    return CustomerTimeline(public_id=customer.public_id, name=customer.name, account_number=customer.account_number,
                            timezone=customer.timezone, totals=totals, entries=entries, page=page,
                            has_next=len(rows) > PAGE_SIZE and page < MAX_PAGE)


@dataclass(frozen=True)
class CustomerRow:
    public_id: str
    name: str
    account_number: str


@dataclass(frozen=True)
class CustomerSearch:
    query: str
    rows: tuple[CustomerRow, ...]
    page: int
    has_next: bool


def _contains(text: str) -> str:
    escaped = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def search_customers(db: Session, query: str = "", page: int = 1) -> CustomerSearch:
    """Customers whose name or account number contains `query` (all when empty), by name, one
    bounded page at a time (one statement)."""
    query = (query or "").strip()[:MAX_SEARCH]
    page = min(max(page, 1), MAX_PAGE)
    statement = select(Customer.public_id, Customer.name, Customer.account_number)
    if query:
        pattern = _contains(query)
        statement = statement.where(or_(
            Customer.name.ilike(pattern, escape="/"), Customer.account_number.ilike(pattern, escape="/"),
        ))
    rows = db.execute(statement.order_by(Customer.name, Customer.id)
                      .limit(SEARCH_PAGE_SIZE + 1).offset((page - 1) * SEARCH_PAGE_SIZE)).all()
    return CustomerSearch(query=query, rows=tuple(CustomerRow(*row) for row in rows[:SEARCH_PAGE_SIZE]),
                          page=page, has_next=len(rows) > SEARCH_PAGE_SIZE and page < MAX_PAGE)


def customer_public_id_by_account(db: Session, account_number: str) -> str:
    """The public id of the customer with this account number (links from pages that show it)."""
    account_number = (account_number or "").strip()
    found = db.scalar(select(Customer.public_id).where(Customer.account_number == account_number)) \
        if 0 < len(account_number) <= 40 else None
    if found is None:
        raise CustomerNotFound()
    return found

