"""Two clicks from the email to the card form, on the server side: what the confirm page says
it asks for, the overview's "Pay all overdue" per currency, and the pay page those buttons
open (`/pay?select=overdue|due&currency=...`) with exactly those invoices at their full
balance, formatted as on the page. Also the invoice page's "Problem with this invoice?"."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.domain.access.service import issue_invoice_link, issue_sign_in_link
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice, sign_in,
)
from tests.support.fixtures.links import path_of

PAY_ALL = re.compile(r'<a class="button pay-all" href="([^"]+)">([^<]+)</a>')
HIDDEN_INVOICE = re.compile(r'<input type="hidden" name="invoice" value="([^"]+)">')


@pytest.fixture
def acme(db, clock):
    """Acme: two overdue USD invoices (one partly credited), one USD not yet due, one EUR not
    yet due, one paid USD invoice."""
    today = clock.now().date()
    customer = make_customer(db, clock, name="Acme Corp")
    contact = make_contact(db, clock, customer, email="ap@acme.example")

    def invoice(total, days, currency="USD", **kwargs):
        due = today + timedelta(days=days)
        return make_invoice(db, clock, customer, total_minor=total, currency=currency, due_date=due,
                            issue_date=due - timedelta(days=30), **kwargs)

    overdue = [invoice(300_000, -40, po_number="PO-1"), invoice(250_000, -8)]
    add_invoice_entry(db, clock, overdue[1], "credit_note", -9_705)  # 2,402.95 left
    not_due = invoice(99_000, 10)
    euro = invoice(1_234_567, 5, currency="EUR")
    paid = invoice(5_000, -60)
    add_invoice_entry(db, clock, paid, "credit_note", -5_000)
    return customer, contact, overdue, not_due, euro, paid


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.get_data(as_text=True))


def _buttons(html: str) -> dict[str, str]:
    return {label.strip(): href for href, label in PAY_ALL.findall(html)}


def test_confirm_page_says_who_asks_for_what(client, db, clock, link_signer, acme):
    customer, contact, overdue, not_due, euro, paid = acme
    sign_in_link = issue_sign_in_link(db, clock, link_signer, contact=contact)
    invoice_link = issue_invoice_link(db, clock, link_signer, contact=contact, invoices=[not_due])
    db.commit()

    html = " ".join(_text(client.get(path_of(sign_in_link.url))).split())
    assert "<h1>Northwind Supplies: 1 open invoice, €12,345.67; 2 overdue invoices, $5,402.95</h1>" in html
    assert ">View and pay</button>" in html

    html = " ".join(_text(client.get(path_of(invoice_link.url))).split())
    assert "<h1>Northwind Supplies: 1 open invoice, $990.00</h1>" in html
    assert ">View and pay</button>" in html


def test_overview_offers_pay_all_overdue_per_currency_and_pay_all_due_without_overdue(client, db, clock, acme):
    customer, contact, overdue, not_due, euro, paid = acme
    sign_in(client, contact, clock)
    buttons = _buttons(_text(client.get("/account")))
    assert buttons == {
        "Pay all due (€12,345.67)": "/pay?select=due&currency=EUR",
        "Pay all overdue ($5,402.95)": "/pay?select=overdue&currency=USD",
    }


def test_overview_has_no_pay_button_when_nothing_is_owed(client, db, clock):
    customer = make_customer(db, clock)
    contact = make_contact(db, clock, customer)
    invoice = make_invoice(db, clock, customer, total_minor=5_000)
    add_invoice_entry(db, clock, invoice, "credit_note", -5_000)
    sign_in(client, contact, clock)
    html = _text(client.get("/account"))
    assert _buttons(html) == {} and "Pay all" not in html


def test_overview_leaves_the_amount_out_while_money_of_that_currency_is_on_its_way(client, db, clock, acme):
    """The maintained sums do not say which invoices a payment in flight is for: the button
    then names the currency, and the pay page shows the exact total."""
    customer, contact, overdue, not_due, euro, paid = acme
    make_allocated_payment(db, clock, customer, [(overdue[0], 100_000)], status="processing")
    sign_in(client, contact, clock)
    buttons = _buttons(_text(client.get("/account")))
    assert buttons["Pay all overdue USD invoices"] == "/pay?select=overdue&currency=USD"

    html = _text(client.get("/pay?select=overdue&currency=USD"))
    assert re.search(r'id="pay-total"[^>]*>\$4,402\.95<', html)  # 2,000.00 + 2,402.95


def test_pay_all_overdue_opens_the_pay_page_with_exactly_the_overdue_invoices(client, db, clock, acme):
    customer, contact, overdue, not_due, euro, paid = acme
    sign_in(client, contact, clock)
    html = _text(client.get("/pay?select=overdue&currency=USD"))
    assert HIDDEN_INVOICE.findall(html) == [invoice.public_id for invoice in overdue]  # oldest due first
    # Full open amounts, editable, written as the page writes amounts.
    assert f'id="amount-{overdue[0].public_id}"' in html and 'value="3,000.00"' in html
    assert 'value="2,402.95"' in html
    assert ">Pay $5,402.95</button>" in html
    assert "<h1>Pay Northwind Supplies</h1>" in html

    html = _text(client.get("/pay?select=due&currency=USD"))
    assert HIDDEN_INVOICE.findall(html) == [*(invoice.public_id for invoice in overdue), not_due.public_id]
    html = _text(client.get("/pay?select=due&currency=EUR"))
    assert HIDDEN_INVOICE.findall(html) == [euro.public_id] and 'value="12,345.67"' in html


def test_pay_selection_of_a_currency_with_nothing_to_pay_says_so(client, db, clock, acme):
    customer, contact, *_ = acme
    sign_in(client, contact, clock)
    html = _text(client.get("/pay?select=overdue&currency=EUR"))
    assert "No EUR overdue invoice has anything left to pay right now." in html
    assert HIDDEN_INVOICE.findall(html) == []
    assert "No GBP invoice" in _text(client.get("/pay?select=due&currency=GBP"))


@pytest.mark.parametrize("query", ["select=everything&currency=USD", "select=overdue&currency=US",
                                   "select=overdue", "select=due&currency=12%24"])
def test_pay_selection_refuses_what_it_does_not_know(client, db, clock, acme, query):
    customer, contact, *_ = acme
    sign_in(client, contact, clock)
    response = client.get(f"/pay?{query}")
    assert response.status_code == 400
    assert "Choose the invoices to pay from the list." in response.get_data(as_text=True)


def test_a_forwarded_links_selection_stays_within_its_invoices(client, db, clock, acme):
    from tests.support.factories import make_invoice_link

    customer, contact, overdue, *_ = acme
    link = make_invoice_link(db, clock, contact, [overdue[1]])
    sign_in(client, contact, clock, link=link)
    html = _text(client.get("/pay?select=overdue&currency=USD"))
    assert HIDDEN_INVOICE.findall(html) == [overdue[1].public_id]


def test_every_invoice_page_has_a_problem_mailto_with_the_invoice_and_po(client, db, clock, acme):
    customer, contact, overdue, *_ = acme
    sign_in(client, contact, clock)
    html = _text(client.get(f"/invoices/{overdue[0].public_id}"))
    assert "Problem with this invoice?" in html
    section = html.split('id="problem-title"')[1]
    assert f'href="/problems?invoice={overdue[0].public_id}">Tell us what' in section
    [mailto] = re.findall(r'href="(mailto:[^"]+)"[^>]*>Email Northwind Supplies', html)
    parts = urlsplit(mailto)
    assert parts.path == "billing@northwind.example"
    fields = parse_qs(parts.query)
    assert fields["subject"] == [f"Problem with invoice {overdue[0].number} (PO PO-1)"]
    assert f"Invoice: {overdue[0].number}\nPO number: PO-1\n" in fields["body"][0]
