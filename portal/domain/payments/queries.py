"""What the payment pages read: one payment, the history, the pay page's invoices.

Every query is limited by `payment_scope(access)` or `invoice_scope(access)`: the company's
payments, and for a forwarded invoice link only those wholly within the link's invoices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import literal_column, select
from sqlalchemy.orm import Session, selectinload

from portal.domain.access.policy import Access, invoice_scope, named_invoices
from portal.domain.core.clock import Clock, today_in
from portal.domain.core.errors import NotFound
from portal.domain.core.money import Money, exponent, total
from portal.domain.customers.models import Customer
from portal.domain.gateway.amounts import stripe_minimum
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.queries import Standing, standings_for
from portal.domain.payments.models import IN_FLIGHT_STATUSES, Payment, PaymentAllocation
from portal.domain.payments.policy import MAX_INVOICES_PER_PAYMENT


def customer_today(db: Session, clock: Clock, customer_id: int) -> date:
    tz = db.scalar(select(Customer.timezone).where(Customer.id == customer_id)) or "UTC"
    return today_in(clock, tz)



@dataclass(frozen=True)
class AllocationLine:
    invoice: Invoice
    amount: Money
    short_pay_reason: str
    balance_after: Money


@dataclass(frozen=True)
class PaymentSummary:
    payment: Payment
    amount: Money
    lines: tuple[AllocationLine, ...]

    @property
    def status(self) -> str:
        return self.payment.status

    @property
    def is_in_flight(self) -> bool:
        return self.payment.status in IN_FLIGHT_STATUSES


def payment_scope(access: Access):
    """Payments this access may see: the company's, and for a forwarded invoice link only
    payments wholly within the link's invoices."""
    clause = Payment.customer_id == access.customer_id
    if access.whole_account:
        return clause
    outside = select(PaymentAllocation.id).where(
        PaymentAllocation.payment_id == Payment.id,
        PaymentAllocation.invoice_id.not_in(sorted(access.invoice_ids)),
    )
    return clause & ~outside.exists()


def payment_for_access(db: Session, access: Access, public_id: str) -> Payment:
    payment = db.scalar(
        select(Payment).where(Payment.public_id == public_id, payment_scope(access))
        .options(selectinload(Payment.allocations))
    )
    if payment is None:
        raise NotFound()
    return payment


HISTORY_PER_PAGE = 25


@dataclass(frozen=True)
class PaymentHistory:
    """One page of the company's payments, newest first."""

    summaries: list[PaymentSummary]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def payment_history(db: Session, access: Access, clock: Clock, page: int = 1,
                    per_page: int = HISTORY_PER_PAGE) -> PaymentHistory:
    """The company's payments, newest first, a page at a time (one more row is read to know
    whether an older page exists), with what each paid."""
    payments = list(db.scalars(
        select(Payment).where(payment_scope(access))
        .options(selectinload(Payment.allocations))
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(per_page + 1).offset((page - 1) * per_page)
    ).all())
    return PaymentHistory(describe_payments(db, payments[:per_page], clock), page, len(payments) > per_page)


@dataclass(frozen=True)
class HistoryRow:
    """One row of the history: a payment, or a run of failed attempts at the same invoices
    (newest first; `attempts` > 1), which the page shows once with how many there were."""

    summary: PaymentSummary
    attempts: int = 1

    @property
    def is_failed(self) -> bool:
        return self.summary.status in _NOT_CHARGED


_NOT_CHARGED = ("failed", "canceled")


def grouped_attempts(summaries: list[PaymentSummary]) -> list[HistoryRow]:
    """Consecutive failed or canceled attempts at the same invoices as one row (a clerk who
    retried a declined card three times sees one "Declined, 3 attempts", not three rows)."""
    rows: list[HistoryRow] = []
    for summary in summaries:
        previous = rows[-1] if rows else None
        if (previous is not None and previous.is_failed and summary.status in _NOT_CHARGED
                and _invoices_of(previous.summary) == _invoices_of(summary)):
            rows[-1] = HistoryRow(previous.summary, previous.attempts + 1)
        else:
            rows.append(HistoryRow(summary))
    return rows


def _invoices_of(summary: PaymentSummary) -> frozenset[int]:
    return frozenset(line.invoice.id for line in summary.lines)


def describe_payments(db: Session, payments: list[Payment], clock: Clock) -> list[PaymentSummary]:
    invoice_ids = sorted({a.invoice_id for p in payments for a in p.allocations})
    today = clock.now().date()
    standings = standings_for(db, invoice_ids, today)
    summaries = []
    for payment in payments:
        lines = tuple(
            AllocationLine(
                invoice=standings[a.invoice_id].invoice,
                amount=Money(a.amount_minor, payment.currency),
                short_pay_reason=a.short_pay_reason,
                balance_after=standings[a.invoice_id].balance,
            )
            for a in payment.allocations
        )
        summaries.append(PaymentSummary(payment, Money(payment.amount_minor, payment.currency), lines))
    return summaries


@dataclass(frozen=True)
class PayPage:
    """What the pay form shows: the chosen invoices that can be paid now, and why others can't."""

    standings: tuple[Standing, ...]
    currency: str | None
    problem: str = ""

    @property
    def total_payable(self) -> Money | None:
        if self.currency is None:
            return None
        return total([standing.payable for standing in self.standings], self.currency)

    @property
    def minimum(self) -> Money | None:
        return stripe_minimum(self.currency) if self.currency else None

    @property
    def exponent(self) -> int | None:
        return exponent(self.currency) if self.currency else None


@dataclass(frozen=True)
class PaySelection:
    """"Pay all overdue" / "Pay all due" of one currency (the overview's buttons): every invoice
    of that currency with something left to pay now, only the overdue ones when `overdue_only`,
    oldest due first, at most `MAX_INVOICES_PER_PAYMENT` of them."""

    currency: str
    overdue_only: bool


def _selected_ids(db: Session, access: Access, today: date, selection: PaySelection) -> list[int]:
    """The ids a `PaySelection` names (one query on the open invoices' partial index)."""
    query = (
        select(Invoice.id)
        .where(invoice_scope(access), Invoice.balance_minor > literal_column("0"),
               Invoice.currency == selection.currency, Invoice.balance_minor > Invoice.in_flight_minor)
        .order_by(Invoice.due_date, Invoice.id)
        .limit(MAX_INVOICES_PER_PAYMENT)
    )
    if selection.overdue_only:
        query = query.where(Invoice.due_date < today)
    return list(db.scalars(query).all())


def pay_page(db: Session, clock: Clock, access: Access, public_ids: list[str],
             selection: PaySelection | None = None) -> PayPage:
    """The invoices chosen on the invoice list (or named by `selection`); another company's
    id is NotFound (404)."""
    today = customer_today(db, clock, access.customer_id)
    if selection is not None:
        ids = _selected_ids(db, access, today, selection)
        if not ids:
            what = "overdue invoice" if selection.overdue_only else "invoice"
            return PayPage((), None, f"No {selection.currency} {what} has anything left to pay right now.")
    else:
        public_ids = list(dict.fromkeys(public_ids))[:MAX_INVOICES_PER_PAYMENT]
        if not public_ids:
            return PayPage((), None, "Choose at least one invoice to pay.")
        ids = db.scalars(
            select(Invoice.id).where(named_invoices(access, public_ids))
        ).all()
        if len(ids) != len(public_ids):
            raise NotFound()
    standings = sorted(
        standings_for(db, list(ids), today).values(),
        key=lambda s: (s.invoice.due_date, s.invoice.number),
    )
    payable = tuple(s for s in standings if not s.payable.is_zero)
    if not payable:
        return PayPage((), None, "These invoices are paid or already have a payment in progress.")
    currencies = {s.invoice.currency for s in payable}
    if len(currencies) > 1:
        return PayPage(payable, None, "Invoices in different currencies must be paid separately: "
                                      "choose invoices in one currency.")
    return PayPage(payable, currencies.pop())
