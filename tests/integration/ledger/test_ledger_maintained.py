"""The maintained balance and money in flight always equal what the history adds up to.

Random sequences of what happens to invoices (issue, a payment that starts and then succeeds,
fails, is canceled or retried, a reversal, a credit note, a refund, a chargeback and its
reversal) are applied through the real schema built by the migrations, each step committed
in its own session. After every step each invoice's columns must equal both an independent
model kept here and `check_ledger`'s sums of entries and in-flight allocations; the customer's
maintained totals and open due dates must equal the same model regrouped, and `check_ledger`
must find no difference between them and the invoices either.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.domain.core.money import Money
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.service import NewLine, issue_credit_note, issue_invoice
from portal.domain.ledger.jobs import check_ledger
from portal.domain.ledger.models import AccountDueDate, AccountTotal
from portal.domain.ledger.service import post_entry
from portal.domain.ledger.states import EntryKind
from portal.domain.payments.models import IN_FLIGHT_STATUSES, Payment, PaymentAllocation
from portal.domain.payments.service import next_payment_reference
from tests.support.factories import make_customer

OPERATIONS = ("issue", "start_payment", "succeed", "fail", "cancel", "retry", "reverse",
              "credit", "refund", "refund_reversal", "chargeback", "chargeback_reversal")
_numbers = itertools.count(1)


@dataclass
class ModelInvoice:
    id: int
    total: int
    balance: int
    due_date: date
    in_flight: int = 0
    refundable: int = 0  # settled payments not yet refunded or reversed
    charged_back: int = 0
    refunds: list[int] = field(default_factory=list)  # posted refunds Stripe may still report failed


@dataclass
class ModelPayment:
    id: int
    status: str
    allocations: list[tuple[int, int]]  # (model invoice index, amount)
    reversed: bool = False


@dataclass
class Ledger:
    """What the columns must say, computed here from each step's meaning."""

    invoices: list[ModelInvoice] = field(default_factory=list)
    payments: list[ModelPayment] = field(default_factory=list)


def _pick(items, choice):
    return items[choice % len(items)] if items else None


def _apply(session_factory, clock, customer_id: int, ledger: Ledger, operation: str, choice: int, amount: int):
    now = clock.now()
    with session_factory() as db:
        if operation == "issue":
            number = f"P-{next(_numbers):07d}"
            total = 100 + amount % 50_000
            due = now.date() + timedelta(days=choice % 3)  # a few invoices share each due date
            invoice = issue_invoice(db, customer_id=customer_id, number=number, currency="USD",
                                    issue_date=now.date(), due_date=due,
                                    lines=[NewLine("Goods", 1, total)], at=now)
            ledger.invoices.append(ModelInvoice(invoice.id, total, total, due))
        elif operation == "start_payment":
            payable = [i for i, inv in enumerate(ledger.invoices) if inv.balance - inv.in_flight > 0]
            if not payable:
                return
            first = choice % len(payable)
            chosen = payable[first:first + 1 + amount % 2]  # one or two invoices
            allocations = []
            for index in chosen:
                inv = ledger.invoices[index]
                allocations.append((index, 1 + amount % (inv.balance - inv.in_flight)))
            status = IN_FLIGHT_STATUSES[choice % len(IN_FLIGHT_STATUSES)]
            n = next(_numbers)
            payment = Payment(customer_id=customer_id, currency="USD", amount_minor=sum(a for _, a in allocations),
                              status=status, request_key=f"rk-{n}", idempotency_key=f"ik-{n}",
                              created_at=now, updated_at=now, reference=next_payment_reference(db, now.year))
            db.add(payment)
            db.flush()
            for index, allocated in allocations:
                db.add(PaymentAllocation(payment_id=payment.id, invoice_id=ledger.invoices[index].id,
                                         amount_minor=allocated))
            ledger.payments.append(ModelPayment(payment.id, status, allocations))
            for index, allocated in allocations:
                ledger.invoices[index].in_flight += allocated
        elif operation in ("succeed", "fail", "cancel", "retry"):
            if operation == "retry":
                candidates = [p for p in ledger.payments if p.status == "failed"]
                target = "processing"
            else:
                candidates = [p for p in ledger.payments if p.status in IN_FLIGHT_STATUSES]
                target = {"succeed": "succeeded", "fail": "failed", "cancel": "canceled"}[operation]
            model = _pick(candidates, choice)
            if model is None:
                return
            payment = db.get(Payment, model.id)
            payment.status = target
            db.flush()
            for index, allocated in model.allocations:
                inv = ledger.invoices[index]
                inv.in_flight += allocated if target in IN_FLIGHT_STATUSES else -allocated
                if target == "succeeded":
                    post_entry(db, invoice_id=inv.id, kind=EntryKind.PAYMENT, amount_minor=-allocated,
                               payment_id=model.id, reference="settled", at=now)
                    inv.balance -= allocated
                    inv.refundable += allocated
            model.status = target
        elif operation == "reverse":
            model = _pick([p for p in ledger.payments if p.status == "succeeded" and not p.reversed
                           and all(ledger.invoices[i].refundable >= a for i, a in p.allocations)], choice)
            if model is None:
                return
            for index, allocated in model.allocations:
                inv = ledger.invoices[index]
                post_entry(db, invoice_id=inv.id, kind=EntryKind.PAYMENT_REVERSAL, amount_minor=allocated,
                           payment_id=model.id, reference="reversed", at=now)
                inv.balance += allocated
                inv.refundable -= allocated
            model.reversed = True
        elif operation == "credit":
            inv = _pick([i for i in ledger.invoices if i.balance - i.in_flight > 0], choice)
            if inv is None:
                return
            credited = 1 + amount % (inv.balance - inv.in_flight)
            issue_credit_note(db, invoice_id=inv.id, amount=Money(credited, "USD"), reference="CN", at=now)
            inv.balance -= credited
        elif operation == "refund":
            inv = _pick([i for i in ledger.invoices if i.refundable > 0], choice)
            if inv is None:
                return
            refunded = 1 + amount % inv.refundable
            post_entry(db, invoice_id=inv.id, kind=EntryKind.REFUND, amount_minor=refunded, reference="re", at=now)
            inv.balance += refunded
            inv.refundable -= refunded
            inv.refunds.append(refunded)
        elif operation == "refund_reversal":  # a posted refund Stripe reports failed: undone
            inv = _pick([i for i in ledger.invoices if i.refunds], choice)
            if inv is None:
                return
            undone = inv.refunds.pop(choice % len(inv.refunds))
            post_entry(db, invoice_id=inv.id, kind=EntryKind.REFUND_REVERSAL, amount_minor=-undone,
                       reference="re failed", at=now)
            inv.balance -= undone
            inv.refundable += undone
        elif operation == "chargeback":
            inv = _pick([i for i in ledger.invoices if i.refundable > 0], choice)
            if inv is None:
                return
            disputed = 1 + amount % inv.refundable
            post_entry(db, invoice_id=inv.id, kind=EntryKind.CHARGEBACK, amount_minor=disputed, reference="dp", at=now)
            inv.balance += disputed
            inv.refundable -= disputed
            inv.charged_back += disputed
        elif operation == "chargeback_reversal":
            inv = _pick([i for i in ledger.invoices if i.charged_back > 0], choice)
            if inv is None:
                return
            won = inv.charged_back
            post_entry(db, invoice_id=inv.id, kind=EntryKind.CHARGEBACK_REVERSAL, amount_minor=-won,
                       reference="won", at=now)
            inv.balance -= won
            inv.refundable += won
            inv.charged_back = 0
        db.commit()


def _expected_account_figures(ledger: Ledger):
    open_invoices = [inv for inv in ledger.invoices if inv.balance > 0]
    totals = (len(ledger.invoices), len(open_invoices), sum(inv.balance for inv in open_invoices),
              sum(inv.in_flight for inv in open_invoices), sum(1 for inv in open_invoices if inv.in_flight > 0))
    due_dates: dict[date, tuple[int, int]] = {}
    for inv in open_invoices:
        count, owed = due_dates.get(inv.due_date, (0, 0))
        due_dates[inv.due_date] = (count + 1, owed + inv.balance)
    return {"USD": totals}, due_dates


def _assert_agrees(session_factory, customer_id: int, ledger: Ledger) -> None:
    with session_factory() as db:
        ids = [inv.id for inv in ledger.invoices]
        stored = {row.id: (row.balance_minor, row.in_flight_minor) for row in db.execute(
            select(Invoice.id, Invoice.balance_minor, Invoice.in_flight_minor).where(Invoice.id.in_(ids)))}
        totals = {row.currency: (row.invoice_count, row.open_count, row.open_minor, row.in_flight_minor,
                                 row.processing_count)
                  for row in db.scalars(select(AccountTotal).where(AccountTotal.customer_id == customer_id))}
        due_dates = {row.due_date: (row.open_count, row.open_minor)
                     for row in db.scalars(select(AccountDueDate).where(AccountDueDate.customer_id == customer_id))}
        report = check_ledger(db)
    assert stored == {inv.id: (inv.balance, inv.in_flight) for inv in ledger.invoices}
    assert (totals, due_dates) == _expected_account_figures(ledger)
    assert report.differences == []


steps = st.lists(
    st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 1_000), st.integers(0, 10**6)),
    min_size=1, max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_maintained_columns_equal_the_history_after_every_step(session_factory, clock, steps):
    # Examples share the test's database: each works on its own customer's invoices, and
    # check_ledger proves every invoice written so far.
    with session_factory() as db:
        customer_id = make_customer(db, clock).id
        db.commit()  # every step below runs in a session of its own
    ledger = Ledger()
    for operation, choice, amount in [("issue", 0, 0), *steps]:
        _apply(session_factory, clock, customer_id, ledger, operation, choice, amount)
        _assert_agrees(session_factory, customer_id, ledger)
