"""PDF documents (invoice, statement of account) rendered from HTML templates by WeasyPrint.

The HTML comes from ordinary autoescaped Jinja templates under `templates/pdf/`, so customer
data (company names, PO numbers, line descriptions) is escaped exactly as on the web pages.
WeasyPrint may only read `data:` URLs: whatever a document contains, rendering it never
touches the network or the file system.
"""

from __future__ import annotations

import re

from flask import Response, render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.account.queries import invoice_detail
from portal.domain.core.clock import today_in
from portal.domain.customers.models import Customer
from portal.web.context import services

PDF_MIMETYPE = "application/pdf"
_NOT_A_NAME_CHARACTER = re.compile(r"[^A-Za-z0-9_]+")
MAX_FILENAME_STEM = 80


def html_to_pdf(html: str) -> bytes:
    """PDF bytes for a complete HTML document (its `<title>` becomes the PDF's title)."""
    fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False, timeout=1)
    return HTML(string=html, url_fetcher=fetcher).write_pdf()


def render_pdf(template_name: str, **context) -> bytes:
    """Render a `pdf/` template; every document names the supplier in full (address, tax id)
    and links back to the portal, so `supplier` is always in its context."""
    context.setdefault("supplier", services().supplier)
    return html_to_pdf(render_template(template_name, **context))


def safe_filename(stem: str, extension: str = "pdf") -> str:
    """A download name made only of ASCII letters, digits, dash and underscore, plus extension.

    Invoice numbers come from the ERP: any run of other characters (dots, quotes, slashes,
    CR/LF, non-ASCII) becomes one dash, so the name can never break out of the
    Content-Disposition header or name a path.
    """
    cleaned = _NOT_A_NAME_CHARACTER.sub("-", stem).strip("-")[:MAX_FILENAME_STEM].strip("-")
    return f"{cleaned or 'document'}.{extension}"


def pdf_download(pdf: bytes, stem: str) -> Response:
    """A response that makes the browser save the PDF rather than display it inline."""
    response = Response(pdf, mimetype=PDF_MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe_filename(stem)}"'
    response.headers["Content-Length"] = str(len(pdf))
    return response


def invoice_pdf(db, invoice) -> bytes:
    """The invoice's PDF as its customer downloads it (the same template and figures), for an
    email the domain sends (`invoicing.notifications.PoMail.render_pdf`)."""
    customer = db.get(Customer, invoice.customer_id)
    access = Access(customer_id=customer.id, contact_id=0, scope=ACCOUNT)
    detail = invoice_detail(db, access, invoice.public_id, today_in(services().clock, customer.timezone))
    return render_pdf("pdf/invoice.html", detail=detail, customer=customer)
