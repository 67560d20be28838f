"""What the plans area emails: the reminder before an autopay charge, an installment that
needs the customer (authentication, a decline), and the plan's default (customer and staff).

Each is queued in the caller's transaction with a dedupe key, so running the collector twice
sends each at most once. Links are plain portal addresses (the pay page with the plan's
invoices); like every link in our emails they grant nothing by themselves.
"""

from __future__ import annotations

import logging
from datetime import date
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock
from portal.domain.core.money import Money
from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import enqueue
from portal.domain.plans.models import Installment, Plan, PlanInvoice

log = logging.getLogger(__name__)


def _invoices(db: Session, plan: Plan) -> list[Invoice]:
    return list(db.scalars(select(Invoice).join(PlanInvoice, PlanInvoice.invoice_id == Invoice.id)
                           .where(PlanInvoice.plan_id == plan.id).order_by(Invoice.number)).all())


def pay_url(supplier: SupplierDetails, invoices: list[Invoice]) -> str:
    return supplier.url("pay?" + urlencode([("invoice", invoice.public_id) for invoice in invoices]))


def _recipients(db: Session, plan: Plan) -> tuple[Contact | None, list[str]]:
    contacts = db.scalars(select(Contact).where(Contact.customer_id == plan.customer_id)).all()
    maker = next((c for c in contacts if c.id == plan.proposed_by_contact_id), None)
    return maker, [c.email for c in contacts if c.is_ap_mailbox and (maker is None or c.email != maker.email)]


def _send(db: Session, clock: Clock, supplier: SupplierDetails, plan: Plan, kind: str, key: str, **context) -> bool:
    """Queue one email to the plan's proposer (AP mailboxes on CC); False when it was queued
    before (`key`) or there is nobody to tell."""
    if db.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None:
        return False
    maker, cc = _recipients(db, plan)
    if maker is None:
        log.warning("plan %s: no contact to send %s to", plan.public_id, kind)
        return False
    invoices = _invoices(db, plan)
    email = render_email(kind, supplier=supplier, plan=plan, contact=maker, url=pay_url(supplier, invoices),
                         invoice_numbers=[invoice.number for invoice in invoices], **context)
    enqueue(db, clock, kind=kind, to=maker.email, email=email, cc=cc, dedupe_key=key)
    return True


def queue_reminder(db: Session, clock: Clock, supplier: SupplierDetails, plan: Plan, installment: Installment) -> bool:
    return _send(db, clock, supplier, plan, "plan_installment_reminder",
                 f"plan-reminder:{installment.public_id}:{installment.due_on.isoformat()}",
                 installment=installment, amount=Money(installment.amount_minor, plan.currency))


def queue_needs_customer(db: Session, clock: Clock, supplier: SupplierDetails, plan: Plan, installment: Installment,
                         *, attempt: int, authenticate: bool, reason: str, retry_on: date | None) -> bool:
    return _send(db, clock, supplier, plan, "plan_action_required",
                 f"plan-needs-customer:{installment.public_id}:{attempt}", installment=installment,
                 amount=Money(installment.amount_minor, plan.currency), authenticate=authenticate,
                 reason=reason, retry_on=retry_on)


def queue_defaulted(db: Session, clock: Clock, supplier: SupplierDetails, plan: Plan, remaining: Money) -> None:
    """The customer and staff (the supplier's collections address) are told, once."""
    _send(db, clock, supplier, plan, "plan_defaulted", f"plan-defaulted:{plan.public_id}", remaining=remaining)
    invoices = _invoices(db, plan)
    customer = db.get(Customer, plan.customer_id)
    email = render_email("plan_defaulted_staff", supplier=supplier, plan=plan, remaining=remaining,
                         customer_name=customer.name if customer else "",
                         invoice_numbers=[invoice.number for invoice in invoices])
    enqueue(db, clock, kind="plan_defaulted_staff", to=supplier.email, email=email,
            dedupe_key=f"plan-defaulted-staff:{plan.public_id}")
