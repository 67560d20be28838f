"""The customer's account: overview, invoice list, one invoice, and the PDF documents.

Every view reads only: parse the query arguments → the signed-in access (checked for the whole
blueprint by `require_customer`) → one domain query → render. Another company's invoice, or an
invoice outside a forwarded link's scope, is a 404 like one that does not exist.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal
from flask import Blueprint, g, render_template, request

from portal.domain.account.queries import (
    AGING_BUCKETS, PER_PAGE_CHOICES, account_overview, invoice_detail, list_invoices,
    statement_of_account,
)
from portal.domain.core.money import exponent
from portal.domain.payments.policy import MAX_INVOICES_PER_PAYMENT
from portal.forms.account import invoice_list_query
from portal.web.context import db
from portal.web.customer_session import customer_today, require_customer, require_whole_account
from portal.web.documents import pdf_download, render_pdf
from portal.web.invoice_rows import invoice_rows

bp = Blueprint("account", __name__)
bp.before_request(require_customer)
bp.add_app_template_global(invoice_rows)


@bp.app_template_filter("quantity")
def format_quantity(value: Decimal) -> str:
    """A line quantity without trailing zeros: 2, 2.5, 1,000 (Numeric(14, 3) in the database)."""
    return format_decimal(value, format="#,##0.###", locale="en_US")


@bp.get("/account")
@require_whole_account
def overview():
    today = customer_today()
    summary = account_overview(db(), g.access, today)
    return render_template(
        "account/overview.html", overview=summary, today=today, aging_buckets=AGING_BUCKETS,
        max_invoices=MAX_INVOICES_PER_PAYMENT, reported=summary.notes.reported,
    )


@bp.get("/invoices")
def invoices():
    query = invoice_list_query(request.args)
    page = list_invoices(db(), g.access, customer_today(), query)
    return render_template(
        "account/invoices.html", page=page, query=query, promised=page.notes.promised, reported=page.notes.reported,
        per_page_choices=PER_PAGE_CHOICES, exponents={code: exponent(code) for code in page.currencies},
    )


@bp.get("/invoices/<public_id>")
def invoice(public_id: str):
    detail = _detail(public_id)
    return render_template("account/invoice.html", detail=detail, promised_for=detail.notes.promised.get(detail.invoice.id),
                           payment_reported=detail.invoice.id in detail.notes.reported)


@bp.get("/invoices/<public_id>/pdf")
def invoice_pdf(public_id: str):
    detail = _detail(public_id)
    pdf = render_pdf("pdf/invoice.html", detail=detail, customer=g.customer)
    return pdf_download(pdf, f"invoice-{detail.invoice.number}")


@bp.get("/account/statement.pdf")
@require_whole_account
def statement_pdf():
    statement = statement_of_account(db(), g.access, customer_today())
    pdf = render_pdf(
        "pdf/statement.html", statement=statement, customer=g.customer, aging_buckets=AGING_BUCKETS,
    )
    return pdf_download(pdf, f"statement-{g.customer.account_number}-{statement.today.isoformat()}")


def _detail(public_id: str):
    return invoice_detail(db(), g.access, public_id, customer_today())
