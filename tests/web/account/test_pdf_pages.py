"""What the PDFs carry for an AP clerk to file, read back from the served bytes (pypdf): the
supplier's address and tax id, a "pay online" link on an open invoice, and a statement that
never ends on a page holding only the footer."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.support.documents import documents_rendered, pdf_pages, text_past_the_right_margin
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice, sign_in,
)

FOOTER = re.compile(r"Questions\? Write to \S+\. Generated [^.]+\.")
PAGE_NUMBER = re.compile(r"Page \d+ of \d+")
INVOICE_NUMBER = re.compile(r"\bST-\d+-\d{3}\b")


def _statement(app, db, clock, invoices: int):
    """A signed-in client of a customer with `invoices` open invoices, and those invoices."""
    customer = make_customer(db, clock)
    contact = make_contact(db, clock, customer)
    made = [make_invoice(db, clock, customer, total_minor=10_000 + n, number=f"ST-{customer.id}-{n:03d}")
            for n in range(invoices)]
    client = app.test_client()
    sign_in(client, contact, clock)
    return client, made


def _pages(client) -> list[str]:
    response = client.get("/account/statement.pdf")
    assert response.status_code == 200
    return pdf_pages(response.data)


def _beyond_the_footer(page: str) -> str:
    return PAGE_NUMBER.sub("", FOOTER.sub("", page)).strip()


def test_a_statement_never_ends_on_a_page_that_holds_only_the_footer(app, db, clock):
    client, invoices = _statement(app, db, clock, 40)
    # How many invoice rows fill the first page: the count to test around.
    per_first_page = len(INVOICE_NUMBER.findall(_pages(client)[0]))
    assert 10 < per_first_page < 35

    # From a page that just holds the rows, the totals and the aging (the old footer paragraph
    # then fell onto a page of its own) to rows spilling onto the next page; invoices leave the
    # statement one by one as they are credited in full.
    open_invoices = list(invoices)
    for count in range(per_first_page + 1, per_first_page - 6, -1):
        while len(open_invoices) > count:
            invoice = open_invoices.pop()
            add_invoice_entry(db, clock, invoice, "credit_note", -invoice.total_minor, reference="CN")
        pages = _pages(client)
        for number, page in enumerate(pages, start=1):
            assert FOOTER.search(page), f"{count} invoices: page {number} has no footer"
            assert f"Page {number} of {len(pages)}" in page
        last = _beyond_the_footer(pages[-1])
        assert last, f"{count} invoices: the last of {len(pages)} pages holds only the footer"
        if len(pages) > 1:
            assert INVOICE_NUMBER.search(last) or "Total open" in last or "Overdue" in last.title(), last
        assert sum(len(INVOICE_NUMBER.findall(page)) for page in pages) == count


def test_an_open_invoice_pdf_names_the_supplier_in_full_and_links_to_paying_online(app, db, clock, settings):
    customer = make_customer(db, clock)
    contact = make_contact(db, clock, customer)
    invoice = make_invoice(db, clock, customer, total_minor=42_000)
    paid = make_invoice(db, clock, customer, total_minor=1_000)
    add_invoice_entry(db, clock, paid, "credit_note", -1_000, reference="CN-1")
    client = app.test_client()
    sign_in(client, contact, clock)

    [page] = pdf_pages(client.get(f"/invoices/{invoice.public_id}/pdf").data)
    for line in (*settings.supplier_address, settings.supplier_tax_id, settings.supplier_name):
        assert line in page, line
    pay_url = f"{settings.public_url}/pay?invoice={invoice.public_id}"
    assert f"Pay online by card: {pay_url}" in page

    [paid_page] = pdf_pages(client.get(f"/invoices/{paid.public_id}/pdf").data)
    assert "Pay online" not in paid_page and "PAID" in paid_page
    assert "CN-1" in paid_page  # a credit note keeps its own reference


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_statement_an_invoice_and_a_receipt_fit_the_page_in_every_language(app, db, clock, language):
    """The statement, an invoice and a receipt, with wide figures. The French statement's
    tables ran past the right edge: "1 319,00 $US" and "10 sept. 2026" are wider than
    "$1,319.00" and "10 Sep 2026", and the last column was cut off."""
    customer = make_customer(db, clock, name="Fromagerie Dupont et Fils")
    contact = make_contact(db, clock, customer)
    contact.language = None if language == "en" else language
    today = clock.now().date()
    invoices = [make_invoice(db, clock, customer, number=f"INV-2026-{n:05d}-R1", po_number="ACME-PO-8327",
                             total_minor=total, issue_date=today - timedelta(days=days + 30),
                             due_date=today - timedelta(days=days))
                for n, (total, days) in enumerate([(131_900, 55), (12_345_678, 120), (99_999_999, 8)])]
    add_invoice_entry(db, clock, invoices[0], "credit_note", -65_950, reference="CN-2026-0042")
    payment = make_allocated_payment(db, clock, customer, [(invoices[0], 65_950), (invoices[1], 12_000_000)],
                                     status="succeeded")
    payment.contact_id, payment.settled_at, payment.po_number = contact.id, clock.now(), "REMIT-2026-000771-EAST"
    payment.card_brand, payment.card_last4 = "mastercard", "4444"
    for invoice, amount in ((invoices[0], 65_950), (invoices[1], 12_000_000)):
        add_invoice_entry(db, clock, invoice, "payment", -amount, payment_id=payment.id)
    client = app.test_client()
    sign_in(client, contact, clock)
    for path in ("/account/statement.pdf", f"/invoices/{invoices[1].public_id}/pdf",
                 f"/payments/{payment.public_id}/receipt.pdf"):
        with documents_rendered(app) as documents:
            assert client.get(path).status_code == 200, path
        [document] = documents
        assert text_past_the_right_margin(document) == [], path
