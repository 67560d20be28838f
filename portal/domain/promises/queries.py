"""Read models of promises: the customer's form, list and page, what the account pages show
beside an invoice ("Promised for 15 Dec"), the staff list, and `promised_invoice_ids` for the
reminders.

Customer-side reads are scoped by the session's `Access`: another company's promise is a
404, and a forwarded invoice link's holder sees only promises whose invoices are all within
its link. Every read costs a fixed number of statements, whatever the number of promises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from portal.domain.access.policy import Access, named_invoices
from portal.domain.core.errors import NotFound
from portal.domain.core.locales import N_, Text
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.queries import Standing, standings_for, standings_query, to_standings
from portal.domain.promises.models import Promise, PromiseInvoice
from portal.domain.promises.policy import (
    DEFAULT_GRACE_DAYS, MAX_INVOICES_PER_PROMISE, PromisePolicy, moves_left,
)
from portal.domain.promises.states import METHOD_LABELS, STATUS_BADGES, STATUS_LABELS, PaymentMethod, PromiseStatus

PER_PAGE = 25
S = PromiseStatus


def _visible(access: Access):
    """Promises this access may see: its company's; for a link, only those whose every
    invoice the link names."""
    clauses = [Promise.customer_id == access.customer_id]
    if not access.whole_account:
        outside = (select(PromiseInvoice.id)
                   .where(PromiseInvoice.promise_id == Promise.id,
                          PromiseInvoice.invoice_id.not_in(sorted(access.invoice_ids)))
                   .exists())
        clauses.append(~outside)
    return and_(*clauses)


def find_promise(db: Session, access: Access, public_id: str) -> Promise:
    promise = db.scalar(select(Promise).where(Promise.public_id == public_id, _visible(access)))
    if promise is None:
        raise NotFound("Promise not found")
    return promise


def open_promise_numbers(db: Session, customer_id: int, invoice_ids: list[int]) -> list[str]:
    """The numbers of those invoices already under an open promise of the customer."""
    return list(db.scalars(
        select(Invoice.number).join(PromiseInvoice, PromiseInvoice.invoice_id == Invoice.id)
        .join(Promise, Promise.id == PromiseInvoice.promise_id)
        .where(Promise.customer_id == customer_id, Promise.status == S.OPEN.value,
               PromiseInvoice.invoice_id.in_(invoice_ids))
        .order_by(Invoice.number)
    ))


def promised_dates(db: Session, customer_id: int, invoice_ids: list[int]) -> dict[int, date]:
    """{invoice id: the date promised} for those of the invoices under an open promise: what
    the invoice list and an invoice's page show ("Promised for 15 Dec"). One statement."""
    if not invoice_ids:
        return {}
    rows = db.execute(
        select(PromiseInvoice.invoice_id, Promise.promised_date)
        .join(Promise, Promise.id == PromiseInvoice.promise_id)
        .where(Promise.customer_id == customer_id, Promise.status == S.OPEN.value,
               PromiseInvoice.invoice_id.in_(sorted(set(invoice_ids))))
    ).all()
    return {invoice_id: promised for invoice_id, promised in rows}


def promised_invoice_ids(db: Session, customer_id: int, today: date,
                         grace_days: int = DEFAULT_GRACE_DAYS) -> set[int]:
    """The customer's invoices under an open promise whose date plus the grace period has not
    passed on `today` (the customer's date): the reminders (still to come) pause for these and
    chase them again once the promise is broken, moved past, or cancelled.

    A promise the job has not decided yet stops pausing at its date plus the grace, so a
    missed run of `check-promises` never pauses the chasing for longer than promised.
    """
    return set(db.scalars(
        select(PromiseInvoice.invoice_id).join(Promise, Promise.id == PromiseInvoice.promise_id)
        .where(Promise.customer_id == customer_id, Promise.status == S.OPEN.value,
               Promise.promised_date >= today - timedelta(days=grace_days))
    ))


# --------------------------------------------------------------------------------------------
# The customer's form


@dataclass(frozen=True)
class FormInvoice:
    standing: Standing
    problem: str | Text  # why it cannot be promised (marked for the catalogue), or ""

    @property
    def invoice(self):
        return self.standing.invoice


@dataclass(frozen=True)
class PromiseForm:
    invoices: list[FormInvoice]
    earliest: date
    latest: date
    methods: list[tuple[str, str]]
    problem: str = ""

    @property
    def promisable(self) -> list[FormInvoice]:
        return [item for item in self.invoices if not item.problem]

    @property
    def total(self) -> Money | None:
        items = self.promisable
        if not items or len({item.invoice.currency for item in items}) != 1:
            return None
        return Money(sum(item.standing.payable.minor for item in items), items[0].invoice.currency)


METHOD_CHOICES = [(str(method), METHOD_LABELS[method]) for method in PaymentMethod]


def promise_form(db: Session, access: Access, public_ids: list[str], today: date, policy: PromisePolicy) -> PromiseForm:
    """The invoices chosen for a promise, each with why it cannot be promised (if so)."""
    earliest, latest = policy.earliest_date(today), policy.latest_date(today)
    if not public_ids:
        return PromiseForm([], earliest, latest, METHOD_CHOICES, "Choose the invoices to promise on the invoice list.")
    public_ids = list(dict.fromkeys(public_ids[:MAX_INVOICES_PER_PROMISE]))
    rows = db.execute(standings_query().where(named_invoices(access, public_ids))).all()
    if len(rows) != len(public_ids):
        raise NotFound("Invoice not found")  # another company's, outside a link, or none at all
    standings = sorted(to_standings(rows, today), key=lambda s: public_ids.index(s.invoice.public_id))
    promised = promised_dates(db, access.customer_id, [s.invoice.id for s in standings])
    items = []
    for standing in standings:
        problem = ""
        if standing.is_paid:
            problem = N_("Already paid.")
        elif standing.invoice.id in promised:
            problem = Text(N_("Already promised for %(day)s."), day=promised[standing.invoice.id])
        elif standing.payable.minor <= 0:
            problem = N_("Disputed: it can be promised once the dispute ends.") if standing.disputed.minor > 0 \
                else N_("A payment is processing.")
        items.append(FormInvoice(standing, problem))
    form = PromiseForm(items, earliest, latest, METHOD_CHOICES)
    if not form.promisable:
        return PromiseForm(items, earliest, latest, METHOD_CHOICES, N_("None of these invoices can be promised now."))
    if form.total is None:
        return PromiseForm(items, earliest, latest, METHOD_CHOICES,
                           N_("Invoices in different currencies need separate promises."))
    return form


# --------------------------------------------------------------------------------------------
# The customer's list and page


@dataclass(frozen=True)
class PromiseRow:
    public_id: str
    status: str
    status_label: str
    badge: str
    promised_date: date
    method_label: str
    total: Money
    invoice_numbers: list[str]
    created_at: datetime
    move_count: int


@dataclass(frozen=True)
class PromiseListing:
    rows: list[PromiseRow]
    total: int
    page: int
    pages: int


def _invoice_numbers(db: Session, promise_ids: list[int]) -> dict[int, list[str]]:
    numbers: dict[int, list[str]] = {}
    if promise_ids:
        for promise_id, number in db.execute(
            select(PromiseInvoice.promise_id, Invoice.number).join(Invoice, Invoice.id == PromiseInvoice.invoice_id)
            .where(PromiseInvoice.promise_id.in_(promise_ids)).order_by(Invoice.number)
        ):
            numbers.setdefault(promise_id, []).append(number)
    return numbers


def _row(promise: Promise, numbers: dict[int, list[str]]) -> PromiseRow:
    return PromiseRow(
        public_id=promise.public_id, status=promise.status, status_label=STATUS_LABELS[S(promise.status)],
        badge=STATUS_BADGES[S(promise.status)], promised_date=promise.promised_date,
        method_label=METHOD_LABELS[PaymentMethod(promise.method)],
        total=Money(promise.total_minor, promise.currency), invoice_numbers=numbers.get(promise.id, []),
        created_at=promise.created_at, move_count=promise.move_count,
    )


def _pages(total: int) -> int:
    return max((total + PER_PAGE - 1) // PER_PAGE, 1)


def promise_list(db: Session, access: Access, *, page: int = 1) -> PromiseListing:
    """The promises this access may see, open ones first, then the newest."""
    total = db.scalar(select(func.count()).select_from(Promise).where(_visible(access))) or 0
    page = min(max(page, 1), _pages(total))
    promises = list(db.scalars(
        select(Promise).where(_visible(access))
        .order_by(case((Promise.status == S.OPEN.value, 0), else_=1), Promise.created_at.desc(), Promise.id.desc())
        .offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ))
    numbers = _invoice_numbers(db, [p.id for p in promises])
    return PromiseListing([_row(p, numbers) for p in promises], total, page, _pages(total))


@dataclass(frozen=True)
class PromisedInvoice:
    standing: Standing
    promised: Money


@dataclass(frozen=True)
class PromisePage:
    promise: Promise
    row: PromiseRow
    invoices: list[PromisedInvoice]
    deadline: date
    moves_left: int
    earliest: date
    latest: date

    @property
    def is_open(self) -> bool:
        return self.promise.status == S.OPEN


def promise_page(db: Session, access: Access, public_id: str, today: date, policy: PromisePolicy) -> PromisePage:
    promise = find_promise(db, access, public_id)
    covered = {row.invoice_id: row.promised_minor for row in promise.invoices}
    standings = standings_for(db, list(covered), today)
    invoices = sorted(
        (PromisedInvoice(standing, Money(covered[invoice_id], promise.currency))
         for invoice_id, standing in standings.items()),
        key=lambda item: item.standing.invoice.number,
    )
    numbers = {promise.id: [item.standing.invoice.number for item in invoices]}
    return PromisePage(
        promise=promise, row=_row(promise, numbers), invoices=invoices,
        deadline=policy.deadline(promise.promised_date), moves_left=moves_left(policy, promise.move_count),
        earliest=policy.earliest_date(today), latest=policy.latest_date(today),
    )


# --------------------------------------------------------------------------------------------
# Staff


STAFF_FILTERS = ("all", "open", "kept", "broken", "cancelled")


@dataclass(frozen=True)
class StaffPromiseRow:
    row: PromiseRow
    customer_name: str
    account_number: str
    kept: int  # the customer's kept promises, all time
    broken: int


@dataclass(frozen=True)
class StaffPromiseListing:
    rows: list[StaffPromiseRow]
    status: str
    total: int
    page: int
    pages: int
    counts: dict[str, int]


def staff_promises(db: Session, *, status: str = "all", page: int = 1) -> StaffPromiseListing:
    """Every customer's promises, broken ones first (what collectors chase), then open ones by
    date, then the rest newest first; each row with its customer's kept and broken counts."""
    status = status if status in STAFF_FILTERS else "all"
    by_status = dict(db.execute(select(Promise.status, func.count()).group_by(Promise.status)).all())
    counts = {name: int(by_status.get(name, 0)) for name in STAFF_FILTERS if name != "all"}
    counts["all"] = sum(counts.values())
    total = counts[status]
    page = min(max(page, 1), _pages(total))
    statement = select(Promise, Customer.name, Customer.account_number).join(Customer, Customer.id == Promise.customer_id)
    if status != "all":
        statement = statement.where(Promise.status == status)
    rank = case((Promise.status == S.BROKEN.value, 0), (Promise.status == S.OPEN.value, 1), else_=2)
    rows = db.execute(
        statement.order_by(rank, case((Promise.status == S.OPEN.value, Promise.promised_date)),
                           Promise.updated_at.desc(), Promise.id.desc())
        .offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ).all()
    customer_ids = sorted({promise.customer_id for promise, _, _ in rows})
    tallies: dict[tuple[int, str], int] = {}
    if customer_ids:
        for customer_id, state, count in db.execute(
            select(Promise.customer_id, Promise.status, func.count())
            .where(Promise.customer_id.in_(customer_ids), Promise.status.in_([S.KEPT.value, S.BROKEN.value]))
            .group_by(Promise.customer_id, Promise.status)
        ):
            tallies[(customer_id, state)] = int(count)
    numbers = _invoice_numbers(db, [promise.id for promise, _, _ in rows])
    return StaffPromiseListing(
        rows=[StaffPromiseRow(_row(promise, numbers), name, account_number,
                              tallies.get((promise.customer_id, S.KEPT.value), 0),
                              tallies.get((promise.customer_id, S.BROKEN.value), 0))
              for promise, name, account_number in rows],
        status=status, total=total, page=page, pages=_pages(total), counts=counts,
    )
