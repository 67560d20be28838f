"""What a signed-in customer sees of their account: the overview, the invoice list, one
invoice, and the data behind the statement of account.

Every query is limited by `invoice_scope(access)`: another company's invoice, or one outside a
forwarded link's scope, is never loaded. Balances and money in flight are the invoices' own
maintained columns (see `ledger.queries`), so each page costs the same few queries however
many invoices the customer has (no query per row), and no query sums an account's entries:
only the history of the one invoice on its own page is read entry by entry. `today` is the customer's calendar date in their own time
zone (`clock.today_in`): "overdue" and the aging buckets depend on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from portal.domain.access.policy import Access, invoice_scope
from portal.domain.account.policy import AGING_BUCKETS, AgingBucket
from portal.domain.core.errors import NotFound
from portal.domain.core.money import Money
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.queries import Standing, standings_query, to_standings
from portal.domain.ledger.states import ENTRY_LABELS
from portal.domain.payments.models import IN_FLIGHT_STATUSES, Payment, PaymentAllocation

BALANCE = Invoice.balance_minor
IN_FLIGHT = Invoice.in_flight_minor

def _bucket_clause(bucket: AgingBucket, today: date) -> ColumnElement[bool]:
    """`bucket.holds(days overdue)` as a condition on the due date (portable date maths)."""
    earliest, latest = bucket.due_dates(today)
    conditions = []
    if latest is not None:
        conditions.append(Invoice.due_date <= latest)
    if earliest is not None:
        conditions.append(Invoice.due_date >= earliest)
    return and_(*conditions)


# --------------------------------------------------------------------------------------------
# Totals per currency (overview and statement).


@dataclass(frozen=True)
class CurrencyTotals:
    """What the customer owes in one currency, and how late it is."""

    currency: str
    open_count: int
    overdue_count: int
    processing_count: int
    open: Money
    overdue: Money
    in_flight: Money
    aging: tuple[tuple[AgingBucket, Money], ...]

    @property
    def payable(self) -> Money:
        return self.open - self.in_flight


def _scoped_standings(access: Access) -> Select:
    return standings_query(select(Invoice)).where(invoice_scope(access))


def open_totals(db: Session, access: Access, today: date) -> list[CurrencyTotals]:
    """Open and overdue balances with aging buckets, one row per currency (one query)."""
    overdue = Invoice.due_date < today
    query = (
        select(
            Invoice.currency,
            func.count().label("open_count"),
            func.sum(case((overdue, 1), else_=0)).label("overdue_count"),
            func.sum(case((IN_FLIGHT > 0, 1), else_=0)).label("processing_count"),
            func.sum(BALANCE).label("open_minor"),
            func.sum(case((overdue, BALANCE), else_=0)).label("overdue_minor"),
            func.sum(IN_FLIGHT).label("in_flight_minor"),
            *[func.sum(case((_bucket_clause(bucket, today), BALANCE), else_=0)).label(bucket.key)
              for bucket in AGING_BUCKETS],
        )
        .where(invoice_scope(access), BALANCE > 0)
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    totals = []
    for row in db.execute(query).mappings():
        currency = row["currency"]
        totals.append(CurrencyTotals(
            currency=currency,
            open_count=int(row["open_count"]),
            overdue_count=int(row["overdue_count"]),
            processing_count=int(row["processing_count"]),
            open=Money(int(row["open_minor"]), currency),
            overdue=Money(int(row["overdue_minor"]), currency),
            in_flight=Money(int(row["in_flight_minor"]), currency),
            aging=tuple((bucket, Money(int(row[bucket.key]), currency)) for bucket in AGING_BUCKETS),
        ))
    return totals


@dataclass(frozen=True)
class Overview:
    totals: list[CurrencyTotals]
    most_overdue: list[Standing]

    @property
    def is_all_paid(self) -> bool:
        return not self.totals


def account_overview(db: Session, access: Access, today: date, most_overdue_limit: int = 5) -> Overview:
    """Totals per currency and the few invoices most past due (two queries)."""
    oldest = (
        _scoped_standings(access).where(BALANCE > 0, Invoice.due_date < today)
        .order_by(Invoice.due_date, Invoice.id)
        .limit(most_overdue_limit)
    )
    return Overview(
        totals=open_totals(db, access, today),
        most_overdue=to_standings(db.execute(oldest).all(), today),
    )


# --------------------------------------------------------------------------------------------
# The invoice list: filter, search, sort, paginate.

STATUS_FILTERS = ("all", "open", "overdue", "paid")
SORT_KEYS = ("priority", "due", "issued", "number", "total", "balance")
DEFAULT_PER_PAGE = 25
PER_PAGE_CHOICES = (25, 50, 100)
MAX_SEARCH_LENGTH = 60


def _positive_int(value, default: int) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


@dataclass(frozen=True)
class InvoiceListQuery:
    """The list's query arguments, already checked: unknown values fall back to defaults.

    `status`: all | open (anything still owed) | overdue | paid. `q`: part of an invoice or PO
    number. `currency`: one ISO code or "" for all. `sort`: priority (unpaid first, oldest due
    first; paid last, newest first) | due | issued | number | total | balance; `direction`:
    asc | desc (ignored by priority). `page` is 1-based.
    """

    status: str = "all"
    q: str = ""
    currency: str = ""
    sort: str = "priority"
    direction: str = "asc"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> InvoiceListQuery:
        status = params.get("status", "all")
        sort = params.get("sort", "priority")
        direction = params.get("dir", "asc")
        currency = (params.get("currency") or "").strip().upper()
        per_page = _positive_int(params.get("per_page"), DEFAULT_PER_PAGE)
        return cls(
            status=status if status in STATUS_FILTERS else "all",
            q=(params.get("q") or "").strip()[:MAX_SEARCH_LENGTH],
            currency=currency if len(currency) == 3 and currency.isalpha() else "",
            sort=sort if sort in SORT_KEYS else "priority",
            direction=direction if direction in ("asc", "desc") else "asc",
            page=_positive_int(params.get("page"), 1),
            per_page=per_page if per_page in PER_PAGE_CHOICES else DEFAULT_PER_PAGE,
        )

    def params(self, **changes) -> dict[str, str | int]:
        """Query arguments for a link to this list with `changes`, defaults left out."""
        query = replace(self, **changes)
        default = InvoiceListQuery()
        values = {"status": query.status, "q": query.q, "currency": query.currency,
                  "sort": query.sort, "dir": query.direction, "page": query.page,
                  "per_page": query.per_page}
        defaults = {"status": default.status, "q": default.q, "currency": default.currency,
                    "sort": default.sort, "dir": default.direction, "page": default.page,
                    "per_page": default.per_page}
        return {key: value for key, value in values.items() if value != defaults[key]}

    def sorted_by(self, key: str) -> dict[str, str | int]:
        """Arguments for a column header: sort by `key`, flipping the direction if already so."""
        direction = "desc" if (self.sort == key and self.direction == "asc") else "asc"
        return self.params(sort=key, direction=direction, page=1)


@dataclass(frozen=True)
class InvoicePage:
    query: InvoiceListQuery
    standings: list[Standing]
    counts: dict[str, int]  # per status filter, for the current search and currency
    currencies: list[str]  # every currency the customer has invoices in
    total: int  # rows matching the current filter
    page: int
    pages: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_row(self) -> int:
        return (self.page - 1) * self.query.per_page + 1 if self.total else 0

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.standings) - 1 if self.standings else 0


def _search_clause(text: str) -> ColumnElement[bool]:
    needle = text.lower()
    return or_(
        func.lower(Invoice.number).contains(needle, autoescape=True),
        func.lower(func.coalesce(Invoice.po_number, "")).contains(needle, autoescape=True),
    )


def _status_clause(status: str, balance, today: date) -> ColumnElement[bool] | None:
    if status == "open":
        return balance > 0
    if status == "overdue":
        return and_(balance > 0, Invoice.due_date < today)
    if status == "paid":
        return balance <= 0
    return None


def _ordering(query: InvoiceListQuery, balance) -> list:
    if query.sort == "priority":
        unpaid_first = case((balance > 0, 0), else_=1)
        unpaid_due = case((balance > 0, Invoice.due_date), else_=None)
        return [unpaid_first, unpaid_due.asc(), Invoice.due_date.desc(), Invoice.id.desc()]
    column = {
        "due": Invoice.due_date, "issued": Invoice.issue_date, "number": Invoice.number,
        "total": Invoice.total_minor, "balance": balance,
    }[query.sort]
    if query.direction == "desc":
        return [column.desc(), Invoice.id.desc()]
    return [column.asc(), Invoice.id.asc()]


def _counts_by_currency(db: Session, access: Access, today: date, search: str) -> list[dict]:
    """Invoices per status filter and currency (one grouped query on the invoices' own
    columns): the tabs, the currency choice and the number of pages all come from it."""
    unpaid = BALANCE > 0
    query = (
        select(
            Invoice.currency,
            func.count().label("all"),
            func.sum(case((unpaid, 1), else_=0)).label("open"),
            func.sum(case((and_(unpaid, Invoice.due_date < today), 1), else_=0)).label("overdue"),
            func.sum(case((BALANCE <= 0, 1), else_=0)).label("paid"),
        )
        .where(invoice_scope(access))
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    if search:
        query = query.where(_search_clause(search))
    return [dict(row) for row in db.execute(query).mappings()]


def list_invoices(db: Session, access: Access, today: date, query: InvoiceListQuery) -> InvoicePage:
    """One page of the customer's invoices with their standings (two queries)."""
    count_rows = _counts_by_currency(db, access, today, query.q)
    counts = {status: sum(int(row[status]) for row in count_rows
                          if not query.currency or row["currency"] == query.currency)
              for status in STATUS_FILTERS}
    total = counts[query.status]
    pages = max(1, -(-total // query.per_page))
    page = min(query.page, pages)

    standings = _scoped_standings(access)
    if query.q:
        standings = standings.where(_search_clause(query.q))
    if query.currency:
        standings = standings.where(Invoice.currency == query.currency)
    status_clause = _status_clause(query.status, BALANCE, today)
    if status_clause is not None:
        standings = standings.where(status_clause)
    rows = db.execute(
        standings.order_by(*_ordering(query, BALANCE))
        .limit(query.per_page).offset((page - 1) * query.per_page)
    ).all()
    return InvoicePage(
        query=query, standings=to_standings(rows, today), counts=counts,
        currencies=[row["currency"] for row in count_rows], total=total, page=page, pages=pages,
    )


# --------------------------------------------------------------------------------------------
# One invoice: lines, history of entries, payments still in flight.

IN_FLIGHT_LABELS = {
    "new": "Payment started",
    "requires_action": "Payment awaiting authentication",
    "processing": "Payment processing",
}

METHOD_LABELS = {"card": "card", "us_bank_account": "bank transfer (ACH)", "ach": "bank transfer (ACH)",
                 "sepa_debit": "SEPA debit"}


@dataclass(frozen=True)
class LineView:
    """An invoice line with its amounts as Money."""

    position: int
    sku: str
    description: str
    quantity: Decimal
    unit_price: Money
    amount: Money


@dataclass(frozen=True)
class HistoryRow:
    """One entry of the invoice's history, with the balance after it."""

    at: datetime
    kind: str
    label: str
    amount: Money
    balance_after: Money
    reference: str
    method: str  # how a payment was made, "" for other entries


@dataclass(frozen=True)
class PendingPayment:
    """Money on its way (e.g. an ACH debit for days): reserved, not yet applied."""

    public_id: str
    label: str
    method: str
    started_at: datetime
    amount: Money
    status: str = ""  # a `requires_action` one may be canceled by any contact who sees it


@dataclass(frozen=True)
class InvoiceDetail:
    standing: Standing
    lines: list[LineView]
    history: list[HistoryRow]
    pending: list[PendingPayment]

    @property
    def invoice(self) -> Invoice:
        return self.standing.invoice

    @property
    def applied(self) -> list[HistoryRow]:
        """Payments, credits and reversals: everything after the invoice was issued."""
        return [row for row in self.history if row.kind != "issued"]


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method.replace("_", " "))


def invoice_detail(db: Session, access: Access, public_id: str, today: date) -> InvoiceDetail:
    """The invoice with this public id, if this access may see it (four queries)."""
    standings = _scoped_standings(access)
    row = db.execute(standings.where(Invoice.public_id == public_id)).first()
    if row is None:
        raise NotFound("Invoice not found")
    standing = to_standings([row], today)[0]
    invoice = standing.invoice
    currency = invoice.currency

    lines = [
        LineView(position=line.position, sku=line.sku, description=line.description,
                 quantity=line.quantity, unit_price=Money(line.unit_price_minor, currency),
                 amount=Money(line.amount_minor, currency))
        for line in db.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
        )
    ]

    history: list[HistoryRow] = []
    running = Money.zero(currency)
    entries = db.execute(
        select(InvoiceEntry, Payment.method)
        .outerjoin(Payment, Payment.id == InvoiceEntry.payment_id)
        .where(InvoiceEntry.invoice_id == invoice.id)
        .order_by(InvoiceEntry.created_at, InvoiceEntry.id)
    ).all()
    for entry, method in entries:
        amount = Money(entry.amount_minor, currency)
        running = running + amount
        history.append(HistoryRow(
            at=entry.created_at, kind=entry.kind, label=ENTRY_LABELS.get(entry.kind, entry.kind),
            amount=amount, balance_after=running, reference=entry.reference,
            method=method_label(method) if method else "",
        ))

    pending = [
        PendingPayment(
            public_id=payment.public_id, label=IN_FLIGHT_LABELS[payment.status],
            method=method_label(payment.method), started_at=payment.created_at,
            amount=Money(allocated, currency), status=payment.status,
        )
        for payment, allocated in db.execute(
            select(Payment, PaymentAllocation.amount_minor)
            .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
            .where(PaymentAllocation.invoice_id == invoice.id,
                   Payment.status.in_(IN_FLIGHT_STATUSES))
            .order_by(Payment.created_at, Payment.id)
        ).all()
    ]
    return InvoiceDetail(standing=standing, lines=lines, history=history, pending=pending)


# --------------------------------------------------------------------------------------------
# Statement of account.


@dataclass(frozen=True)
class StatementSection:
    """The open invoices of one currency, oldest due first, and their totals."""

    currency: str
    standings: list[Standing]
    totals: CurrencyTotals


@dataclass(frozen=True)
class Statement:
    today: date
    sections: list[StatementSection]

    @property
    def is_empty(self) -> bool:
        return not self.sections


def statement_of_account(db: Session, access: Access, today: date) -> Statement:
    """Every open invoice with its aging, grouped by currency, with totals (two queries)."""
    rows = db.execute(
        _scoped_standings(access).where(BALANCE > 0)
        .order_by(Invoice.currency, Invoice.due_date, Invoice.number)
    ).all()
    by_currency: dict[str, list[Standing]] = {}
    for standing in to_standings(rows, today):
        by_currency.setdefault(standing.invoice.currency, []).append(standing)
    sections = [
        StatementSection(currency=totals.currency, standings=by_currency.get(totals.currency, []),
                         totals=totals)
        for totals in open_totals(db, access, today)
    ]
    return Statement(today=today, sections=sections)
