"""The demo's installment plans: active, waiting for approval, countered by staff, paused,
declined, cancelled and defaulted, one running plan with a new schedule waiting for the
customer's answer, and one customer on hold (its plan waits for staff), over open invoices of Acme Corp (the demo clerk's) and a
few other customers.

All are proposed through the product's own service, paid by the customer ("pay each myself":
the demo's customers have no card saved at localstripe, so `collect-installments` charges
nothing on its own; a clerk who saves a card in the demo and proposes an autopay plan sees it
charged). Staff decisions go through the service too. The defaulted plan is history written
after the fact (three failed collections recorded, as the collector would), with no email.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock, FixedClock, today_in
from portal.domain.core.context import Context
from portal.domain.customers.models import Contact, Customer
from portal.domain.disputes.models import DisputeInvoice
from portal.domain.invoicing.models import Invoice
from portal.domain.plans.models import Plan, PlanInvoice
from portal.domain.plans.policy import PlanPolicy, PlanRefused, terms_digest
from portal.domain.plans.service import (
    PlanRequest, amend_plan, cancel_plan, counter_plan, decline_plan, move_installment, move_plan, pause_plan, preview_plan, propose_plan,
)
from portal.domain.plans.states import OWED, InstallmentStatus, PlanStatus
from portal.domain.customers.service import set_on_hold
from portal.domain.promises.models import PromiseInvoice

ACME = "Acme Corp"
ACME_CLERK = "ap@acme.example"
POLICY = PlanPolicy()
STAFF = Actor("staff", "demo-collector")


def _contact(db: Session, customer_id: int) -> Contact:
    contacts = db.scalars(select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id)).all()
    return next((c for c in contacts if c.email == ACME_CLERK), None) or contacts[0]


def _open_invoice(db: Session, customer_id: int) -> Invoice | None:
    """An open invoice with nothing in flight, held, promised or planned (at least 100.00)."""
    busy = union(select(DisputeInvoice.invoice_id), select(PromiseInvoice.invoice_id),
                 select(PlanInvoice.invoice_id))
    return db.scalar(
        select(Invoice).where(Invoice.customer_id == customer_id, Invoice.balance_minor >= 10_000,
                              Invoice.in_flight_minor == 0, Invoice.held_minor == 0, Invoice.id.not_in(busy))
        .order_by(Invoice.due_date, Invoice.number).limit(1)
    )


def _propose(db: Session, clock: Clock, supplier_name: str, customer: Customer, *, count: int, cadence: str,
             days: int) -> Plan | None:
    invoice = _open_invoice(db, customer.id)
    if invoice is None:
        return None
    contact = _contact(db, customer.id)
    today = today_in(clock, customer.timezone)
    request = PlanRequest((invoice.public_id,), count, cadence, today + timedelta(days=days), "myself")
    ctx = Context(db, clock, Actor("contact", contact.public_id, "127.0.0.1"))
    access = Access(customer.id, contact.id, ACCOUNT)
    try:
        terms = preview_plan(ctx, access, POLICY, supplier_name, request, today).terms
        return propose_plan(ctx, access, POLICY, supplier_name, request, terms_shown=terms_digest(terms),
                            request_key=f"demo-plan-{invoice.public_id}", user_agent="Demo data", today=today)
    except PlanRefused:
        return None


def write_demo_plans(db: Session, clock: Clock, supplier_name: str = "Northwind Supplies") -> list[str]:
    """Make the demo's plans (the caller commits). Returns the statuses made."""
    customers = list(db.scalars(select(Customer).order_by(Customer.account_number)))
    acme = next((c for c in customers if c.name == ACME), None)
    others = iter([c for c in customers if c.name != ACME][6:])  # clear of the demo promises' customers
    staff = Context(db, clock, STAFF)
    made: list[Plan] = []
    if acme is not None:
        made += [p for p in (_propose(db, clock, supplier_name, acme, count=3, cadence="monthly", days=7),) if p]
    shapes = [("waiting", 10, "monthly"), ("countered", 9, "monthly"), ("paused", 4, "biweekly"), ("declined", 12, "monthly"),
              ("cancelled", 3, "weekly"), ("defaulted", 4, "weekly"), ("active", 2, "biweekly"),
              ("amended", 4, "monthly"), ("on hold", 3, "monthly")]
    for fate, count, cadence in shapes:
        started = clock if fate != "defaulted" else FixedClock(clock.now() - timedelta(days=30))
        plan = None
        for customer in others:  # the next customer with an invoice that can go into a plan
            if fate == "on hold" and _open_invoice(db, customer.id) is not None and not customer.on_hold:
                set_on_hold(staff, customer, on_hold=True, reason="Two ACH debits returned this quarter: "
                                                                  "plans need a collector's approval.")
            plan = _propose(db, started, supplier_name, customer, count=count, cadence=cadence, days=3)
            if plan is not None:
                break
        if plan is None:
            break
        if fate == "countered" and plan.status == PlanStatus.PENDING_APPROVAL:
            counter_plan(staff, plan, count=6, cadence="monthly", first_due_on=plan.first_due_on,
                         reason="Six months is the longest we can offer without a deposit.")
        elif fate == "amended" and plan.status == PlanStatus.ACTIVE:
            amend_plan(staff, plan, count=6, cadence="monthly", first_due_on=plan.first_due_on + timedelta(days=7),
                       reason="As agreed on the phone: six smaller payments, starting a week later.")
        elif fate == "paused":
            pause_plan(staff, plan)
        elif fate == "declined" and plan.status == PlanStatus.PENDING_APPROVAL:
            decline_plan(staff, plan, "Twelve months is longer than we can offer: three to six months is fine.")
        elif fate == "cancelled":
            cancel_plan(staff, plan, "Paid in full by wire instead, as agreed by phone.")
        elif fate == "defaulted":
            now = clock.now()
            for installment in plan.installments[:3]:
                installment.status = InstallmentStatus.FAILED
                installment.failure_code = "insufficient_funds"
            plan.failures = 3
            move_plan(plan, PlanStatus.DEFAULTED, now)
            plan.ended_at = now
            for installment in plan.installments:
                if installment.status in OWED:
                    move_installment(installment, InstallmentStatus.CANCELLED, now)
        made.append(plan)
    db.flush()
    return [plan.status for plan in made]


def plan_counts(db: Session) -> dict[str, int]:
    return dict(db.execute(select(Plan.status, func.count()).group_by(Plan.status)).all())
