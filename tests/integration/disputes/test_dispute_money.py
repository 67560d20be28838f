"""Money stays whole whatever happens with disputes.

Random sequences of what happens to a customer's invoices (issue, dispute an amount or the
whole of one or two invoices, start a payment of what is payable and let it succeed or fail,
accept a dispute in full or in part, reject, re-bill, withdraw) run through the real services
on the schema built by the migrations, each step committed in its own session. After every
step: each invoice's balance equals its entries (`check_ledger`), its held amount equals what
its active disputes hold (`check_holds`) and an independent model kept here, held ≤ balance,
and held money is never payable: the pay rules refuse any amount above balance − in flight −
held, and the full open balance whenever something is held.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.money import Money
from portal.domain.disputes import service
from portal.domain.disputes.jobs import check_holds
from portal.domain.disputes.models import Dispute
from portal.domain.disputes.notifications import DisputeMail
from portal.domain.disputes.policy import InvoiceChoice
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.service import NewLine, issue_invoice
from portal.domain.ledger.jobs import check_ledger
from portal.domain.ledger.queries import standings_for
from portal.domain.ledger.service import post_entry
from portal.domain.ledger.states import EntryKind
from portal.domain.payments.models import Payment, PaymentAllocation
from portal.domain.payments.service import next_payment_reference
from portal.domain.payments.policy import PaymentRefused, check_payable
from tests.support.factories import make_contact, make_customer, make_staff

OPERATIONS = ("issue", "dispute", "dispute_two", "pay", "succeed", "fail", "accept", "accept_part", "reject",
              "rebill", "withdraw")
_numbers = itertools.count(1)


@dataclass
class ModelInvoice:
    id: int
    public_id: str
    balance: int
    in_flight: int = 0
    held: int = 0


@dataclass
class ModelDispute:
    public_id: str
    holds: dict[int, int]  # model invoice index -> held amount
    active: bool = True


@dataclass
class Model:
    invoices: list[ModelInvoice] = field(default_factory=list)
    disputes: list[ModelDispute] = field(default_factory=list)
    payments: list[tuple[int, list[tuple[int, int]]]] = field(default_factory=list)  # (id, [(index, amount)])


def _pick(items, choice):
    return items[choice % len(items)] if items else None


def _available(inv: ModelInvoice) -> int:
    return max(inv.balance - inv.in_flight - inv.held, 0)


def _end(model: Model, dispute: ModelDispute, credited: dict[int, int]) -> None:
    for index, held in dispute.holds.items():
        inv = model.invoices[index]
        inv.held -= held
        inv.balance -= credited.get(index, 0)
    dispute.active = False


def _apply(session_factory, clock, mail, customer_id, contact_id, staff_actor: Actor, model: Model, operation, choice,
           amount):
    now = clock.now()
    access = Access(customer_id, contact_id, ACCOUNT)
    with session_factory() as db:
        customer_ctx = Context(db, clock, Actor("contact", "c"))
        staff = Context(db, clock, staff_actor)
        active = [d for d in model.disputes if d.active]
        if operation == "issue":
            total = 100 + amount % 50_000
            invoice = issue_invoice(db, customer_id=customer_id, number=f"D-{next(_numbers):07d}", currency="USD",
                                    issue_date=now.date(), due_date=now.date() + timedelta(days=30),
                                    lines=[NewLine("Goods", 1, total)], at=now)
            model.invoices.append(ModelInvoice(invoice.id, invoice.public_id, total))
        elif operation in ("dispute", "dispute_two"):
            open_ = [i for i, inv in enumerate(model.invoices) if _available(inv) > 0]
            if not open_:
                return
            first = choice % len(open_)
            chosen = open_[first:first + (2 if operation == "dispute_two" else 1)]
            choices, holds = [], {}
            for index in chosen:
                inv = model.invoices[index]
                if amount % 3 == 0:
                    choices.append(InvoiceChoice(inv.public_id, "whole"))
                    holds[index] = _available(inv)
                else:
                    part = 1 + amount % _available(inv)
                    choices.append(InvoiceChoice(inv.public_id, "amount", amount_text=Money(part, "USD").plain()))
                    holds[index] = part
            dispute = service.raise_dispute(customer_ctx, access, reason_code="pricing",
                                            description="Not the agreed price", choices=choices,
                                            request_key=secrets.token_urlsafe(24))
            for index, held in holds.items():
                model.invoices[index].held += held
            model.disputes.append(ModelDispute(dispute.public_id, holds))
        elif operation == "pay":
            index = _pick([i for i, inv in enumerate(model.invoices) if _available(inv) > 0], choice)
            if index is None:
                return
            inv = model.invoices[index]
            paid = 1 + amount % _available(inv)
            standing = standings_for(db, [inv.id], now.date())[inv.id]
            check_payable(standing, Money(paid, "USD"), "part" if paid < standing.payable.minor else "")
            n = next(_numbers)
            payment = Payment(customer_id=customer_id, currency="USD", amount_minor=paid, status="processing",
                              request_key=f"rk-{n}", idempotency_key=f"ik-{n}", created_at=now, updated_at=now,
                              reference=next_payment_reference(db, now.year))
            db.add(payment)
            db.flush()
            db.add(PaymentAllocation(payment_id=payment.id, invoice_id=inv.id, amount_minor=paid))
            inv.in_flight += paid
            model.payments.append((payment.id, [(index, paid)]))
        elif operation in ("succeed", "fail"):
            if not model.payments:
                return
            payment_id, allocations = model.payments.pop(choice % len(model.payments))
            payment = db.get(Payment, payment_id)
            payment.status = "succeeded" if operation == "succeed" else "failed"
            db.flush()
            for index, paid in allocations:
                inv = model.invoices[index]
                inv.in_flight -= paid
                if operation == "succeed":
                    post_entry(db, invoice_id=inv.id, kind=EntryKind.PAYMENT, amount_minor=-paid,
                               payment_id=payment_id, at=now)
                    inv.balance -= paid
        elif operation in ("accept", "accept_part"):
            dispute = _pick(active, choice)
            if dispute is None:
                return
            if operation == "accept":
                service.resolve_accept(staff, mail, dispute.public_id)
                credited = dict(dispute.holds)
            else:
                credited = {index: amount % (held + 1) for index, held in dispute.holds.items()}
                if not any(credited.values()):
                    credited[next(iter(credited))] = 1
                service.resolve_accept(staff, mail, dispute.public_id, credits={
                    model.invoices[i].public_id: Money(c, "USD") for i, c in credited.items()})
            _end(model, dispute, credited)
        elif operation == "reject":
            dispute = _pick(active, choice)
            if dispute is None:
                return
            service.reject(staff, mail, dispute.public_id, "Checked: the invoice is right.")
            _end(model, dispute, {})
        elif operation == "withdraw":
            dispute = _pick(active, choice)
            if dispute is None:
                return
            service.withdraw(customer_ctx, access, dispute.public_id)
            _end(model, dispute, {})
        elif operation == "rebill":
            # An invoice another active dispute also covers cannot be re-billed (refused: see
            # test_dispute_service); pick among those that can.
            dispute = _pick([d for d in active if model.invoices[next(iter(d.holds))].held
                             == d.holds[next(iter(d.holds))]], choice)
            if dispute is None:
                return
            index = next(iter(dispute.holds))
            inv = model.invoices[index]
            corrected_total = 1 + amount % 10_000
            correction = service.Correction(f"D-{next(_numbers):07d}", now.date() + timedelta(days=30),
                                            [NewLine("Goods, corrected", 1, corrected_total)])
            service.rebill(staff, mail, dispute.public_id, {inv.public_id: correction})
            _end(model, dispute, {})
            inv.balance = inv.in_flight  # credited what was open and not already being paid
            corrected = db.scalars(select(Invoice).where(Invoice.number == correction.number)).one()
            model.invoices.append(ModelInvoice(corrected.id, corrected.public_id, corrected_total))
        db.commit()


def _assert_money_whole(session_factory, clock, model: Model) -> None:
    with session_factory() as db:
        ids = [inv.id for inv in model.invoices]
        stored = {row.id: (row.balance_minor, row.in_flight_minor, row.held_minor) for row in db.execute(
            select(Invoice.id, Invoice.balance_minor, Invoice.in_flight_minor, Invoice.held_minor)
            .where(Invoice.id.in_(ids)))}
        assert stored == {inv.id: (inv.balance, inv.in_flight, inv.held) for inv in model.invoices}
        assert check_ledger(db).differences == []
        assert check_holds(db) == []
        standings = standings_for(db, ids, clock.now().date())
        for inv in model.invoices:
            standing = standings[inv.id]
            assert 0 <= inv.held <= inv.balance
            assert standing.payable.minor == max(inv.balance - inv.in_flight - inv.held, 0)
            if inv.held and inv.in_flight == 0:
                # The whole open balance includes held money: never payable.
                with pytest.raises(PaymentRefused, match="disputed"):
                    check_payable(standing, Money(inv.balance, "USD"), "")
            if inv.balance > 0:
                with pytest.raises(PaymentRefused):
                    check_payable(standing, Money(standing.payable.minor + 1, "USD"), "why")


steps = st.lists(
    st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 1_000), st.integers(0, 10**6)),
    min_size=1, max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_balances_follow_the_entries_and_held_money_is_never_payable(session_factory, clock, supplier, link_signer,
                                                                     steps):
    mail = DisputeMail(supplier, link_signer)
    with session_factory() as db:
        customer = make_customer(db, clock)
        contact = make_contact(db, clock, customer)
        staff_actor = Actor("staff", make_staff(db, clock).public_id)
        customer_id, contact_id = customer.id, contact.id
        db.commit()
    model = Model()
    for operation, choice, amount in [("issue", 0, 0), ("issue", 0, 7), *steps]:
        _apply(session_factory, clock, mail, customer_id, contact_id, staff_actor, model, operation, choice, amount)
        _assert_money_whole(session_factory, clock, model)
    with session_factory() as db:
        assert all(d.status in ("open", "resolved_accepted", "resolved_partial", "rejected", "rebilled", "withdrawn")
                   for d in db.scalars(select(Dispute).where(Dispute.customer_id == customer_id)))
