"""The demo's follow-ups ("why isn't this paid?") and the teams that work their queues.

A "Receivables" team (the collector and the supervisor, New York hours) works the
cash-application and collections queues; the dispute teams stay as they are (the fallback takes
the rest). Then, through the product's own services, as clerks and staff would:

- We already paid it: Acme's clerk reports a wire (open, in the collector's queue); another
  customer's was not found and waits for the clerk's answer; one was matched (a payment
  recorded through the ledger, the invoice paid) and one dismissed as a duplicate.
- Waiting for approval: one open (a promise to pay), one dismissed, at other customers (Acme's
  own promises are the promises demo's).
- System-raised, as the jobs and webhooks raise them: a promise-broken follow-up for each broken
  demo promise (one of them already dismissed after a note), a plan-defaulted one for each
  defaulted demo plan, a bank-debit one for Acme's returned ACH debit.

No email stays queued: the demo's outbox only holds what the demo sends live.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, func, select, union
from sqlalchemy.orm import Session

from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock, FixedClock, today_in
from portal.domain.core.context import Context
from portal.domain.customers.models import Contact, Customer
from portal.domain.followups.models import Followup, FollowupInvoice
from portal.domain.followups.notifications import FollowupMail
from portal.domain.followups.service import (
    add_note, ask_customer, dismiss_followup, match_reported_payment, payment_not_found, raise_followup,
    report_already_paid, report_awaiting_approval, settle_from_promise,
)
from portal.domain.followups.states import FollowupKind
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.payments.models import BankDebit, Payment
from portal.domain.payments.service import record_offline_payment
from portal.domain.plans.models import Plan, PlanInvoice
from portal.domain.plans.states import PlanStatus
from portal.domain.promises.models import Promise, PromiseInvoice
from portal.domain.promises.policy import PromisePolicy
from portal.domain.promises.service import settle_promise
from portal.domain.promises.states import PromiseStatus
from portal.domain.staff.models import StaffMember
from portal.domain.staff.service import TeamDetails, create_team

ACME = "Acme Corp"
ACME_CLERK = "ap@acme.example"
DEMO_SUPPLIER = SupplierDetails("Northwind Supplies", "billing@northwind.example", "http://127.0.0.1:5000")


def _contact(db: Session, customer_id: int) -> Contact:
    contacts = db.scalars(select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id)).all()
    return next((c for c in contacts if c.email == ACME_CLERK), None) or contacts[0]


def _free_invoices(db: Session, customer_id: int, count: int) -> list[Invoice]:
    """Open invoices nothing else is about now (no money held by a dispute or in flight, no
    promise, plan or follow-up)."""
    busy = union(select(PromiseInvoice.invoice_id), select(PlanInvoice.invoice_id),
                 select(FollowupInvoice.invoice_id))
    return list(db.scalars(
        select(Invoice).where(Invoice.customer_id == customer_id, Invoice.balance_minor > 0,
                              Invoice.in_flight_minor == 0, Invoice.held_minor == 0, Invoice.id.not_in(busy))
        .order_by(Invoice.due_date, Invoice.number).limit(count).execution_options(populate_existing=True)
    ))


def _clerk(db: Session, clock: Clock, customer: Customer) -> tuple[Context, Access]:
    contact = _contact(db, customer.id)
    return (Context(db, clock, Actor("contact", contact.public_id, "127.0.0.1")),
            Access(customer.id, contact.id, ACCOUNT))


def _paid(db: Session, clock: Clock, customer: Customer, invoices: list[Invoice], *, method: str,
          reference: str, days_ago: int):
    ctx, access = _clerk(db, clock, customer)
    today = today_in(clock, customer.timezone)
    total = sum(invoice.balance_minor for invoice in invoices)
    amount = f"{total // 100}.{total % 100:02d}" if invoices[0].currency != "JPY" else str(total)
    return report_already_paid(
        ctx, access, invoice_public_ids=[i.public_id for i in invoices], paid_on=today - timedelta(days=days_ago),
        amount_text=amount, method=method, reference=reference, note="", request_key=secrets.token_urlsafe(24),
        today=today,
    )


def _approval(db: Session, clock: Clock, customer: Customer, invoices: list[Invoice], days: int, note: str):
    ctx, access = _clerk(db, clock, customer)
    today = today_in(clock, customer.timezone)
    return report_awaiting_approval(
        ctx, access, PromisePolicy(), invoice_public_ids=[i.public_id for i in invoices],
        expected_date=today + timedelta(days=days), method="ach", note=note, request_key=secrets.token_urlsafe(24),
        today=today,
    )


def _keep_the_promise(db: Session, clock: Clock, followup: Followup) -> None:
    """The approved invoice paid by wire, as check-promises then finds it: the promise kept, and
    with it the approval follow-up resolved."""
    promise = db.scalar(select(Promise).where(Promise.public_id == followup.details["promise"]))
    ctx = Context(db, clock, Actor.system("demo"))
    record_offline_payment(
        ctx, customer_id=promise.customer_id, currency=promise.currency, method="offline_wire",
        allocations=[(line.invoice_id, line.promised_minor) for line in promise.invoices],
        bank_reference="Wire 2291", request_key=f"demo-approval:{promise.public_id}",
    )
    settle_promise(ctx, promise, PromiseStatus.KEPT)
    settle_from_promise(ctx, promise.public_id, kept=True)


def write_demo_followups(db: Session, clock: Clock) -> dict[str, int]:
    """Add the team and the follow-ups (the caller commits). Returns the count per status."""
    now = clock.now()
    members = {m.email: m for m in db.scalars(select(StaffMember))}
    collector = members.get("collector@northwind.example")
    supervisor = members.get("supervisor@northwind.example")
    system = Context(db, clock, Actor.system("demo"))
    if collector is not None and supervisor is not None:
        create_team(system, TeamDetails("Receivables", "America/New_York", "12345", 9 * 60, 17 * 60,
                                        followup_queues=("cash_application", "collections")),
                    [collector.id, supervisor.id])
    staff = Context(db, clock, Actor("staff", collector.public_id if collector else "demo", "127.0.0.1"))
    staff_id = collector.id if collector else None
    mail = FollowupMail(DEMO_SUPPLIER)
    outbox_before = db.scalar(select(func.max(OutboxMessage.id))) or 0

    customers = list(db.scalars(select(Customer).order_by(Customer.account_number)))
    acme = next((c for c in customers if c.name == ACME), None)
    others = [c for c in customers if c.name != ACME]
    two_days_ago = FixedClock(now - timedelta(days=2))
    if acme is not None:
        invoices = _free_invoices(db, acme.id, 1)
        if invoices:
            _paid(db, clock, acme, invoices, method="wire", reference="FW-2026-0412", days_ago=3)
    fates = ["not_found", "matched", "dismissed", "approval", "approval_dismissed", "approval_asked",
             "approval_kept"]
    for customer in others[6:]:
        invoices = _free_invoices(db, customer.id, 1) if fates else []
        if not invoices:
            continue
        fate = fates.pop(0)
        if fate.startswith("approval"):
            followup = _approval(db, two_days_ago, customer, invoices, 9, "Waiting for the budget holder")
            if fate == "approval_dismissed":
                dismiss_followup(staff, followup, staff_id, "Paid the same day: nothing to chase.", mail)
            elif fate == "approval_asked":
                ask_customer(staff, followup, staff_id, "Who approves it on your side, and by when?", mail)
            elif fate == "approval_kept":
                _keep_the_promise(db, clock, followup)
            continue
        followup = _paid(db, two_days_ago, customer, invoices, method="check" if fate == "matched" else "ach",
                         reference=f"CHK-{customer.account_number[-4:]}", days_ago=5)
        if fate == "not_found":
            payment_not_found(staff, followup, staff_id, "We cannot find this on our bank statement yet. Please "
                              "send the remittance advice or your bank's confirmation.", mail)
        elif fate == "matched":
            amount = followup.details["amount_minor"]
            match_reported_payment(staff, followup, staff_id, amount_text=f"{amount // 100}.{amount % 100:02d}",
                                   bank_reference="Lockbox deposit 118", mail=mail)
        else:
            dismiss_followup(staff, followup, staff_id, "A duplicate of the report sent the day before.", mail)
    # What the jobs raise: each broken promise and each defaulted plan of the demo.
    broken = db.scalars(select(Promise).where(Promise.status == PromiseStatus.BROKEN.value).order_by(Promise.id))
    for n, promise in enumerate(broken):
        followup, _ = raise_followup(
            system, kind=FollowupKind.PROMISE_BROKEN, customer_id=promise.customer_id,
            invoice_ids=[line.invoice_id for line in promise.invoices],
            details={"promise": promise.public_id, "promised_date": promise.promised_date.isoformat(),
                     "total_minor": promise.total_minor, "currency": promise.currency},
            dedupe_key=f"promise_broken:{promise.public_id}",
        )
        if n == 0:
            add_note(staff, followup, staff_id, "Called the AP lead: the check went out yesterday.")
            dismiss_followup(staff, followup, staff_id, "The check arrived: nothing left to chase.")
    for plan in db.scalars(select(Plan).where(Plan.status == PlanStatus.DEFAULTED.value).order_by(Plan.id)):
        raise_followup(
            system, kind=FollowupKind.PLAN_DEFAULTED, customer_id=plan.customer_id,
            invoice_ids=list(db.scalars(select(PlanInvoice.invoice_id).where(PlanInvoice.plan_id == plan.id)
                                        .order_by(PlanInvoice.invoice_id))),
            details={"plan": plan.public_id, "currency": plan.currency, "failures": plan.failures},
            dedupe_key=f"plan_defaulted:{plan.public_id}",
        )
    returned = db.scalars(select(Payment).join(BankDebit, BankDebit.payment_id == Payment.id)
                          .where(BankDebit.returned_at.is_not(None)).order_by(Payment.id))
    for payment in returned:
        raise_followup(
            system, kind=FollowupKind.BANK_DEBIT_FAILED, customer_id=payment.customer_id,
            invoice_ids=sorted({allocation.invoice_id for allocation in payment.allocations}),
            details={"payment": payment.public_id, "reference": payment.reference,
                     "amount_minor": payment.amount_minor, "currency": payment.currency, "code": "R01",
                     "returned": True},
            dedupe_key=f"bank_debit_failed:{payment.public_id}",
        )
    # History, not news: the emails these steps queued are not sent.
    db.execute(delete(OutboxMessage).where(OutboxMessage.id > outbox_before,
                                           OutboxMessage.kind.like("followup_%")))
    db.flush()
    return followup_counts(db)


def followup_counts(db: Session) -> dict[str, int]:
    return dict(db.execute(select(Followup.status, func.count()).group_by(Followup.status)).all())

