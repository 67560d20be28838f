"""What the refunds area emails staff: a refund that failed after it was given (its balance is
restored), to the member who gave it and the active supervisors; a chargeback case just opened,
with its evidence deadline, to the active supervisors. Once each per recipient."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from portal.domain.core.context import Context
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import enqueue
from portal.domain.payments.models import Payment
from portal.domain.refunds.models import Chargeback, Refund, RefundAllocation
from portal.domain.staff.models import StaffMember
from portal.domain.staff.states import StaffRole, StaffStatus

# The admin blueprint's page of one payment (`admin.payment`), under PUBLIC_URL.
ADMIN_PAYMENT_PATH = "/admin/payments/{public_id}"


@dataclass(frozen=True)
class RefundMail:
    supplier: SupplierDetails

    def payment_url(self, payment: Payment) -> str:
        return self.supplier.url(ADMIN_PAYMENT_PATH.format(public_id=payment.public_id))


def queue_refund_failed(ctx: Context, mail: RefundMail, refund: Refund) -> None:
    db = ctx.db
    payment = db.get(Payment, refund.payment_id)
    customer = db.get(Customer, payment.customer_id)
    numbers = list(db.scalars(
        select(Invoice.number).join(RefundAllocation, RefundAllocation.invoice_id == Invoice.id)
        .where(RefundAllocation.refund_id == refund.id).order_by(RefundAllocation.id)
    ))
    recipients = db.scalars(select(StaffMember).where(
        StaffMember.status == StaffStatus.ACTIVE,
        or_(StaffMember.role == StaffRole.SUPERVISOR, StaffMember.id == refund.staff_id),
    ).order_by(StaffMember.id)).all()
    for member in recipients:
        email = render_email(
            "refund_failed", supplier=mail.supplier, staff=member, refund=refund, payment=payment,
            customer_name=customer.name, amount=Money(refund.amount_minor, refund.currency),
            invoice_numbers=numbers, url=mail.payment_url(payment),
        )
        enqueue(db, ctx.clock, kind="refund_failed", to=member.email, email=email,
                dedupe_key=f"refund_failed:{refund.public_id}:{member.public_id}")


def queue_chargeback_opened(ctx: Context, mail: RefundMail, case: Chargeback, payment: Payment) -> None:
    db = ctx.db
    customer = db.get(Customer, payment.customer_id)
    supervisors = db.scalars(select(StaffMember).where(
        StaffMember.status == StaffStatus.ACTIVE, StaffMember.role == StaffRole.SUPERVISOR,
    ).order_by(StaffMember.id)).all()
    for member in supervisors:
        email = render_email(
            "chargeback_opened", supplier=mail.supplier, staff=member, case=case, payment=payment,
            customer_name=customer.name, amount=Money(case.amount_minor, case.currency), url=mail.payment_url(payment),
        )
        enqueue(db, ctx.clock, kind="chargeback_opened", to=member.email, email=email,
                dedupe_key=f"chargeback_opened:{case.public_id}:{member.public_id}")
