"""Staff actions on the follow-ups whose source is an invoice's PO or a contact, shown on the
follow-up's page (the partials `admin/followups/actions_needs_po.html`,
`actions_wrong_contact.html` and `actions_email_bounced.html`).

Billing (REISSUE_INVOICES: analysts, supervisors, admins) re-issues invoices:
- `POST /admin/followups/<public_id>/po/apply`      the clerk's PO, or one typed (`po_number`)
- `POST /admin/followups/<public_id>/po/decline`    with a reason the clerk reads

Collections (MANAGE_CONTACTS: collectors, supervisors, admins) handles contacts:
- `POST /admin/followups/<public_id>/contact/approve`  add the named contact, send them the link
- `POST /admin/followups/<public_id>/contact/reject`   with a reason the clerk reads
- `POST /admin/followups/<public_id>/contacts/<contact_public_id>/returned`     undo "has left"
- `POST /admin/followups/<public_id>/contacts/<contact_public_id>/email-works`  clear a bounce

- `GET  /admin/followups/<public_id>/actions`  (STAFF) the follow-up in short with these
  actions, for working it on its own (the follow-up's page includes the same partials)

Each answers with the follow-up's page (303; this one's actions page where the portal has no
follow-up page), or the refusal's message (400, nothing changed). A contact is looked up only
within the follow-up's company.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.domain.core.clock import today_in
from portal.domain.core.errors import DomainError, NotFound
from portal.domain.customers.contact_followups import approve_contact, reject_contact, resolve_bounce
from portal.domain.customers.models import Contact, Customer
from portal.domain.customers.service import undo_contact_left
from portal.domain.core.money import Money
from portal.domain.followups.models import FollowupInvoice
from portal.domain.followups.queries import followup_by_public_id
from portal.domain.followups.states import STAFF_KIND_LABELS, STATUS_LABELS, FollowupKind, FollowupStatus
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.po_followups import apply_po, decline_po
from portal.domain.staff.policy import Permission
from portal.forms.followup_sources import staff_po_number, staff_reason
from portal.routes.followup_sources import contact_mail, po_mail
from portal.web.context import db, request_context, services

from . import bp
from .auth import staff_actor
from .permissions import requires
from .session import current_staff


def _followup_path(public_id: str) -> str:
    return f"/admin/followups/{public_id}"


def _done(public_id: str):
    path = _followup_path(public_id)
    try:
        current_app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:
        path = url_for("admin.followup_source_actions", public_id=public_id)
    return redirect(path, code=303)


def _refused(public_id: str, refused: DomainError):
    db().rollback()
    return render_template("admin/followups/action_refused.html", message=refused.message,
                           back=_followup_path(public_id)), 400


def _staff_id() -> int:
    return current_staff().staff.id


def _followup(public_id: str):
    found = followup_by_public_id(db(), public_id)
    if found is None:
        raise NotFound("Follow-up not found")
    return found


PARTIALS = {FollowupKind.NEEDS_PO: "admin/followups/actions_needs_po.html",
            FollowupKind.WRONG_CONTACT: "admin/followups/actions_wrong_contact.html",
            FollowupKind.EMAIL_BOUNCED: "admin/followups/actions_email_bounced.html"}


@bp.get("/followups/<public_id>/actions")
@requires(Permission.STAFF)
def followup_source_actions(public_id: str):
    followup = _followup(public_id)
    kind = FollowupKind(followup.kind)
    if kind not in PARTIALS:
        raise NotFound("Follow-up not found")
    invoices = db().scalars(select(Invoice).join(FollowupInvoice, FollowupInvoice.invoice_id == Invoice.id)
                            .where(FollowupInvoice.followup_id == followup.id).order_by(Invoice.number)).all()
    return render_template("admin/followups/source_actions.html", followup=followup, partial=PARTIALS[kind],
                           customer=db().get(Customer, followup.customer_id), kind_label=STAFF_KIND_LABELS[kind],
                           status_label=STATUS_LABELS[FollowupStatus(followup.status)],
                           invoices=[(invoice, Money(invoice.balance_minor, invoice.currency)) for invoice in invoices])


@bp.post("/followups/<public_id>/po/apply")
@requires(Permission.REISSUE_INVOICES)
def followup_po_apply(public_id: str):
    followup = _followup(public_id)
    customer = db().get(Customer, followup.customer_id)
    return _act(public_id, lambda: apply_po(
        request_context(staff_actor()), po_mail(), services().settings.po_settings, public_id,
        po_number=staff_po_number(request.form), staff_id=_staff_id(), today=today_in(services().clock, customer.timezone),
    ))


@bp.post("/followups/<public_id>/po/decline")
@requires(Permission.REISSUE_INVOICES)
def followup_po_decline(public_id: str):
    return _act(public_id, lambda: decline_po(
        request_context(staff_actor()), po_mail(), public_id, reason=staff_reason(request.form), staff_id=_staff_id(),
    ))


@bp.post("/followups/<public_id>/contact/approve")
@requires(Permission.MANAGE_CONTACTS)
def followup_contact_approve(public_id: str):
    return _act(public_id, lambda: approve_contact(
        request_context(staff_actor()), contact_mail(), public_id, staff_id=_staff_id(),
    ))


@bp.post("/followups/<public_id>/contact/reject")
@requires(Permission.MANAGE_CONTACTS)
def followup_contact_reject(public_id: str):
    return _act(public_id, lambda: reject_contact(
        request_context(staff_actor()), contact_mail(), public_id, reason=staff_reason(request.form), staff_id=_staff_id(),
    ))


def _act(public_id: str, step: Callable[[], object]):
    """Run one staff step on the follow-up: done, back to its page; refused, its page says why
    (a follow-up or contact that is not there stays a 404)."""
    try:
        step()
    except NotFound:
        raise
    except DomainError as refused:
        return _refused(public_id, refused)
    return _done(public_id)


def _company_contact(public_id: str, contact_public_id: str) -> Contact:
    followup = _followup(public_id)
    contact = db().scalar(select(Contact).where(Contact.public_id == contact_public_id,
                                                Contact.customer_id == followup.customer_id))
    if contact is None:
        raise NotFound("Contact not found")
    return contact


@bp.post("/followups/<public_id>/contacts/<contact_public_id>/returned")
@requires(Permission.MANAGE_CONTACTS)
def followup_contact_returned(public_id: str, contact_public_id: str):
    undo_contact_left(request_context(staff_actor()), _company_contact(public_id, contact_public_id))
    return _done(public_id)


@bp.post("/followups/<public_id>/contacts/<contact_public_id>/email-works")
@requires(Permission.MANAGE_CONTACTS)
def followup_contact_email_works(public_id: str, contact_public_id: str):
    contact = _company_contact(public_id, contact_public_id)
    return _act(public_id, lambda: resolve_bounce(
        request_context(staff_actor()), public_id, contact, staff_id=_staff_id(),
    ))
