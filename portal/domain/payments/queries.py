"""What the payment pages read: one payment, the history, the pay page's invoices.

Every query is limited by `payment_scope(access)` or `invoice_scope(access)`: the company's
payments, and for a forwarded invoice link only those wholly within the link's invoices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Row, Select, bindparam, literal_column, select
from sqlalchemy.orm import Session, selectinload

from portal.domain.access.policy import Access, bound_invoice_scope, bound_named_invoices, scope_params
from portal.domain.core.clock import Clock, today_in
from portal.domain.core.database import read
from portal.domain.core.errors import NotFound
from portal.domain.core.locales import N_, format_moment, language_or_default, translations
from portal.domain.core.money import Money, exponent, total
from portal.domain.customers.models import Customer
from portal.domain.gateway.amounts import stripe_minimum
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.queries import (
    INVOICES, InvoiceRow, Standing, standings_for, standings_query, to_standings,
)
from portal.domain.payments.models import IN_FLIGHT_STATUSES, BankDebit, Payment, PaymentAllocation
from portal.domain.payments.policy import BANK_ACCOUNT, MAX_INVOICES_PER_PAYMENT, OFFLINE_METHOD_LABELS, ach_expected_by
from portal.domain.payments.states import PaymentStatus


_TIMEZONE = select(Customer.timezone).where(Customer.id == bindparam("customer_id"))


def customer_today(db: Session, clock: Clock, customer_id: int) -> date:
    tz = read(db, _TIMEZONE, {"customer_id": customer_id}).scalar() or "UTC"
    return today_in(clock, tz)


# A payment as the pages read it: a row of `payments` (every column as an attribute), or the
# `Payment` entity itself where a write path already holds it.
PaymentRow = Row | Payment


@dataclass(frozen=True)
class AllocationLine:
    invoice: InvoiceRow
    amount: Money
    short_pay_reason: str
    # The invoice's open balance now; None where the page shows no balance (the history's lines
    # carry only the invoice's id, public id and number).
    balance_after: Money | None


@dataclass(frozen=True)
class BankStatus:
    """What the history shows of a bank debit (read with its payment's row): the page where
    the clerk verifies the account, and when the debit was returned."""

    verification_url: str | None
    returned_at: datetime | None


@dataclass(frozen=True)
class PaymentSummary:
    payment: PaymentRow
    amount: Money
    lines: tuple[AllocationLine, ...]
    # A US bank account payment's mandate, verification page and return (None for a card); the
    # history reads only the last two (`BankStatus`).
    bank: BankDebit | BankStatus | None = None

    @property
    def status(self) -> str:
        return self.payment.status

    @property
    def is_bank_account(self) -> bool:
        return self.payment.method == BANK_ACCOUNT

    @property
    def expected_by(self) -> date | None:
        """When a bank debit still processing should settle (4 business days after it started)."""
        if not self.is_bank_account or self.payment.status not in IN_FLIGHT_STATUSES:
            return None
        return ach_expected_by(self.payment.created_at.date())

    @property
    def verification_url(self) -> str:
        """Stripe's page for the microdeposit amounts, while the account waits for them."""
        if self.bank is None or self.payment.status != PaymentStatus.REQUIRES_ACTION:
            return ""
        return self.bank.verification_url or ""

    @property
    def returned(self) -> bool:
        return self.bank is not None and self.bank.returned_at is not None

    @property
    def is_in_flight(self) -> bool:
        return self.payment.status in IN_FLIGHT_STATUSES

    @property
    def invoice_numbers(self) -> str:
        """"INV-1001, INV-1002": the invoices it paid, as a list shows them."""
        return ", ".join(line.invoice.number for line in self.lines)


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


def _bound_payment_scope(whole_account: bool):
    """`payment_scope` for an access of this kind, its values left to `scope_params`."""
    clause = Payment.customer_id == bindparam("scope_customer_id")
    if whole_account:
        return clause
    outside = select(PaymentAllocation.id).where(
        PaymentAllocation.payment_id == Payment.id,
        PaymentAllocation.invoice_id.not_in(bindparam("scope_invoice_ids", expanding=True)),
    )
    return clause & ~outside.exists()


def payment_for_access(db: Session, access: Access, public_id: str) -> Payment:
    """The `Payment` entity, with its allocations, for a write path (cancel)."""
    payment = db.scalar(
        select(Payment).where(Payment.public_id == public_id, payment_scope(access))
        .options(selectinload(Payment.allocations))
    )
    if payment is None:
        raise NotFound()
    return payment


@cache
def _payment_statement(whole_account: bool) -> Select:
    return select(Payment.__table__).where(Payment.public_id == bindparam("public_id"),
                                           _bound_payment_scope(whole_account))


def payment_row(db: Session, access: Access, public_id: str) -> Row:
    """The payment with this public id as a row, if this access may see it (one query)."""
    row = read(db, _payment_statement(access.whole_account), {**scope_params(access), "public_id": public_id}).first()
    if row is None:
        raise NotFound()
    return row


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


@cache
def _history_statement(whole_account: bool) -> Select:
    """A page of payments, each with what the history shows of its bank debit (a payment has
    at most one: `bank_debits` is keyed by payment)."""
    return (
        select(Payment.__table__, BankDebit.payment_id.label("bank_payment_id"),
               BankDebit.verification_url.label("bank_verification_url"),
               BankDebit.returned_at.label("bank_returned_at"))
        .outerjoin(BankDebit, BankDebit.payment_id == Payment.id)
        .where(_bound_payment_scope(whole_account))
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
    )


def payment_history(db: Session, access: Access, page: int = 1,
                    per_page: int = HISTORY_PER_PAGE) -> PaymentHistory:
    """The company's payments, newest first, a page at a time (one more row is read to know
    whether an older page exists), with what each paid."""
    payments = read(db, _history_statement(access.whole_account), {
        **scope_params(access), "limit": per_page + 1, "offset": (page - 1) * per_page}).all()
    return PaymentHistory(_history_summaries(db, payments[:per_page]), page, len(payments) > per_page)


# The history names each payment's invoices and nothing else of them: one statement with the
# invoice numbers, instead of the invoices' whole rows and balances that a receipt needs. Each
# invoice's public id and number are read by its primary key, one row at a time: as a join,
# PostgreSQL's planner hashes the whole `invoices` table (a sequential scan, 0.4 ms at 6,000
# invoices) to find the fifty a page names.
def _invoice_column(column):
    return select(column).where(Invoice.id == PaymentAllocation.invoice_id).scalar_subquery()


_HISTORY_LINES = (
    select(PaymentAllocation.payment_id, PaymentAllocation.amount_minor, PaymentAllocation.short_pay_reason,
           PaymentAllocation.invoice_id.label("id"), _invoice_column(Invoice.public_id).label("public_id"),
           _invoice_column(Invoice.number).label("number"))
    .where(PaymentAllocation.payment_id.in_(bindparam("payment_ids", expanding=True)))
    .order_by(PaymentAllocation.id)
)


def _history_summaries(db: Session, payments: list[PaymentRow]) -> list[PaymentSummary]:
    if not payments:
        return []
    lines: dict[int, list[AllocationLine]] = {payment.id: [] for payment in payments}
    currency = {payment.id: payment.currency for payment in payments}
    for row in read(db, _HISTORY_LINES, {"payment_ids": list(lines)}).all():
        lines[row.payment_id].append(
            AllocationLine(row, Money(row.amount_minor, currency[row.payment_id]), row.short_pay_reason, None))
    return [PaymentSummary(payment, Money(payment.amount_minor, payment.currency), tuple(lines[payment.id]),
                           bank=BankStatus(payment.bank_verification_url, payment.bank_returned_at)
                           if payment.bank_payment_id is not None else None)
            for payment in payments]


def _bank_debits(db: Session, payments: list[PaymentRow]) -> dict[int, BankDebit]:
    """The US bank account payments' mandates and returns, by payment id (no query without one)."""
    bank_ids = [payment.id for payment in payments if payment.method == BANK_ACCOUNT]
    if not bank_ids:
        return {}
    return {debit.payment_id: debit for debit in db.scalars(select(BankDebit).where(BankDebit.payment_id.in_(bank_ids)))}


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


# Each allocation of the payments named, with its invoice's whole row (balances included):
# what a receipt and the payment page show, in one statement.
_ALLOCATIONS_WITH_INVOICES = (
    select(PaymentAllocation.payment_id.label("allocation_payment_id"),
           PaymentAllocation.amount_minor.label("allocation_minor"),
           PaymentAllocation.short_pay_reason.label("allocation_short_pay_reason"),
           *INVOICES.columns)
    .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
    .where(PaymentAllocation.payment_id.in_(bindparam("payment_ids", expanding=True)))
    .order_by(PaymentAllocation.id)
)


def describe_payments(db: Session, payments: list[PaymentRow], clock: Clock) -> list[PaymentSummary]:
    """What each payment paid, invoice by invoice (one query for any number of payments, and
    one more when some were paid from a bank account)."""
    if not payments:
        return []
    today = clock.now().date()
    lines: dict[int, list[AllocationLine]] = {payment.id: [] for payment in payments}
    currencies = {payment.id: payment.currency for payment in payments}
    rows = read(db, _ALLOCATIONS_WITH_INVOICES, {"payment_ids": list(lines)}).all()
    for row, standing in zip(rows, to_standings(rows, today), strict=True):
        lines[row.allocation_payment_id].append(AllocationLine(
            invoice=standing.invoice, amount=Money(row.allocation_minor, currencies[row.allocation_payment_id]),
            short_pay_reason=row.allocation_short_pay_reason, balance_after=standing.balance))
    banks = _bank_debits(db, payments)
    return [PaymentSummary(payment, Money(payment.amount_minor, payment.currency), tuple(lines[payment.id]),
                           bank=banks.get(payment.id)) for payment in payments]


# How card brands are written on receipts (Stripe's `card.brand` values).
CARD_BRANDS = {
    "visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover",
    "diners": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay", "cartes_bancaires": "Cartes Bancaires",
    "eftpos_au": "eftpos", "interac": "Interac",
}


def card_label(brand: str | None, last4: str | None, language: str | None = None) -> str:
    """"Visa ending in 4242"; "Card ending in 4242" for a brand we do not know; "" without last4.
    In `language` (the brand's own name is never translated)."""
    if not last4:
        return ""
    gettext = translations(language_or_default(language)).gettext
    name = CARD_BRANDS.get((brand or "").lower()) or ((brand or "").replace("_", " ").title() or gettext(N_("Card")))
    return gettext(N_("%(brand)s ending in %(last4)s")) % {"brand": name, "last4": last4}


def local_time(moment: datetime | None, timezone_name: str, language: str | None = None) -> str:
    """"15 Jun 2026, 10:03 EDT": a moment as the customer's clock showed it, in `language`."""
    if moment is None:
        return ""
    try:
        zone = ZoneInfo(timezone_name or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return format_moment(moment, zone, language)


@dataclass(frozen=True)
class Receipt:
    """What the receipt email and the receipt PDF say about one settled payment."""

    summary: PaymentSummary
    customer: Customer
    # Both written in the language the receipt is for (`receipt_of`).
    paid_at: str  # the moment it settled, in the customer's time zone
    card: str  # "Visa ending in 4242", how money received outside Stripe came, or "" when the processor did not say

    @property
    def payment(self) -> Payment:
        return self.summary.payment

    @property
    def reference(self) -> str:
        return self.summary.payment.reference


def receipt_of(db: Session, clock: Clock, payment: Payment, language: str | None = None) -> Receipt:
    """The receipt of a payment already known to be the caller's (settled or not: the caller
    decides whether a receipt may be shown), its time and method written in `language`."""
    customer = db.get(Customer, payment.customer_id)
    offline = OFFLINE_METHOD_LABELS.get(payment.method)
    return Receipt(
        summary=describe_payments(db, [payment], clock)[0], customer=customer,
        paid_at=local_time(payment.settled_at, customer.timezone, language),
        card=card_label(payment.card_brand, payment.card_last4, language)
        or (translations(language_or_default(language)).gettext(offline) if offline else ""),
    )


def receipt_for_access(db: Session, access: Access, clock: Clock, public_id: str,
                       language: str | None = None) -> Receipt:
    """The receipt of a payment this access may see; NotFound (404) for another company's, and
    for one that has not succeeded: there is nothing to file until the money arrived."""
    payment = payment_for_access(db, access, public_id)
    if payment.status != PaymentStatus.SUCCEEDED:
        raise NotFound("This payment has no receipt: it has not been paid.")
    return receipt_of(db, clock, payment, language)


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


@cache
def _named_standings_statement(whole_account: bool) -> Select:
    return standings_query().where(bound_named_invoices(whole_account))


@dataclass(frozen=True)
class PaySelection:
    """"Pay all overdue" / "Pay all due" of one currency (the overview's buttons): every invoice
    of that currency with something left to pay now, only the overdue ones when `overdue_only`,
    oldest due first, at most `MAX_INVOICES_PER_PAYMENT` of them."""

    currency: str
    overdue_only: bool


@cache
def _selected_ids_statement(whole_account: bool, overdue_only: bool) -> Select:
    """The ids a `PaySelection` names (one query on the open invoices' partial index)."""
    query = (
        select(Invoice.id)
        .where(bound_invoice_scope(whole_account), Invoice.balance_minor > literal_column("0"),
               Invoice.currency == bindparam("currency"),
               Invoice.balance_minor > Invoice.in_flight_minor + Invoice.held_minor)
        .order_by(Invoice.due_date, Invoice.id)
        .limit(bindparam("limit", type_=Integer))
    )
    return query.where(Invoice.due_date < bindparam("today")) if overdue_only else query


def _selected_ids(db: Session, access: Access, today: date, selection: PaySelection) -> list[int]:
    return list(read(db, _selected_ids_statement(access.whole_account, selection.overdue_only), {
        **scope_params(access), "currency": selection.currency, "today": today,
        "limit": MAX_INVOICES_PER_PAYMENT}).scalars().all())


def pay_page(db: Session, today: date, access: Access, public_ids: list[str],
             selection: PaySelection | None = None) -> PayPage:
    """The invoices chosen on the invoice list (or named by `selection`), as of the customer's
    `today`; another company's id is NotFound (404)."""
    if selection is not None:
        ids = _selected_ids(db, access, today, selection)
        found = standings_for(db, ids, today).values()
        if not ids:
            what = "overdue invoice" if selection.overdue_only else "invoice"
            return PayPage((), None, f"No {selection.currency} {what} has anything left to pay right now.")
    else:
        public_ids = list(dict.fromkeys(public_ids))[:MAX_INVOICES_PER_PAYMENT]
        if not public_ids:
            return PayPage((), None, "Choose at least one invoice to pay.")
        # The invoices and their figures in one statement, limited to what `access` may see.
        found = to_standings(read(db, _named_standings_statement(access.whole_account),
                                  {**scope_params(access), "named_public_ids": public_ids}).all(), today)
        if len(found) != len(public_ids):
            raise NotFound()
    standings = sorted(found, key=lambda s: (s.invoice.due_date, s.invoice.number))
    payable = tuple(s for s in standings if not s.payable.is_zero)
    if not payable:
        return PayPage((), None, "These invoices are paid or already have a payment in progress.")
    currencies = {s.invoice.currency for s in payable}
    if len(currencies) > 1:
        return PayPage(payable, None, "Invoices in different currencies must be paid separately: "
                                      "choose invoices in one currency.")
    return PayPage(payable, currencies.pop())
