"""The "we need a PO number / the PO is wrong" follow-up, end to end.

The clerk gives the PO number, or says who in their company issues it
(`report_needs_po`): a NEEDS_PO follow-up goes to the billing queue. When the supplier lets
the portal act alone (`PO_AUTO_REISSUE`) and the clerk gave the number, the invoices are
re-issued with it at once. Otherwise staff apply it from the follow-up (the clerk's number or
one they type, `apply_po`) or decline it with a reason the clerk reads (`decline_po`).

Re-issuing goes through `invoicing.service.reissue_with_po` (the PO written on the invoice,
or a credit note and a replacement invoice), then the new PDF is emailed to the company's AP
contacts (`notifications.queue_reissued_invoices`). Every step is audited; the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from portal.domain.access.policy import Access
from portal.domain.core.context import Context
from portal.domain.core.errors import NotFound
from portal.domain.disputes.models import DisputeInvoice
from portal.domain.disputes.policy import rebill_number_candidates
from portal.domain.followups.models import Followup, FollowupInvoice
from portal.domain.followups.service import add_event, move_followup, raise_followup
from portal.domain.followups.states import ACTIVE, FollowupKind, FollowupStatus
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.notifications import PoMail, queue_po_declined, queue_reissued_invoices
from portal.domain.invoicing.policy import PoRefused, PoRequest, PoSettings, parse_po_number
from portal.domain.invoicing.service import MAX_NUMBER_LENGTH, Reissue, reissue_with_po
from portal.domain.ledger.queries import named_invoice_figures

MAX_INVOICES_PER_PO_REQUEST = 20
MAX_REASON_LENGTH = 1000
REQUEST_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _check_invoice_ids(public_ids: Sequence[str]) -> list[str]:
    ids = list(public_ids)
    if not ids:
        raise PoRefused("Choose the invoice that needs the PO number.")
    if len(ids) > MAX_INVOICES_PER_PO_REQUEST:
        raise PoRefused(f"Give a PO number for at most {MAX_INVOICES_PER_PO_REQUEST} invoices at once.")
    if len(set(ids)) != len(ids):
        raise PoRefused("An invoice appears twice.")
    return ids


def po_form_invoices(db, access: Access, public_ids: Sequence[str]) -> list[Invoice]:
    """The invoices the form is about, each one `access` may see (`NotFound` otherwise)."""
    ids = _check_invoice_ids(public_ids)
    rows = named_invoice_figures(db, access, ids)
    invoices = {invoice.id: invoice for invoice in db.scalars(select(Invoice).where(
        Invoice.id.in_([row.id for row in rows])).execution_options(populate_existing=True))}
    return [invoices[row.id] for row in rows]


def report_needs_po(
    ctx: Context, access: Access, mail: PoMail, settings: PoSettings, *, invoice_public_ids: Sequence[str],
    request: PoRequest, note: str, request_key: str, today: date,
) -> Followup:
    """The clerk's report: a NEEDS_PO follow-up about the named invoices (one per form token).
    With `settings.auto_reissue` and a PO number given, the invoices are re-issued at once
    when each of them can be (nothing processing or disputed); otherwise staff do it."""
    if not REQUEST_KEY_PATTERN.match(request_key or ""):
        raise PoRefused("This form has expired. Reload the page and try again.")
    if len(note or "") > MAX_REASON_LENGTH:
        raise PoRefused(f"The note can be at most {MAX_REASON_LENGTH} characters.")
    invoices = po_form_invoices(ctx.db, access, invoice_public_ids)
    if any(invoice.balance_minor <= 0 for invoice in invoices):
        paid = next(invoice for invoice in invoices if invoice.balance_minor <= 0)
        raise PoRefused(f"Invoice {paid.number} is already paid: it needs no PO now.")
    followup, created = raise_followup(
        ctx, kind=FollowupKind.NEEDS_PO, customer_id=access.customer_id,
        invoice_ids=[invoice.id for invoice in invoices], details=request.as_details(), note=note,
        contact_id=access.contact_id, link_id=access.link_id, request_key=request_key,
    )
    if created and settings.auto_reissue and request.po_number:
        savepoint = ctx.db.begin_nested()
        try:
            _reissue_all(ctx, mail, settings, followup, request.po_number, today=today, staff_id=None)
        except PoRefused as refused:
            savepoint.rollback()
            ctx.db.refresh(followup)
            add_event(ctx, followup, "auto_reissue_refused", text=refused.message)
        else:
            savepoint.commit()
    return followup


def _active_po_followup(ctx: Context, public_id: str) -> Followup:
    followup = ctx.db.scalar(select(Followup).where(Followup.public_id == public_id,
                                                    Followup.kind == FollowupKind.NEEDS_PO.value)
                             .with_for_update().execution_options(populate_existing=True))
    if followup is None:
        raise NotFound("Follow-up not found")
    if followup.status not in ACTIVE:
        raise PoRefused("This follow-up is already closed.")
    return followup


def _ever_disputed(db, invoice_id: int) -> bool:
    return db.scalar(select(DisputeInvoice.id).where(DisputeInvoice.invoice_id == invoice_id).limit(1)) is not None


def _reissue_all(ctx: Context, mail: PoMail, settings: PoSettings, followup: Followup, po_number: str, *,
                 today: date, staff_id: int | None) -> list[Reissue]:
    invoice_ids = list(ctx.db.scalars(select(FollowupInvoice.invoice_id).where(
        FollowupInvoice.followup_id == followup.id).order_by(FollowupInvoice.id)))
    reissues = []
    for invoice_id in invoice_ids:
        number = ctx.db.scalar(select(Invoice.number).where(Invoice.id == invoice_id))
        reissues.append(reissue_with_po(
            ctx, invoice_id=invoice_id, po_number=po_number, rule=settings.due_date_rule, today=today,
            ever_disputed=_ever_disputed(ctx.db, invoice_id), followup_id=followup.id,
            replacement_numbers=rebill_number_candidates(number, MAX_NUMBER_LENGTH),
        ))
    summary = "; ".join(
        f"{reissue.replaced.number} re-issued as {reissue.invoice.number}" if reissue.replaced is not None
        else f"{reissue.invoice.number} now carries the PO" for reissue in reissues)
    move_followup(ctx, followup, FollowupStatus.RESOLVED, outcome="reissued", staff_id=staff_id, for_customer=True,
                  text=f"PO {po_number} applied: {summary}. The new PDF was emailed to your accounts payable team.")
    queue_reissued_invoices(ctx.db, ctx.clock, mail, followup=followup, reissues=reissues, po_number=po_number)
    return reissues


def apply_po(ctx: Context, mail: PoMail, settings: PoSettings, public_id: str, *, po_number: str, staff_id: int,
             today: date) -> list[Reissue]:
    """Staff re-issue the follow-up's invoices with `po_number` (the clerk's, or one they
    typed) and resolve it; the AP contacts get the new PDF."""
    po_number = parse_po_number(po_number)
    followup = _active_po_followup(ctx, public_id)
    return _reissue_all(ctx, mail, settings, followup, po_number, today=today, staff_id=staff_id)


def decline_po(ctx: Context, mail: PoMail, public_id: str, *, reason: str, staff_id: int) -> Followup:
    """Staff close the follow-up without re-issuing; the clerk who reported it reads why."""
    reason = (reason or "").strip()
    if not reason:
        raise PoRefused("Tell the customer why the invoice is not re-issued.")
    if len(reason) > MAX_REASON_LENGTH:
        raise PoRefused(f"The reason can be at most {MAX_REASON_LENGTH} characters.")
    followup = _active_po_followup(ctx, public_id)
    move_followup(ctx, followup, FollowupStatus.DISMISSED, outcome="declined", staff_id=staff_id, text=reason,
                  for_customer=True)
    queue_po_declined(ctx.db, ctx.clock, mail, followup=followup, reason=reason)
    return followup
