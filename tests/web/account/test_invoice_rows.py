"""The invoice list's rows, drawn in Python (`portal/web/invoice_rows.py`): each shape a row can
take says what the template said, in the page's language, with every value escaped."""

from __future__ import annotations

import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from portal.domain.core.locales import format_day, format_day_month
from portal.domain.core.money import Money
from portal.domain.ledger.queries import Standing
from portal.web.invoice_rows import invoice_rows

TODAY = date(2026, 12, 2)


def _standing(*, number="INV-1001", po="PO-7", total=10_000, balance=None, in_flight=0, held=None,
              due=TODAY + timedelta(days=10), currency="USD", invoice_id=1) -> Standing:
    row = SimpleNamespace(id=invoice_id, public_id=f"pub{invoice_id}", number=number, po_number=po,
                          currency=currency, issue_date=TODAY - timedelta(days=20), due_date=due, total_minor=total)
    balance = total if balance is None else balance
    return Standing(row, Money(balance, currency), Money(in_flight, currency), TODAY,
                    Money(held, currency) if held is not None else None)


def _rows(app, standings, language="en", promised=None, reported=frozenset()) -> str:
    with app.test_request_context(f"/invoices?lang={language}"):
        return str(invoice_rows(standings, invoice_url="/invoices/", exponents={"USD": 2, "EUR": 2},
                                promised=promised or {}, reported=reported))


def _cells(html: str) -> list[str]:
    return re.findall(r"<tr\b.*?</tr>", html, re.S)


def test_an_open_invoice_is_selectable_with_its_payable_amount_and_links_to_its_page(app):
    [row] = _cells(_rows(app, [_standing(balance=7_500)]))
    assert 'class="status-open"' in row
    assert ('<input type="checkbox" name="invoice" value="pub1" id="select-pub1" data-currency="USD" '
            'data-payable-minor="7500" data-exponent="2" aria-label="Select invoice INV-1001">') in row
    assert '<a href="/invoices/pub1">INV-1001</a>' in row
    assert f">{format_day(TODAY - timedelta(days=20), 'en')}<" in row and "$100.00" in row and "$75.00" in row
    assert '<span class="badge badge-open">Open</span> <span class="badge badge-partial">Partly paid</span>' in row


def test_a_paid_invoice_has_no_checkbox_and_no_notes(app):
    # (A paid invoice's promise is over: `list_invoices` gives notes of the unpaid rows only.)
    [row] = _cells(_rows(app, [_standing(balance=0, due=TODAY - timedelta(days=3))]))
    assert 'class="status-paid"' in row and '<td class="select-col"></td>' in row
    assert "checkbox" not in row and "overdue" not in row and "Partly paid" not in row
    assert '<span class="badge badge-paid">Paid</span></span>' in row


@pytest.mark.parametrize(("due", "note"), [
    (TODAY - timedelta(days=1), '<span class="row-note overdue-note">1 day overdue</span>'),
    (TODAY - timedelta(days=12), '<span class="row-note overdue-note">12 days overdue</span>'),
    (TODAY, '<span class="row-note">due today</span>'),
])
def test_the_due_date_says_how_late_the_invoice_is(app, due, note):
    [row] = _cells(_rows(app, [_standing(due=due)]))
    assert note in row


def test_money_in_flight_and_disputed_money_are_noted_beside_the_balance(app):
    [flight, all_in_flight, disputed] = _cells(_rows(app, [
        _standing(invoice_id=1, in_flight=4_000), _standing(invoice_id=2, in_flight=10_000),
        _standing(invoice_id=3, held=2_500)]))
    assert '<span class="row-note">$40.00 processing · $60.00 left to pay</span>' in flight
    assert 'class="status-processing"' in all_in_flight and '<span class="row-note">$100.00 processing</span>' in all_in_flight
    assert "checkbox" not in all_in_flight  # nothing left to pay now
    assert '<span class="row-note">$25.00 disputed</span>' in disputed
    assert '<span class="badge badge-disputed">Disputed</span>' in disputed
    assert 'data-payable-minor="7500"' in disputed


def test_a_promise_and_a_reported_payment_are_noted_in_the_status_cell(app):
    promised_day = TODAY + timedelta(days=5)
    [row] = _cells(_rows(app, [_standing()], promised={1: promised_day}, reported=frozenset({1})))
    assert f'<span class="row-note promised-note">Promised for {format_day_month(promised_day, "en")}</span>' in row
    assert '<span class="row-note reported-note">Payment reported, being matched</span>' in row


def test_every_value_is_escaped(app):
    html = _rows(app, [_standing(number='<script>alert("n")</script>', po="PO & <b>7</b>")])
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;n&quot;)&lt;/script&gt;" in html
    assert "PO &amp; &lt;b&gt;7&lt;/b&gt;" in html
    assert 'aria-label="Select invoice &lt;script&gt;alert(&quot;n&quot;)&lt;/script&gt;"' in html


def test_the_rows_are_in_the_pages_language(app):
    [row] = _cells(_rows(app, [_standing(due=TODAY - timedelta(days=2), balance=6_000, in_flight=1_000)], "fr",
                         promised={1: TODAY}))
    for words in ('data-label="Payer"', 'aria-label="Sélectionner la facture INV-1001"', "2 jours de retard",
                  "En retard", "Partiellement payée", format_day(TODAY - timedelta(days=20), "fr"),
                  f"Promis pour le {format_day_month(TODAY, 'fr')}"):
        assert words in row, words


def test_no_rows_draw_nothing(app):
    assert _rows(app, []) == ""


def test_a_short_po_number_stays_on_one_line_and_a_long_one_may_break(app):
    short, long_, none = _cells(_rows(app, [
        _standing(po="ACME-PO-8327", invoice_id=1), _standing(po="PO-2026-000771-WAREHOUSE-EAST", invoice_id=2),
        _standing(po=None, invoice_id=3)]))
    assert '<td data-label="PO number" class="nowrap">ACME-PO-8327</td>' in short
    assert '<td data-label="PO number">PO-2026-000771-WAREHOUSE-EAST</td>' in long_
    assert '<td data-label="PO number">—</td>' in none


def test_the_currency_cell_is_for_the_cards_only(app):
    [row] = _cells(_rows(app, [_standing(currency="EUR")]))
    assert '<td data-label="Currency" class="card-only">EUR</td>' in row
