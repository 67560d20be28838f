"""The clerk's forms for two reasons an invoice is not paid: "we need a PO number / the PO is
wrong" and "I'm not the right person" (the "There's a problem" menu and the reminder emails
link to them with `?invoices=<public ids>`).

parse (forms) → authorize (`require_customer` for the whole blueprint; the invoices are looked
up within the session's `Access`, so a forwarded invoice link's holder reports only on its
invoices and another company's id is a 404) → one domain call → respond. A POST answers with
the outcome page; the form's token makes a double submit find the first report.

URLs (`followups.states.REPORT_PATH` with the kind's slug):
- `followup_sources.po_form`       GET  /problems/new/po?invoices=...
- `followup_sources.po_report`     POST /problems/new/po
- `followup_sources.contact_form`  GET  /problems/new/contact?invoices=...
- `followup_sources.contact_report` POST /problems/new/contact
"""

from __future__ import annotations

import secrets

from flask import Blueprint, g, render_template, request

from portal.domain.core.clock import today_in
from portal.domain.core.money import Money
from portal.domain.customers.contact_followups import (
    ContactMail, contact_form_invoices, report_wrong_contact,
)
from portal.domain.customers.policy import ContactRefused
from portal.domain.followups.states import KIND_SLUGS, REPORT_PATH, FollowupKind
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.notifications import PoMail
from portal.domain.invoicing.po_followups import po_form_invoices, report_needs_po
from portal.domain.invoicing.policy import PoRefused
from portal.forms import InvalidInput
from portal.forms.fields import shown_again
from portal.forms.followup_sources import contact_report_form, named_invoice_ids, po_report_form
from portal.web.context import actor_for_contact, db, request_context, services
from portal.web.customer_session import require_customer
from portal.web.documents import invoice_pdf
from portal.web.i18n import refusal_message

bp = Blueprint("followup_sources", __name__)
bp.before_request(require_customer)

PO_PATH = "/" + REPORT_PATH.format(slug=KIND_SLUGS[FollowupKind.NEEDS_PO])
CONTACT_PATH = "/" + REPORT_PATH.format(slug=KIND_SLUGS[FollowupKind.WRONG_CONTACT])
SHOWN_AGAIN = {"po_number": 60, "issuer_name": 200, "issuer_email": 254, "name": 200, "email": 254, "note": 1000}


def _context():
    return request_context(actor_for_contact(g.contact.public_id))


def po_mail() -> PoMail:
    return PoMail(supplier=services().supplier, signer=services().link_signer, render_pdf=invoice_pdf)


def contact_mail() -> ContactMail:
    return ContactMail(supplier=services().supplier, signer=services().link_signer)


def _values(form) -> dict[str, str]:
    return {name: shown_again(form.get(name, "") if isinstance(form.get(name, ""), str) else "", limit)
            for name, limit in SHOWN_AGAIN.items()}


def _items(invoices) -> list[tuple[Invoice, Money]]:
    return [(invoice, Money(invoice.balance_minor, invoice.currency)) for invoice in invoices]


def _request_key(values) -> str:
    key = values.get("request_key", "") if values is not None else ""
    return shown_again(key, 64) if isinstance(key, str) and key else secrets.token_urlsafe(24)


def _po_page(public_ids: list[str], *, error: str = "", values=None, status: int = 200):
    invoices = po_form_invoices(db(), g.access, public_ids)
    return render_template("followup_sources/po.html", invoices=invoices, items=_items(invoices), error=error,
                           values=_values(values or {}), request_key=_request_key(values)), status


def _contact_page(public_ids: list[str], *, error: str = "", values=None, status: int = 200):
    invoices = contact_form_invoices(db(), g.access, public_ids)
    return render_template("followup_sources/contact.html", invoices=invoices, items=_items(invoices), error=error,
                           values=_values(values or {}), left=(values or {}).get("i_left") == "yes",
                           request_key=_request_key(values)), status


@bp.get(PO_PATH)
def po_form():
    return _po_page(named_invoice_ids(request.args))


@bp.post(PO_PATH)
def po_report():
    try:
        given = po_report_form(request.form)
        followup = report_needs_po(
            _context(), g.access, po_mail(), services().settings.po_settings,
            invoice_public_ids=given.invoice_public_ids, request=given.request, note=given.note,
            request_key=given.request_key, today=today_in(services().clock, g.customer.timezone),
        )
    except (PoRefused, InvalidInput) as error:
        db().rollback()
        return _po_page(named_invoice_ids(request.form), error=refusal_message(error), values=request.form, status=400)
    invoices = po_form_invoices(db(), g.access, named_invoice_ids(request.form))
    return render_template("followup_sources/po_sent.html", followup=followup, items=_items(invoices),
                           details=followup.details)


@bp.get(CONTACT_PATH)
def contact_form():
    return _contact_page(named_invoice_ids(request.args))


@bp.post(CONTACT_PATH)
def contact_report():
    try:
        given = contact_report_form(request.form)
        report = report_wrong_contact(
            _context(), g.access, contact_mail(), invoice_public_ids=given.invoice_public_ids, named=given.named,
            reporter_left=given.reporter_left, note=given.note, request_key=given.request_key,
        )
    except (ContactRefused, InvalidInput) as error:
        db().rollback()
        return _contact_page(named_invoice_ids(request.form), error=refusal_message(error), values=request.form,
                             status=400)
    return render_template("followup_sources/contact_sent.html", report=report, details=report.followup.details)
