"""Invoice and statement PDFs: rendered by WeasyPrint from the HTML templates, downloaded as
attachments with a safe file name.

WeasyPrint writes text as subset-font glyph ids, so the words on the page cannot be grepped
from the raw bytes. The tests here check three things: the bytes are a PDF whose document title
(in the inflated object streams) names the invoice or statement; the HTML that was handed to
WeasyPrint holds the figures; and the download headers. The text as printed is read back with
pypdf in test_pdf_pages.py and tests/web/payments/test_payment_records.py.
"""

from __future__ import annotations

import re
import zlib
from datetime import timedelta
from types import SimpleNamespace

import pytest

from portal.web import documents
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice, sign_in,
)


def inflated(pdf: bytes) -> bytes:
    """The PDF with every Flate stream decompressed after it, so metadata can be searched."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


@pytest.fixture
def rendered_html(monkeypatch):
    """Every HTML document handed to WeasyPrint during the test, in order."""
    seen: list[str] = []
    real = documents.html_to_pdf

    def capture(html: str) -> bytes:
        seen.append(html)
        return real(html)

    monkeypatch.setattr(documents, "html_to_pdf", capture)
    return seen


@pytest.fixture
def account(db, clock, client):
    customer = make_customer(db, clock, name="Acme & Sons")
    contact = make_contact(db, clock, customer)
    sign_in(client, contact, clock)
    return SimpleNamespace(customer=customer, contact=contact)


def test_invoice_pdf_is_an_attachment_with_the_invoice_in_it(client, db, clock, account, rendered_html):
    invoice = make_invoice(db, clock, account.customer, number="INV-2026-0042", po_number="PO-88",
                           lines=[("Hydraulic pump", 2, 45_000), ("Freight", 1, 7_500)])
    add_invoice_entry(db, clock, invoice, "payment", -20_000, reference="ch_pay_1")

    response = client.get(f"/invoices/{invoice.public_id}/pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="invoice-INV-2026-0042.pdf"'
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert int(response.headers["Content-Length"]) == len(pdf)
    assert b"/Title (Invoice INV-2026-0042)" in inflated(pdf)
    html = rendered_html[0]
    for expected in ("Northwind Supplies", "Acme &amp; Sons", "Hydraulic pump", "PO-88", "Net 30",
                     "$975.00", "Payments and credits applied", "ch_pay_1", "-$200.00", "$775.00"):
        assert expected in html, expected


def test_paid_invoice_pdf_carries_a_paid_stamp(client, db, clock, account, rendered_html):
    invoice = make_invoice(db, clock, account.customer, total_minor=1_000)
    add_invoice_entry(db, clock, invoice, "payment", -1_000)
    assert client.get(f"/invoices/{invoice.public_id}/pdf").status_code == 200
    assert '<span class="stamp">PAID</span>' in rendered_html[0]


def test_invoice_numbers_from_the_erp_cannot_break_the_download_header(client, db, clock, account):
    invoice = make_invoice(db, clock, account.customer, number='../"evil"\r\nX: 1/ü')
    response = client.get(f"/invoices/{invoice.public_id}/pdf")
    disposition = response.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="invoice-evil-X-1.pdf"'
    assert "X" not in {key for key, _ in response.headers if key != "Content-Disposition"}


@pytest.mark.parametrize(
    "stem, expected",
    [("invoice-INV-1", "invoice-INV-1.pdf"), ("a/b\\c", "a-b-c.pdf"), ("...", "document.pdf"),
     ("x" * 200, "x" * 80 + ".pdf"), ("ﬁle ünïcode", "le-n-code.pdf"), ("INV--7.b", "INV-7-b.pdf")],
)
def test_safe_filename(stem, expected):
    assert documents.safe_filename(stem) == expected


def test_statement_pdf_lists_open_invoices_with_aging_per_currency(client, db, clock, account, rendered_html):
    today = clock.now().date()
    make_invoice(db, clock, account.customer, number="S-OLD", total_minor=30_000,
                 issue_date=today - timedelta(days=130), due_date=today - timedelta(days=100))
    make_invoice(db, clock, account.customer, number="S-NEW", total_minor=12_000)
    make_invoice(db, clock, account.customer, number="S-YEN", currency="JPY", total_minor=80_000)
    processing = make_invoice(db, clock, account.customer, number="S-PROC", total_minor=5_000)
    make_allocated_payment(db, clock, account.customer, [(processing, 5_000)], status="processing")
    paid = make_invoice(db, clock, account.customer, number="S-PAID", total_minor=1_000)
    add_invoice_entry(db, clock, paid, "payment", -1_000)

    response = client.get("/account/statement.pdf")

    assert response.status_code == 200
    number = account.customer.account_number
    assert response.headers["Content-Disposition"] == f'attachment; filename="statement-{number}-2026-06-15.pdf"'
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF-")
    assert f"/Title (Statement of account {number} 2026-06-15)".encode() in inflated(pdf)
    html = rendered_html[0]
    for expected in ("Statement of account", "Acme &amp; Sons", "Open invoices in JPY", "Open invoices in USD",
                     "S-OLD", "S-NEW", "S-PROC", "¥80,000", "$470.00", "90+ days", "payments processing"):
        assert expected in html, expected
    assert "S-PAID" not in html


def test_statement_of_a_paid_up_account_says_nothing_is_owed(client, account, rendered_html):
    response = client.get("/account/statement.pdf")
    assert response.status_code == 200
    assert "No open invoices." in rendered_html[0]


def test_pdf_rendering_opens_no_url(monkeypatch):
    """A stylesheet or image URL in a document is refused before anything is opened."""
    opened = []
    monkeypatch.setattr(documents.URLFetcher, "open", lambda self, *args, **kwargs: opened.append(args))
    html = ('<html><head><title>t</title><link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head>'
            '<body><img src="file:///etc/hostname"><img src="http://127.0.0.1:9/pixel.png"></body></html>')

    pdf = documents.html_to_pdf(html)

    assert pdf.startswith(b"%PDF-")
    assert opened == []
