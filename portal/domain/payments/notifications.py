"""What the payments area sends: the receipt, once a payment has settled; and when a bank
account debit fails or is returned, the customer's notice (what the bank said) and the
supervisors' task."""

from __future__ import annotations

import logging

from sqlalchemy import select

from portal.domain.core.context import Context
from portal.domain.core.money import Money
from portal.domain.customers.models import Contact
from portal.domain.notifications.rendering import SupplierDetails, render_email
from portal.domain.notifications.service import enqueue
from portal.domain.payments.models import Payment
from portal.domain.payments.queries import receipt_of
from portal.domain.staff.models import StaffMember
from portal.domain.staff.states import StaffRole, StaffStatus

# The admin page of one payment (`admin.payment`), under PUBLIC_URL.
ADMIN_PAYMENT_PATH = "admin/payments/{public_id}"

log = logging.getLogger(__name__)


def _payer_and_mailboxes(db, payment: Payment) -> tuple[Contact | None, Contact | None, list[str]]:
    """The payer, the contact the email is addressed to (the payer, else the first AP mailbox;
    its language is the email's) and the other mailboxes, for CC."""
    contacts = db.scalars(select(Contact).where(Contact.customer_id == payment.customer_id)).all()
    payer = next((c for c in contacts if c.id == payment.contact_id), None)
    mailboxes = [c for c in contacts if c.is_ap_mailbox]
    recipient = payer if payer is not None else (mailboxes[0] if mailboxes else None)
    to = recipient.email if recipient is not None else None
    return payer, recipient, [m.email for m in mailboxes if m.email != to]


def queue_bank_debit_failed(ctx: Context, supplier: SupplierDetails, payment: Payment, reason: str,
                            *, returned: bool) -> None:
    """Tell the payer (AP mailboxes on CC) that their bank did not pay, in the bank's words made
    plain, and the active supervisors that a debit failed or came back (once each)."""
    db = ctx.db
    payer, recipient, cc = _payer_and_mailboxes(db, payment)
    kind = "returned" if returned else "failed"
    amount = Money(payment.amount_minor, payment.currency)
    numbers = [row.invoice.number for row in receipt_of(db, ctx.clock, payment).summary.lines]
    if recipient is not None:
        email = render_email(
            "bank_debit_failed", supplier=supplier, language=recipient.language, payment=payment, payer=payer,
            reason=reason, returned=returned, amount=amount,
            invoice_numbers=numbers, payment_url=supplier.url(f"payments/{payment.public_id}"),
        )
        enqueue(db, ctx.clock, kind="bank_debit_failed", to=recipient.email, email=email, cc=cc,
                dedupe_key=f"bank_debit_{kind}:{payment.public_id}")
    _raise_followup(ctx, payment, reason, returned=returned)
    supervisors = db.scalars(select(StaffMember).where(
        StaffMember.status == StaffStatus.ACTIVE, StaffMember.role == StaffRole.SUPERVISOR,
    ).order_by(StaffMember.id)).all()
    for member in supervisors:
        email = render_email(
            "bank_debit_staff", supplier=supplier, staff=member, payment=payment, reason=reason, returned=returned, amount=amount,
            code=payment.failure_code, invoice_numbers=numbers,
            url=supplier.url(ADMIN_PAYMENT_PATH.format(public_id=payment.public_id)),
        )
        enqueue(db, ctx.clock, kind="bank_debit_staff", to=member.email, email=email,
                dedupe_key=f"bank_debit_{kind}:{payment.public_id}:{member.public_id}")


def _raise_followup(ctx: Context, payment: Payment, reason: str, *, returned: bool) -> None:
    """A BANK_DEBIT_FAILED follow-up in the cash-application queue, once per payment (a debit
    that failed and one returned later are the same work: get the money another way)."""
    # Imported here: follow-ups lock the customer through this area's service, which imports
    # this module, so a top-level import would be circular.
    from portal.domain.followups.service import raise_followup
    from portal.domain.followups.states import FollowupKind

    raise_followup(
        ctx, kind=FollowupKind.BANK_DEBIT_FAILED, customer_id=payment.customer_id,
        invoice_ids=sorted({allocation.invoice_id for allocation in payment.allocations}),
        details={"payment": payment.public_id, "reference": payment.reference, "amount_minor": payment.amount_minor,
                 "currency": payment.currency, "code": payment.failure_code, "returned": returned,
                 "reason": reason[:300]},
        dedupe_key=f"bank_debit_failed:{payment.public_id}",
    )


def queue_receipt(ctx: Context, supplier: SupplierDetails, payment: Payment) -> None:
    """The receipt email to the paying contact, the company's AP mailboxes on CC (once), in the
    language of the contact it is addressed to."""
    db = ctx.db
    payer, recipient, cc = _payer_and_mailboxes(db, payment)
    if recipient is None:
        log.warning("payment %s: no contact to send the receipt to", payment.public_id)
        return
    receipt = receipt_of(db, ctx.clock, payment, recipient.language)
    # Plain portal addresses: a recipient without a session signs in first and lands there
    # (like every link in our emails, these grant nothing by themselves).
    email = render_email(
        "payment_receipt", supplier=supplier, language=recipient.language, receipt=receipt, payment=receipt.summary,
        customer=receipt.customer, payer=payer,
        payment_url=supplier.url(f"payments/{payment.public_id}"),
        receipt_pdf_url=supplier.url(f"payments/{payment.public_id}/receipt.pdf"),
    )
    enqueue(db, ctx.clock, kind="payment_receipt", to=recipient.email, email=email, cc=cc,
            dedupe_key=f"payment_receipt:{payment.public_id}")
