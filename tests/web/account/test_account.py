"""The account pages as a signed-in clerk sees them: overview, invoice list, invoice page."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from types import SimpleNamespace

import pytest

from portal.domain.payments.policy import ach_expected_by
from flask import url_for

from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice,
    make_invoice_link, sign_in,
)


@pytest.fixture
def account(db, clock):
    """A customer with two contacts, and another company with an invoice of its own."""
    customer = make_customer(db, clock, name="Acme Manufacturing")
    contact = make_contact(db, clock, customer)
    other = make_customer(db, clock, name="Other Co")
    theirs = make_invoice(db, clock, other, number="THEIRS-1")
    return SimpleNamespace(customer=customer, contact=contact, theirs=theirs)


@pytest.fixture
def signed_in(client, clock, account):
    sign_in(client, account.contact, clock)
    return client


def page_text(response) -> str:
    return unescape(response.get_data(as_text=True))


def rows(html: str) -> dict[str, str]:
    """Table rows of the invoice list keyed by invoice number."""
    found = {}
    for row in re.findall(r"<tr class=\"status-[a-z]+\">(.*?)</tr>", html, re.S):
        number = re.search(r">([A-Z]+-[A-Z0-9-]+)</a>", row)
        if number:
            found[number.group(1)] = row
    return found


def pay_checkboxes(html: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="invoice" value="([^"]+)"', html)


@pytest.mark.parametrize("path", ["/account", "/invoices", "/invoices/abc", "/invoices/abc/pdf", "/account/statement.pdf"])
def test_every_account_page_needs_a_signed_in_customer(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/invoices" not in response.headers["Location"].split("?")[0]


def test_overview_shows_open_and_overdue_per_currency_with_aging(signed_in, account, db, clock):
    customer = account.customer
    today = clock.now().date()
    make_invoice(db, clock, customer, currency="USD", total_minor=123_456,
                 issue_date=today - timedelta(days=80), due_date=today - timedelta(days=45))
    make_invoice(db, clock, customer, currency="EUR", total_minor=50_000)
    make_invoice(db, clock, customer, currency="GBP", total_minor=7_550,
                 issue_date=today - timedelta(days=100), due_date=today - timedelta(days=95))
    make_invoice(db, clock, customer, currency="JPY", total_minor=1_250_000)

    response = signed_in.get("/account")

    assert response.status_code == 200
    text = page_text(response)
    for amount in ("$1,234.56", "€500.00", "£75.50", "¥1,250,000"):
        assert amount in text
    assert "¥1,250,000.00" not in text  # JPY has no minor unit
    assert "31–60 days" in text and "90+ days" in text
    assert "Most overdue" in text and "95 days overdue" in text
    assert "THEIRS-1" not in text


def test_overview_of_a_paid_up_account_says_so(signed_in, account, db, clock):
    customer = account.customer
    invoice = make_invoice(db, clock, customer, total_minor=1_000)
    add_invoice_entry(db, clock, invoice, "payment", -1_000)
    text = page_text(signed_in.get("/account"))
    assert "Nothing is owed right now" in text


def test_list_shows_status_badges_balances_and_only_payable_invoices_are_selectable(signed_in, account, db, clock):
    customer = account.customer
    today = clock.now().date()
    open_invoice = make_invoice(db, clock, customer, number="INV-OPEN", total_minor=10_000)
    paid = make_invoice(db, clock, customer, number="INV-PAID", total_minor=5_000)
    add_invoice_entry(db, clock, paid, "payment", -5_000)
    partial = make_invoice(db, clock, customer, number="INV-PART", total_minor=8_000,
                           issue_date=today - timedelta(days=40), due_date=today - timedelta(days=3))
    add_invoice_entry(db, clock, partial, "payment", -3_000)
    processing = make_invoice(db, clock, customer, number="INV-PROC", total_minor=4_000)
    make_allocated_payment(db, clock, customer, [(processing, 4_000)], status="processing", method="us_bank_account")

    response = signed_in.get("/invoices")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    listed = rows(html)
    assert set(listed) == {"INV-OPEN", "INV-PAID", "INV-PART", "INV-PROC"}
    assert "badge-paid" in listed["INV-PAID"] and ">Paid<" in listed["INV-PAID"]
    assert "badge-processing" in listed["INV-PROC"] and ">Processing<" in listed["INV-PROC"]
    assert "badge-overdue" in listed["INV-PART"] and "badge-partial" in listed["INV-PART"]
    assert "$50.00" in listed["INV-PART"] and "3 days overdue" in listed["INV-PART"]
    assert "badge-open" in listed["INV-OPEN"]
    assert sorted(pay_checkboxes(html)) == sorted([open_invoice.public_id, partial.public_id])
    assert 'data-payable-minor="5000"' in listed["INV-PART"] and 'data-currency="USD"' in listed["INV-PART"]


def test_list_is_a_get_form_to_the_pay_page(signed_in, account, db, clock, app):
    customer = account.customer
    invoice = make_invoice(db, clock, customer, number="INV-1")
    html = signed_in.get("/invoices").get_data(as_text=True)
    form = re.search(r'<form id="pay-form"[^>]*>', html).group(0)
    assert 'method="get"' in form
    with app.test_request_context():
        assert f'action="{url_for("payments.pay")}"' in form
    assert pay_checkboxes(html) == [invoice.public_id]
    assert "js/invoice_selection.js" in html


def test_list_filters_searches_and_pages_through_query_arguments(signed_in, account, db, clock):
    customer = account.customer
    today = clock.now().date()
    for n in range(27):
        make_invoice(db, clock, customer, number=f"INV-{n:03d}", po_number=f"PO-{n % 3}",
                     issue_date=today - timedelta(days=60), due_date=today - timedelta(days=n))

    first = page_text(signed_in.get("/invoices?sort=number"))
    second = page_text(signed_in.get("/invoices?sort=number&page=2"))
    overdue = page_text(signed_in.get("/invoices?status=overdue&per_page=50"))
    searched = page_text(signed_in.get("/invoices?q=po-2&per_page=50"))

    assert "INV-000" in first and "INV-025" not in first and "1–25 of 27" in first
    assert "INV-025" in second and "INV-026" in second and "26–27 of 27" in second
    assert "Page 2 of 2" in second and 'rel="prev"' in second
    assert len(rows(overdue)) == 26  # INV-000 is due today
    assert sorted(rows(searched)) == [f"INV-{n:03d}" for n in range(2, 27, 3)]


def test_empty_states_explain_what_is_missing(signed_in, account, db, clock):
    customer = account.customer
    assert "No invoices yet" in page_text(signed_in.get("/invoices"))
    make_invoice(db, clock, customer, number="INV-9")
    assert "Nothing is overdue" in page_text(signed_in.get("/invoices?status=overdue"))
    assert "No invoices match “ZZZ”" in page_text(signed_in.get("/invoices?q=ZZZ"))


def test_search_text_is_escaped(signed_in):
    html = signed_in.get("/invoices?q=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html


def test_invoice_page_shows_lines_terms_po_payments_and_balance(signed_in, account, db, clock):
    customer = account.customer
    invoice = make_invoice(db, clock, customer, number="INV-77", po_number="PO-4711",
                           lines=[("Steel brackets", 12, 1_250), ("Delivery", 1, 3_000)])
    add_invoice_entry(db, clock, invoice, "credit_note", -1_250, reference="CN-12")
    add_invoice_entry(db, clock, invoice, "payment", -5_000, reference="ch_abc")

    response = signed_in.get(f"/invoices/{invoice.public_id}")

    assert response.status_code == 200
    text = page_text(response)
    for expected in ("INV-77", "PO-4711", "Net 30", "Steel brackets", "$12.50", "$150.00", "$180.00",
                     "Credit note", "CN-12", "Payment received", "ch_abc", "-$50.00", "$117.50",
                     "Partly paid", "Download PDF"):
        assert expected in text, expected
    assert f"/invoices/{invoice.public_id}/pdf" in text
    assert f'href="/pay?invoice={invoice.public_id}">Pay $117.50</a>' in text


def test_invoice_page_of_an_invoice_in_flight_offers_no_payment(signed_in, account, db, clock):
    customer = account.customer
    invoice = make_invoice(db, clock, customer, total_minor=9_900)
    ach = make_allocated_payment(db, clock, customer, [(invoice, 9_900)], status="processing", method="us_bank_account")
    text = page_text(signed_in.get(f"/invoices/{invoice.public_id}"))
    expected_by = ach_expected_by(ach.created_at.date()).strftime("%d %b %Y")
    assert f"Processing, expected by {expected_by}: $99.00 by bank transfer (ACH)" in text
    assert "Pay $" not in text
    assert "badge-processing" in text


@pytest.mark.parametrize("suffix", ["", "/pdf"])
def test_another_companys_invoice_is_not_found(signed_in, account, suffix):
    assert signed_in.get(f"/invoices/{account.theirs.public_id}{suffix}").status_code == 404
    assert signed_in.get(f"/invoices/unknown{suffix}").status_code == 404


def test_an_invoice_link_session_sees_only_the_links_invoices(client, db, clock, account):
    customer, contact = account.customer, account.contact
    linked = make_invoice(db, clock, customer, number="INV-LINKED")
    other = make_invoice(db, clock, customer, number="INV-NOTLINKED")
    sign_in(client, contact, clock, link=make_invoice_link(db, clock, contact, [linked]))

    listed = client.get("/invoices")
    assert listed.status_code == 200
    assert set(rows(listed.get_data(as_text=True))) == {"INV-LINKED"}
    assert client.get(f"/invoices/{linked.public_id}").status_code == 200
    assert client.get(f"/invoices/{other.public_id}").status_code == 404
    assert client.get(f"/invoices/{other.public_id}/pdf").status_code == 404
    assert client.get("/account").status_code == 403
    assert client.get("/account/statement.pdf").status_code == 403


@pytest.mark.parametrize("path", ["/account", "/invoices", "/invoices?status=paid"])
def test_pages_have_no_inline_scripts_or_styles(signed_in, account, db, clock, path):
    customer = account.customer
    make_invoice(db, clock, customer)
    html = signed_in.get(path).get_data(as_text=True)
    assert " style=" not in html and "<style" not in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert " src=" in tag
    assert re.search(r"<script[^>]*>(?!</script>)", html) is None  # nothing between the tags
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers


def test_invoice_page_has_no_inline_scripts_or_styles(signed_in, account, db, clock):
    invoice = make_invoice(db, clock, account.customer)
    html = signed_in.get(f"/invoices/{invoice.public_id}").get_data(as_text=True)
    assert " style=" not in html and "<style" not in html and "<script>" not in html

