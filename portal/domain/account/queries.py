"""What a signed-in customer sees of their account: the overview, the invoice list, one
invoice, and the data behind the statement of account.

Every query is limited by `invoice_scope(access)`: another company's invoice, or one outside a
forwarded link's scope, is never loaded. Balances and money in flight are the invoices' own
maintained columns (see `ledger.queries`), so each page costs the same few queries however
many invoices the customer has (no query per row), and no query sums an account's entries:
only the history of the one invoice on its own page is read entry by entry. `today` is the customer's calendar date in their own time
zone (`clock.today_in`): "overdue" and the aging buckets depend on it.

Flat with the account's size: for a whole-account session the totals, aging and tab counts
come from the customer's maintained sums (`ledger.models.AccountTotal`, one row per currency,
and `AccountDueDate`, only the due dates since `policy.aging_window_start`, at most some 90
days back plus the days still ahead), and a page of the list reads only its own rows from an
index range (`_page_ids`). What still reads every matching invoice, by design: a search
(`q`, a substring match no index serves) counts its matches; a forwarded link's session
(a few named invoices) counts the invoices it names; and OFFSET steps over the index entries
of the pages before the one asked for (page 200 of 25 reads 5,000 index entries, not rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

from sqlalchemy import (
    ColumnElement, Integer, ScalarSelect, Select, and_, bindparam, case, func, literal_column, null, or_, select,
    type_coerce, union_all,
)
from sqlalchemy.orm import Session, aliased

from portal.domain.access.policy import Access, bound_invoice_scope, bound_named_invoices, scope_params
from portal.domain.account.policy import AGING_BUCKETS, AgingBucket, aging_window_start, oldest_bucket
from portal.domain.core.database import read
from portal.domain.core.errors import NotFound
from portal.domain.core.locales import N_, Text
from portal.domain.core.money import Money
from portal.domain.disputes.models import DisputeInvoice
from portal.domain.followups.models import Followup, FollowupInvoice
from portal.domain.followups.states import ACTIVE as FOLLOWUP_ACTIVE, FollowupKind
from portal.domain.invoicing.models import Invoice, InvoiceLine, InvoiceReissue
from portal.domain.ledger.models import AccountDueDate, AccountTotal, InvoiceEntry
from portal.domain.ledger.queries import InvoiceRow, Standing, standings_query, to_standings
from portal.domain.ledger.states import ENTRY_LABELS
from portal.domain.payments.policy import BANK_ACCOUNT, ach_expected_by, in_flight_label
from portal.domain.payments.states import IN_FLIGHT_LABELS, PaymentStatus
from portal.domain.payments.models import IN_FLIGHT_STATUSES, Payment, PaymentAllocation
from portal.domain.payments.queries import payment_scope
from portal.domain.promises.models import Promise, PromiseInvoice
from portal.domain.promises.states import PromiseStatus

BALANCE = Invoice.balance_minor
IN_FLIGHT = Invoice.in_flight_minor
HELD = Invoice.held_minor
# "Open" and "paid" with the 0 written into the SQL, not bound: SQLite uses a partial index
# (`WHERE balance_minor > 0`) only when the query states that very condition.
IS_OPEN = BALANCE > literal_column("0")
IS_PAID = BALANCE <= literal_column("0")

def _bucket_clause(bucket: AgingBucket, due_date=Invoice.due_date) -> ColumnElement[bool]:
    """`bucket.holds(days overdue)` as a condition on the due date (portable date maths), its
    dates left to `_bucket_params`."""
    conditions = []
    if bucket.min_days is not None:
        conditions.append(due_date <= bindparam(f"{bucket.key}_latest"))
    if bucket.max_days is not None:
        conditions.append(due_date >= bindparam(f"{bucket.key}_earliest"))
    return and_(*conditions)


def _bucket_params(today: date) -> dict[str, date]:
    """The due dates every bucket's clause compares with on `today`."""
    params = {}
    for bucket in AGING_BUCKETS:
        earliest, latest = bucket.due_dates(today)
        if latest is not None:
            params[f"{bucket.key}_latest"] = latest
        if earliest is not None:
            params[f"{bucket.key}_earliest"] = earliest
    return params


@dataclass(frozen=True)
class _AccountFigures:
    """One currency of a customer's maintained sums, read for one day."""

    currency: str
    invoice_count: int
    open_count: int
    open_minor: int
    in_flight_minor: int
    processing_count: int
    not_due_count: int  # open invoices due today or later
    not_due_minor: int
    bounded_aging: dict[str, int]  # bucket key -> open balance, every bucket but the oldest
    held_minor: int = 0  # what active disputes hold on open invoices

    @property
    def overdue_count(self) -> int:
        return self.open_count - self.not_due_count

    @property
    def overdue_minor(self) -> int:
        return self.open_minor - self.not_due_minor

    def aging_minor(self, bucket: AgingBucket) -> int:
        if bucket.key in self.bounded_aging:
            return self.bounded_aging[bucket.key]
        return self.open_minor - sum(self.bounded_aging.values())


_BOUNDED_BUCKETS = tuple(bucket for bucket in AGING_BUCKETS if bucket != oldest_bucket())


@cache
def _account_figures_statement() -> Select:
    due = AccountDueDate.due_date
    not_due = due >= bindparam("today")
    recent = (
        select(
            AccountDueDate.currency,
            func.sum(case((not_due, AccountDueDate.open_count), else_=0)).label("not_due_count"),
            func.sum(case((not_due, AccountDueDate.open_minor), else_=0)).label("not_due_minor"),
            *[func.sum(case((_bucket_clause(bucket, due), AccountDueDate.open_minor), else_=0))
              .label(bucket.key) for bucket in _BOUNDED_BUCKETS],
        )
        .where(AccountDueDate.customer_id == bindparam("customer_id"), due >= bindparam("window_start"))
        .group_by(AccountDueDate.currency)
        .subquery("recent_due_dates")
    )
    # Disputed money: only the invoices holding some are read (a partial index serves it).
    held = (
        select(Invoice.currency, func.sum(HELD).label("held_minor"))
        .where(Invoice.customer_id == bindparam("customer_id"), HELD > literal_column("0"), IS_OPEN)
        .group_by(Invoice.currency)
        .subquery("held_by_currency")
    )
    totals = AccountTotal.__table__
    return (
        select(totals, func.coalesce(held.c.held_minor, 0).label("held_minor"),
               *[func.coalesce(column, 0).label(column.name) for column in list(recent.c)[1:]])
        .outerjoin(recent, recent.c.currency == totals.c.currency)
        .outerjoin(held, held.c.currency == totals.c.currency)
        .where(totals.c.customer_id == bindparam("customer_id"))
        .order_by(totals.c.currency)
    )


def _account_figures(db: Session, customer_id: int, today: date) -> list[_AccountFigures]:
    """Per currency: the customer's totals, with the due dates since the aging window's start
    summed into "not yet due" and the bounded buckets (one query, on the maintained sums)."""
    rows = read(db, _account_figures_statement(), {
        "customer_id": customer_id, "today": today, "window_start": aging_window_start(today),
        **_bucket_params(today)})
    figures = []
    for row in rows:
        figures.append(_AccountFigures(
            currency=row.currency, invoice_count=row.invoice_count, open_count=row.open_count,
            open_minor=int(row.open_minor), in_flight_minor=int(row.in_flight_minor),
            processing_count=row.processing_count, not_due_count=int(row.not_due_count),
            not_due_minor=int(row.not_due_minor),
            bounded_aging={bucket.key: int(getattr(row, bucket.key)) for bucket in _BOUNDED_BUCKETS},
            held_minor=int(row.held_minor),
        ))
    return figures


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
    held: Money | None = None  # disputed: held out of what is payable

    @property
    def disputed(self) -> Money:
        return self.held if self.held is not None else Money.zero(self.currency)

    @property
    def payable(self) -> Money:
        return self.open - self.in_flight - self.disputed


def open_totals(db: Session, access: Access, today: date) -> list[CurrencyTotals]:
    """Open and overdue balances with aging buckets, one row per currency (one query).

    A whole-account session reads the customer's maintained sums; a link's session adds up
    the few invoices it names.
    """
    if not access.whole_account:
        return _summed_open_totals(db, access, today)
    return [
        CurrencyTotals(
            currency=f.currency, open_count=f.open_count, overdue_count=f.overdue_count,
            processing_count=f.processing_count, open=Money(f.open_minor, f.currency),
            overdue=Money(f.overdue_minor, f.currency), in_flight=Money(f.in_flight_minor, f.currency),
            aging=tuple((bucket, Money(f.aging_minor(bucket), f.currency)) for bucket in AGING_BUCKETS),
            held=Money(f.held_minor, f.currency),
        )
        for f in _account_figures(db, access.customer_id, today) if f.open_count > 0
    ]


@cache
def _summed_open_totals_statement(whole_account: bool) -> Select:
    overdue = Invoice.due_date < bindparam("today")
    return (
        select(
            Invoice.currency,
            func.count().label("open_count"),
            func.sum(case((overdue, 1), else_=0)).label("overdue_count"),
            func.sum(case((IN_FLIGHT > 0, 1), else_=0)).label("processing_count"),
            func.sum(BALANCE).label("open_minor"),
            func.sum(case((overdue, BALANCE), else_=0)).label("overdue_minor"),
            func.sum(IN_FLIGHT).label("in_flight_minor"),
            func.sum(HELD).label("held_minor"),
            *[func.sum(case((_bucket_clause(bucket), BALANCE), else_=0)).label(bucket.key)
              for bucket in AGING_BUCKETS],
        )
        .where(bound_invoice_scope(whole_account), IS_OPEN)
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )


def _summed_open_totals(db: Session, access: Access, today: date) -> list[CurrencyTotals]:
    """`open_totals` added up from the invoices themselves (what the maintained sums equal)."""
    rows = read(db, _summed_open_totals_statement(access.whole_account),
                {**scope_params(access), "today": today, **_bucket_params(today)}).mappings()
    totals = []
    for row in rows:
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
            held=Money(int(row["held_minor"]), currency),
        ))
    return totals


@dataclass(frozen=True)
class Overview:
    totals: list[CurrencyTotals]
    most_overdue: list[Standing]
    notes: InvoiceNotes  # of the most overdue

    @property
    def is_all_paid(self) -> bool:
        return not self.totals


@dataclass(frozen=True)
class InvoiceNotes:
    """What a page says beside some of its invoices: the date an open promise names
    ("Promised for 15 Dec") and whether a payment the clerk reported is being matched."""

    promised: Mapping[int, date]
    reported: frozenset[int]

    @classmethod
    def of(cls, rows) -> InvoiceNotes:
        """The notes of rows read with `noted_standings_query` (its two note columns)."""
        return cls({row.id: row.promised_for for row in rows if row.promised_for is not None},
                   frozenset(row.id for row in rows if row.payment_reported))


def noted_standings_query() -> Select:
    """`standings_query()` with each invoice's notes as two more columns, so that a page reads
    its rows and what it says beside them in one statement: `promised_for`, the date of the
    earliest open promise covering the invoice, and `payment_reported`, whether a payment
    the clerk reported ("we already paid") is still being matched."""
    promised_for = (
        select(func.min(Promise.promised_date))
        .join(PromiseInvoice, PromiseInvoice.promise_id == Promise.id)
        .where(PromiseInvoice.invoice_id == Invoice.id, Promise.customer_id == Invoice.customer_id,
               Promise.status == PromiseStatus.OPEN.value)
        .correlate(Invoice).scalar_subquery()
    )
    reported = (
        select(FollowupInvoice.invoice_id)
        .join(Followup, Followup.id == FollowupInvoice.followup_id)
        .where(FollowupInvoice.invoice_id == Invoice.id, Followup.customer_id == Invoice.customer_id,
               Followup.kind == FollowupKind.ALREADY_PAID.value,
               Followup.status.in_([status.value for status in FOLLOWUP_ACTIVE]))
        .correlate(Invoice).exists()
    )
    return standings_query().add_columns(promised_for.label("promised_for"), reported.label("payment_reported"))


@cache
def _most_overdue_statement(whole_account: bool) -> Select:
    return (
        noted_standings_query().where(bound_invoice_scope(whole_account), IS_OPEN, Invoice.due_date < bindparam("today"))
        .order_by(Invoice.due_date, Invoice.id)
        .limit(bindparam("limit", type_=Integer))
    )


def account_overview(db: Session, access: Access, today: date, most_overdue_limit: int = 5) -> Overview:
    """Totals per currency and the few invoices most past due (two queries)."""
    oldest = read(db, _most_overdue_statement(access.whole_account),
                  {**scope_params(access), "today": today, "limit": most_overdue_limit}).all()
    return Overview(totals=open_totals(db, access, today), most_overdue=to_standings(oldest, today),
                    notes=InvoiceNotes.of(oldest))


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
        """Query arguments for a link to this list with `changes` (field names), defaults left out."""
        values = {"status": self.status, "q": self.q, "currency": self.currency, "sort": self.sort,
                  "dir": self.direction, "page": self.page, "per_page": self.per_page}
        for field_name, value in changes.items():
            values[_ARGUMENT_OF_FIELD[field_name]] = value
        return {key: value for key, value in values.items() if value != _DEFAULT_ARGUMENTS[key]}

    def sorted_by(self, key: str) -> dict[str, str | int]:
        """Arguments for a column header: sort by `key`, flipping the direction if already so."""
        direction = "desc" if (self.sort == key and self.direction == "asc") else "asc"
        return self.params(sort=key, direction=direction, page=1)


# The list's query string argument for each field of `InvoiceListQuery`, and each argument's default.
_ARGUMENT_OF_FIELD = {"status": "status", "q": "q", "currency": "currency", "sort": "sort", "direction": "dir",
                      "page": "page", "per_page": "per_page"}
_DEFAULT_ARGUMENTS = {_ARGUMENT_OF_FIELD[name]: getattr(InvoiceListQuery(), name) for name in _ARGUMENT_OF_FIELD}


@dataclass(frozen=True)
class InvoicePage:
    query: InvoiceListQuery
    standings: list[Standing]
    counts: dict[str, int]  # per status filter, for the current search and currency
    currencies: list[str]  # every currency the customer has invoices in
    total: int  # rows matching the current filter
    page: int
    pages: int
    notes: InvoiceNotes  # of the page's unpaid rows: a paid invoice's notes are over

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def payable_standings(self) -> list[Standing]:
        """The rows of this page with something left to pay now (they get a checkbox)."""
        return [standing for standing in self.standings if standing.payable.minor > 0]

    @property
    def first_row(self) -> int:
        return (self.page - 1) * self.query.per_page + 1 if self.total else 0

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.standings) - 1 if self.standings else 0


def _search_clause() -> ColumnElement[bool]:
    """Part of the invoice or PO number, case-insensitively; the pattern is `_like_pattern`'s."""
    pattern = bindparam("search_pattern")
    return or_(
        func.lower(Invoice.number).like(pattern, escape="/"),
        func.lower(func.coalesce(Invoice.po_number, "")).like(pattern, escape="/"),
    )


def _like_pattern(text: str) -> str:
    """LIKE's pattern for "contains `text`", its wildcards escaped (the escape character is /)."""
    escaped = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _status_clause(status: str) -> ColumnElement[bool] | None:
    if status == "open":
        return IS_OPEN
    if status == "overdue":
        return and_(IS_OPEN, Invoice.due_date < bindparam("today"))
    if status == "paid":
        return IS_PAID
    return None


def _ordering(sort: str, direction: str) -> list:
    if sort == "priority":
        unpaid_first = case((IS_OPEN, 0), else_=1)
        unpaid_due = case((IS_OPEN, Invoice.due_date), else_=None)
        return [unpaid_first, unpaid_due.asc(), Invoice.due_date.desc(), Invoice.id.desc()]
    column = {
        "due": Invoice.due_date, "issued": Invoice.issue_date, "number": Invoice.number,
        "total": Invoice.total_minor, "balance": BALANCE,
    }[sort]
    if direction == "desc":
        return [column.desc(), Invoice.id.desc()]
    return [column.asc(), Invoice.id.asc()]


def _counts_by_currency(db: Session, access: Access, today: date, search: str) -> list[dict]:
    """Invoices per status filter and currency (one query): the tabs, the currency choice and
    the number of pages all come from it. The maintained sums answer a whole-account session;
    a search, or a link's session, counts the matching invoices themselves."""
    if access.whole_account and not search:
        return [{"currency": f.currency, "all": f.invoice_count, "open": f.open_count,
                 "overdue": f.overdue_count, "paid": f.invoice_count - f.open_count}
                for f in _account_figures(db, access.customer_id, today)]
    return _counted_by_currency(db, access, today, search)


def _counted_by_currency(db: Session, access: Access, today: date, search: str) -> list[dict]:
    """`_counts_by_currency` from one grouped query on the invoices' own columns."""
    params = {**scope_params(access), "today": today}
    if search:
        params["search_pattern"] = _like_pattern(search)
    rows = read(db, _counted_by_currency_statement(access.whole_account, bool(search)), params)
    return [dict(row) for row in rows.mappings()]


@cache
def _counted_by_currency_statement(whole_account: bool, searching: bool) -> Select:
    query = (
        select(
            Invoice.currency,
            func.count().label("all"),
            func.sum(case((IS_OPEN, 1), else_=0)).label("open"),
            func.sum(case((and_(IS_OPEN, Invoice.due_date < bindparam("today")), 1), else_=0)).label("overdue"),
            func.sum(case((IS_PAID, 1), else_=0)).label("paid"),
        )
        .where(bound_invoice_scope(whole_account))
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    return query.where(_search_clause()) if searching else query


@dataclass(frozen=True)
class _ListShape:
    """What decides the SQL of a list page; everything else is a bound value."""

    whole_account: bool
    status: str
    sort: str
    direction: str
    searching: bool
    one_currency: bool


def _page_ids(shape: _ListShape) -> Select:
    """The ids of one page, read from an index range (ORDER BY ... LIMIT ... OFFSET over ids only).

    The default "priority" order (unpaid first, oldest due first; then paid, newest due first)
    is two index ranges read in turn: the open invoices by due date (partial index on open
    invoices) while the offset is within the open count, then the paid ones by due date
    descending (partial index on paid invoices) with what remains of the offset; the counts
    say where one part ends (`_page_params`), so no CASE over every invoice is sorted. Each
    other sort key has an index leading with the customer (migration 0006).
    """
    filters = [bound_invoice_scope(shape.whole_account)]
    if shape.searching:
        filters.append(_search_clause())
    if shape.one_currency:
        filters.append(Invoice.currency == bindparam("currency"))
    status_clause = _status_clause(shape.status)
    limit = bindparam("limit", type_=Integer)
    offset = bindparam("offset", type_=Integer)
    if shape.sort != "priority":
        where = [*filters, status_clause] if status_clause is not None else filters
        return (select(Invoice.id).where(*where).order_by(*_ordering(shape.sort, shape.direction))
                .limit(limit).offset(offset))
    parts = []
    if shape.status != "paid":
        parts.append(
            select(Invoice.id).where(*filters, status_clause if status_clause is not None else IS_OPEN)
            .order_by(Invoice.due_date.asc(), Invoice.id.desc())
            .limit(bindparam("open_limit", type_=Integer)).offset(bindparam("open_offset", type_=Integer))
        )
    if shape.status in ("all", "paid"):
        parts.append(
            select(Invoice.id).where(*filters, IS_PAID)
            .order_by(Invoice.due_date.desc(), Invoice.id.desc()).limit(limit).offset(offset)
        )
    if len(parts) == 1:
        return parts[0]
    return union_all(*[select(part.subquery().c.id) for part in parts])


@cache
def _list_page_statement(shape: _ListShape) -> Select:
    # The ids are already scoped; repeating the company filter here would let a planner without
    # statistics (SQLite's) read the whole account through the company's index instead.
    return (noted_standings_query().where(Invoice.id.in_(_page_ids(shape)))
            .order_by(*_ordering(shape.sort, shape.direction)))


def _page_params(query: InvoiceListQuery, counts: dict[str, int], offset: int, limit: int) -> dict[str, int]:
    """LIMIT and OFFSET of `_page_ids`: for "priority", split between its open and paid parts."""
    if query.sort != "priority":
        return {"limit": limit, "offset": offset}
    params = {}
    if query.status != "paid":
        open_rows = counts["open"] if query.status == "all" else counts[query.status]
        taken = min(limit, max(open_rows - offset, 0))
        params.update(open_limit=taken, open_offset=offset)
        offset, limit = max(offset - open_rows, 0), limit - taken
    params.update(limit=limit, offset=offset)
    return params


def list_invoices(db: Session, access: Access, today: date, query: InvoiceListQuery) -> InvoicePage:
    """One page of the customer's invoices with their standings and notes (two queries)."""
    count_rows = _counts_by_currency(db, access, today, query.q)
    counts = {status: sum(int(row[status]) for row in count_rows
                          if not query.currency or row["currency"] == query.currency)
              for status in STATUS_FILTERS}
    total = counts[query.status]
    pages = max(1, -(-total // query.per_page))
    page = min(query.page, pages)

    shape = _ListShape(whole_account=access.whole_account, status=query.status, sort=query.sort,
                       direction=query.direction, searching=bool(query.q), one_currency=bool(query.currency))
    params = {**scope_params(access), "today": today,
              **_page_params(query, counts, (page - 1) * query.per_page, query.per_page)}
    if query.q:
        params["search_pattern"] = _like_pattern(query.q)
    if query.currency:
        params["currency"] = query.currency
    rows = read(db, _list_page_statement(shape), params).all()
    standings = to_standings(rows, today)
    return InvoicePage(
        query=query, standings=standings, counts=counts,
        currencies=[row["currency"] for row in count_rows], total=total, page=page, pages=pages,
        notes=InvoiceNotes.of([standing.invoice for standing in standings if not standing.is_paid]),
    )


# --------------------------------------------------------------------------------------------
# One invoice: lines, history of entries, payments still in flight.

# How a payment was made, as the invoice page reads it ("by card"): marked for the catalogue,
# translated where shown (the page still tells a bank payment by its English "bank..." label).
METHOD_LABELS = {"card": N_("card"), "us_bank_account": N_("bank transfer (ACH)"), "ach": N_("bank transfer (ACH)"),
                 "sepa_debit": N_("SEPA debit"),
                 # Money received outside the portal, recorded by staff (`payments.service.record_offline_payment`).
                 "offline_wire": N_("wire transfer"), "offline_ach": N_("ACH transfer"), "offline_check": N_("check"),
                 "offline_card": N_("card, outside the portal")}


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
    label: str | Text  # an entry kind's label (`N_`), or a sentence with values (a PO given after issue)
    amount: Money
    balance_after: Money
    reference: str  # a payment's own reference ("PAY-2026-000123"), else the entry's (a credit note's number)
    method: str  # how a payment was made, "" for other entries
    # The payment's method as stored ("card", "offline_check"), for a document written in the
    # reader's language (`templates/pdf/_payment_words.html`); "" for other entries.
    method_code: str = ""


@dataclass(frozen=True)
class PendingPayment:
    """Money on its way (e.g. an ACH debit for days): reserved, not yet applied."""

    public_id: str
    label: str
    method: str
    started_at: datetime
    amount: Money
    status: str = ""  # a `requires_action` one may be canceled by any contact who sees it
    reference: str = ""
    method_code: str = ""  # the method as stored, as `HistoryRow.method_code`


@dataclass(frozen=True)
class InvoiceName:
    """Another invoice of the account, as a page names and links it."""

    public_id: str
    number: str

    @classmethod
    def of(cls, pair: str | None) -> InvoiceName | None:
        """From the "<public id> <number>" a statement reads (public ids hold no space)."""
        if not pair:
            return None
        public_id, number = pair.split(" ", 1)
        return cls(public_id=public_id, number=number)


@dataclass(frozen=True)
class InvoiceDetail:
    standing: Standing
    lines: list[LineView]
    history: list[HistoryRow]
    pending: list[PendingPayment]
    notes: InvoiceNotes
    # The invoice this one replaced, and the one that replaced it: a re-issue with a PO, or a
    # dispute's corrected invoice (re-bill). The page words them in the reader's language.
    replaces: InvoiceName | None = None
    replaced_by: InvoiceName | None = None

    @property
    def invoice(self) -> InvoiceRow:
        return self.standing.invoice

    @property
    def applied(self) -> list[HistoryRow]:
        """Payments, credits and reversals: everything after the invoice was issued."""
        return [row for row in self.history if row.kind != "issued"]


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method.replace("_", " "))


def _named(other, link_column, link_value) -> ScalarSelect:
    """The "<public id> <number>" of the invoice `other` that a replacement record links to
    this one, or NULL. Only ever one of the same customer's invoices, whatever the records say;
    one at most by how replacing works (a replaced invoice is credited to zero, and cannot be
    replaced again), and MAX picks one should the records ever say more."""
    return (select(func.max(other.public_id + " " + other.number))
            .where(other.id == link_column, link_value == Invoice.id, other.customer_id == Invoice.customer_id)
            .correlate(Invoice).scalar_subquery())


@cache
def _named_invoice_statement(whole_account: bool) -> Select:
    """The invoice page's row, with whether a PO was given after issue (on it, or on the
    invoice it replaced): most invoices have no such history, and then the page skips its
    statement, as it skips the one for payments in flight when `in_flight_minor` is zero.
    And the invoices it replaces and is replaced by, through a re-issue with a PO or a
    dispute's re-bill (each lookup by index, on one row)."""
    reissued = or_(
        select(InvoiceReissue.id).where(InvoiceReissue.invoice_id == Invoice.id).correlate(Invoice).exists(),
        select(InvoiceReissue.id).where(InvoiceReissue.replacement_invoice_id == Invoice.id)
        .correlate(Invoice).exists(),
    )
    other = aliased(Invoice, name="other_invoice")
    replaces = func.coalesce(
        _named(other, InvoiceReissue.invoice_id, InvoiceReissue.replacement_invoice_id),
        _named(other, DisputeInvoice.invoice_id, DisputeInvoice.rebilled_invoice_id),
    )
    replaced_by = func.coalesce(
        _named(other, InvoiceReissue.replacement_invoice_id, InvoiceReissue.invoice_id),
        _named(other, DisputeInvoice.rebilled_invoice_id, DisputeInvoice.invoice_id),
    )
    return (noted_standings_query()
            .add_columns(reissued.label("reissued"), replaces.label("replaces"), replaced_by.label("replaced_by"))
            .where(bound_named_invoices(whole_account)))


# The invoice's lines and its entries in one statement (a line's part first, by position; then
# the entries in time order): one round trip to the database instead of two. Each part leaves
# the other's columns empty; the first part names their types, so an entry's `created_at`
# comes back as a datetime on SQLite too.
def _empty(column):
    return type_coerce(null(), column.type)


_LINES_AND_ENTRIES = union_all(
    select(literal_column("0").label("part"), InvoiceLine.position, InvoiceLine.sku, InvoiceLine.description,
           InvoiceLine.quantity, InvoiceLine.unit_price_minor, InvoiceLine.amount_minor,
           _empty(InvoiceEntry.created_at).label("created_at"), _empty(InvoiceEntry.kind).label("kind"),
           _empty(InvoiceEntry.reference).label("reference"), _empty(InvoiceEntry.payment_id).label("payment_id"),
           _empty(Payment.method).label("method"), _empty(Payment.reference).label("payment_reference"),
           _empty(InvoiceEntry.id).label("entry_id"))
    .where(InvoiceLine.invoice_id == bindparam("invoice_id")),
    select(literal_column("1"), null(), null(), null(), null(), null(), InvoiceEntry.amount_minor,
           InvoiceEntry.created_at, InvoiceEntry.kind, InvoiceEntry.reference, InvoiceEntry.payment_id,
           Payment.method, Payment.reference, InvoiceEntry.id)
    .outerjoin(Payment, Payment.id == InvoiceEntry.payment_id)
    .where(InvoiceEntry.invoice_id == bindparam("invoice_id")),
).order_by(literal_column("part"), literal_column("position"), literal_column("created_at"),
           literal_column("entry_id"))
_PENDING = (
    select(Payment.public_id, Payment.reference, Payment.status, Payment.method, Payment.created_at,
           PaymentAllocation.amount_minor.label("allocated_minor"))
    .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
    .where(PaymentAllocation.invoice_id == bindparam("invoice_id"), Payment.status.in_(IN_FLIGHT_STATUSES))
    .order_by(Payment.created_at, Payment.id)
)


# PO numbers given after issue (`invoicing.service.reissue_with_po`): on the invoice itself, on
# the invoice it replaced, and on its replacement.
_OTHER = Invoice.__table__.alias("other_invoice")
_REISSUES = (
    select(InvoiceReissue.created_at, InvoiceReissue.invoice_id, InvoiceReissue.replacement_invoice_id,
           InvoiceReissue.po_after, InvoiceReissue.due_before, InvoiceReissue.due_after, _OTHER.c.number)
    .outerjoin(_OTHER, _OTHER.c.id == case(
        (InvoiceReissue.invoice_id == bindparam("invoice_id"), InvoiceReissue.replacement_invoice_id),
        else_=InvoiceReissue.invoice_id))
    .where(or_(InvoiceReissue.invoice_id == bindparam("invoice_id"),
               InvoiceReissue.replacement_invoice_id == bindparam("invoice_id")))
    .order_by(InvoiceReissue.created_at, InvoiceReissue.id)
)


def with_reissues(history: list[HistoryRow], reissues, invoice_id: int, currency: str) -> list[HistoryRow]:
    """The entries' history with a line for each PO given after issue, in time order: it moves
    no money (its amount is zero, the balance after it is the running one)."""
    if not reissues:
        return history
    rows = list(history)
    for reissue in reissues:
        if reissue.replacement_invoice_id is None:
            kind = "po_updated"
            label = (Text(N_("PO number set to %(po)s, due %(day)s"), po=reissue.po_after, day=reissue.due_after)
                     if reissue.due_after != reissue.due_before else Text(N_("PO number set to %(po)s"), po=reissue.po_after))
        elif reissue.invoice_id == invoice_id:
            kind, label = "reissued", Text(N_("Re-issued as %(number)s with PO %(po)s"), number=reissue.number,
                                           po=reissue.po_after)
        else:
            kind, label = "replaces", Text(N_("Replaces invoice %(number)s, with PO %(po)s"), number=reissue.number,
                                           po=reissue.po_after)
        position = sum(1 for row in rows if row.at <= reissue.created_at)
        balance = rows[position - 1].balance_after if position else Money.zero(currency)
        rows.insert(position, HistoryRow(at=reissue.created_at, kind=kind, label=label, amount=Money.zero(currency),
                                         balance_after=balance, reference=reissue.po_after, method=""))
    return rows


def invoice_detail(db: Session, access: Access, public_id: str, today: date) -> InvoiceDetail:
    """The invoice with this public id, if this access may see it (two to four statements:
    the invoice, its lines and entries together; its PO history and payments in flight when it
    has any)."""
    row = read(db, _named_invoice_statement(access.whole_account),
               {**scope_params(access), "named_public_ids": [public_id]}).first()
    if row is None:
        raise NotFound("Invoice not found")
    standing = to_standings([row], today)[0]
    invoice = standing.invoice
    currency = invoice.currency
    by_invoice = {"invoice_id": invoice.id}

    lines: list[LineView] = []
    history: list[HistoryRow] = []
    running = Money.zero(currency)
    for entry in read(db, _LINES_AND_ENTRIES, by_invoice):
        if entry.part == 0:
            lines.append(LineView(position=entry.position, sku=entry.sku, description=entry.description,
                                  quantity=entry.quantity, unit_price=Money(entry.unit_price_minor, currency),
                                  amount=Money(entry.amount_minor, currency)))
            continue
        amount = Money(entry.amount_minor, currency)
        running = running + amount
        # A payment's entry keeps the processor's charge id for staff; customers see the
        # payment's own reference.
        history.append(HistoryRow(
            at=entry.created_at, kind=entry.kind, label=ENTRY_LABELS.get(entry.kind, entry.kind),
            amount=amount, balance_after=running,
            reference=entry.payment_reference if entry.payment_id is not None else entry.reference,
            method=method_label(entry.method) if entry.method else "", method_code=entry.method or "",
        ))

    if row.reissued:
        history = with_reissues(history, read(db, _REISSUES, by_invoice).all(), invoice.id, currency)

    pending = [
        PendingPayment(
            public_id=payment.public_id,
            label=in_flight_label(IN_FLIGHT_LABELS[payment.status], payment.method, payment.status, payment.created_at),
            method=method_label(payment.method), started_at=payment.created_at,
            amount=Money(payment.allocated_minor, currency), status=payment.status, reference=payment.reference,
            method_code=payment.method,
        )
        # Payments in flight are what `in_flight_minor` sums (kept by trigger, allocations > 0).
        for payment in (read(db, _PENDING, by_invoice) if invoice.in_flight_minor else ())
    ]
    return InvoiceDetail(standing=standing, lines=lines, history=history, pending=pending,
                         notes=InvoiceNotes.of([row]), replaces=InvoiceName.of(row.replaces),
                         replaced_by=InvoiceName.of(row.replaced_by))


# --------------------------------------------------------------------------------------------
# Statement of account.


@dataclass(frozen=True)
class StatementSection:
    """The open invoices of one currency, oldest due first, and their totals."""

    currency: str
    standings: list[Standing]
    totals: CurrencyTotals


# The statement lists the payments of this many days back (and every one still in flight).
STATEMENT_PAYMENT_DAYS = 90
STATEMENT_PAYMENT_LIMIT = 50


@dataclass(frozen=True)
class StatementPayment:
    """A payment as the statement lists it: what a clerk matches against their own books."""

    reference: str
    at: datetime  # settled, or started for one still in flight
    label: str  # "Paid", or the in-flight label
    method: str
    amount: Money
    # What the label and method are made of, for a document written in the reader's language
    # (`templates/pdf/statement.html`, `pdf/_payment_words.html`): the payment's status and
    # method as stored, and when a bank debit still on its way should settle.
    status: str = ""
    method_code: str = ""
    expected_by: date | None = None


@dataclass(frozen=True)
class Statement:
    today: date
    sections: list[StatementSection]
    payments: list[StatementPayment] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.sections


@cache
def _statement_rows_statement(whole_account: bool) -> Select:
    return (standings_query().where(bound_invoice_scope(whole_account), IS_OPEN)
            .order_by(Invoice.currency, Invoice.due_date, Invoice.number))


def _statement_payments(db: Session, access: Access, today: date) -> list[StatementPayment]:
    """Payments settled in the last STATEMENT_PAYMENT_DAYS and those in flight, newest first
    (one query, bounded)."""
    since = datetime.combine(today - timedelta(days=STATEMENT_PAYMENT_DAYS), time(0), UTC)
    rows = db.scalars(
        select(Payment)
        .where(payment_scope(access),
               or_(and_(Payment.status == PaymentStatus.SUCCEEDED, Payment.settled_at >= since),
                   Payment.status.in_(IN_FLIGHT_STATUSES)))
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(STATEMENT_PAYMENT_LIMIT)
    ).all()
    return [
        StatementPayment(
            reference=payment.reference, at=payment.settled_at or payment.created_at,
            label=N_("Paid") if payment.status == PaymentStatus.SUCCEEDED else in_flight_label(
                IN_FLIGHT_LABELS[payment.status], payment.method, payment.status, payment.created_at),
            method=method_label(payment.method), amount=Money(payment.amount_minor, payment.currency),
            status=payment.status, method_code=payment.method,
            expected_by=ach_expected_by(payment.created_at.date())
            if payment.method == BANK_ACCOUNT and payment.status == PaymentStatus.PROCESSING else None,
        )
        for payment in rows
    ]


def statement_of_account(db: Session, access: Access, today: date) -> Statement:
    """Every open invoice with its aging, grouped by currency, with totals, and the recent
    payments (three queries)."""
    rows = read(db, _statement_rows_statement(access.whole_account), scope_params(access)).all()
    by_currency: dict[str, list[Standing]] = {}
    for standing in to_standings(rows, today):
        by_currency.setdefault(standing.invoice.currency, []).append(standing)
    sections = [
        StatementSection(currency=totals.currency, standings=by_currency.get(totals.currency, []),
                         totals=totals)
        for totals in open_totals(db, access, today)
    ]
    return Statement(today=today, sections=sections, payments=_statement_payments(db, access, today))
