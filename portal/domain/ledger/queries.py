"""Where invoices stand: open balance, money in flight and what may be paid now.

`open balance` = the sum of an invoice's entries. `in flight` = what non-final payment
attempts (new, requires_action, processing: an ACH debit for days) have allocated to it.
`held` = what active disputes hold out of it (`disputes`). `payable` = open balance - in flight
- held: what may be charged now, so nothing is paid twice while money moves and disputed money
waits for its dispute. Both figures are columns of `invoices` kept by database triggers (migration
0002), so a page reads them from the rows it shows and never sums an account's history;
`jobs.check_ledger` proves them against the entries.

Standings are read as plain rows of the `invoices` table (`core.database.read`), not as
`Invoice` entities: a page needs no ORM object, and a row read now can never be an entity the
identity map loaded before a trigger moved its figures. A row has every column of `invoices`
as an attribute (`row.number`, `row.balance_minor`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from portal.domain.access.policy import Access, named_invoices
from portal.domain.core.database import read
from portal.domain.core.errors import NotFound
from portal.domain.core.money import Money
from portal.domain.invoicing.models import Invoice

INVOICES = Invoice.__table__
# A row of `invoices` (every column as an attribute), as standings and read models carry it.
InvoiceRow = Row


class _kept:
    """`functools.cached_property` without its lock: Python 3.11's takes an RLock on every
    first read, and a list page reads four of them on each of its 25 rows. A standing is never
    shared between threads while it is new. The value goes into the instance's `__dict__`, so
    later reads find it there without calling this."""

    def __init__(self, compute) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


@dataclass(frozen=True)
class Standing:
    """Where an invoice stands today (the figures a page reads several times are kept)."""

    invoice: InvoiceRow
    balance: Money
    in_flight: Money
    today: date
    held: Money | None = None  # None: nothing disputed

    @_kept
    def disputed(self) -> Money:
        """What active disputes hold, never more than the open balance."""
        held = self.held.minor if self.held is not None else 0
        return Money(max(min(held, self.balance.minor), 0), self.invoice.currency)

    @_kept
    def total(self) -> Money:
        return Money(self.invoice.total_minor, self.invoice.currency)

    @_kept
    def payable(self) -> Money:
        return Money(max(self.balance.minor - self.in_flight.minor - self.disputed.minor, 0), self.invoice.currency)

    @property
    def is_paid(self) -> bool:
        return self.balance.minor <= 0

    @property
    def is_overdue(self) -> bool:
        return not self.is_paid and self.invoice.due_date < self.today

    @property
    def is_partly_paid(self) -> bool:
        return 0 < self.balance.minor < self.invoice.total_minor

    @property
    def days_overdue(self) -> int:
        return max((self.today - self.invoice.due_date).days, 0) if not self.is_paid else 0

    @_kept
    def status(self) -> str:
        """paid | processing | overdue | open: the badge a person sees first."""
        if self.is_paid:
            return "paid"
        if self.payable.minor == 0 and self.in_flight.minor > 0:
            return "processing"
        return "overdue" if self.is_overdue else "open"


def standings_query() -> Select:
    """SELECT every column of `invoices` (balances and held money included): add WHERE/ORDER BY/LIMIT to taste."""
    return select(INVOICES)


def to_standings(rows, today: date) -> list[Standing]:
    return [
        Standing(row, Money(row.balance_minor, row.currency), Money(row.in_flight_minor, row.currency), today,
                 Money(row.held_minor, row.currency))
        for row in rows
    ]


_STANDINGS_BY_ID = standings_query().where(Invoice.id.in_(bindparam("invoice_ids", expanding=True)))


def standings_for(db: Session, invoice_ids: list[int], today: date) -> dict[int, Standing]:
    if not invoice_ids:
        return {}
    rows = read(db, _STANDINGS_BY_ID, {"invoice_ids": list(invoice_ids)}).all()
    return {s.invoice.id: s for s in to_standings(rows, today)}


def named_invoice_figures(db: Session, access: Access, public_ids: list[str]) -> list[Row]:
    """Each invoice named, in the order named, with the figures a decision on it needs (id,
    public id, number, currency, balance, in flight, held): one statement. `NotFound` when any of
    them is not one `access` may see, so a foreign id reads as one that does not exist."""
    rows = db.execute(
        select(Invoice.id, Invoice.public_id, Invoice.number, Invoice.currency, Invoice.balance_minor,
               Invoice.in_flight_minor, Invoice.held_minor)
        .where(named_invoices(access, public_ids))
    ).all()
    if len(rows) != len(public_ids):
        raise NotFound("Invoice not found")
    order = {public_id: n for n, public_id in enumerate(public_ids)}
    return sorted(rows, key=lambda row: order[row.public_id])
