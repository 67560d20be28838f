"""The payments history's rows, drawn in Python (`portal/web/payment_rows.py`): each shape a row
can take says what the template said, in the page's language, with every value escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from portal.domain.core.locales import format_day, format_moment
from portal.domain.core.money import Money
from portal.domain.payments.policy import ach_expected_by
from portal.domain.payments.queries import HistoryRow, PaymentSummary
from portal.web.payment_rows import payment_rows

ZONE = ZoneInfo("America/New_York")
CREATED = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
SETTLED = datetime(2026, 11, 27, 15, 31, tzinfo=UTC)


def _row(*, status="succeeded", method="card", po="", memo="", reference="PAY-2026-000007", numbers=("INV-1001",),
         attempts=1, bank=None, settled_at=SETTLED, amount=12_345) -> HistoryRow:
    payment = SimpleNamespace(public_id="pay1", reference=reference, status=status, method=method, po_number=po,
                              memo=memo, created_at=CREATED, settled_at=settled_at)
    lines = tuple(SimpleNamespace(invoice=SimpleNamespace(number=number)) for number in numbers)
    return HistoryRow(PaymentSummary(payment, Money(amount, "USD"), lines, bank=bank), attempts)


def _bank(*, returned=False, verification_url=None):
    return SimpleNamespace(returned_at=CREATED if returned else None, verification_url=verification_url)


def _rows(app, rows, language="en") -> list[str]:
    with app.test_request_context(f"/payments?lang={language}"):
        html = str(payment_rows(rows, payment_url="/payments/", zone=ZONE))
    return re.findall(r"<tr\b.*?</tr>", html, re.S)


def test_a_settled_card_payment_shows_when_what_and_how_much(app):
    [row] = _rows(app, [_row(numbers=("INV-1001", "INV-1002"))])
    assert row.startswith('<tr class="">')
    assert '<td data-label="Status"><span><span class="badge badge-paid">Paid</span></span></td>' in row
    assert f'<td data-label="Date and time">{format_moment(SETTLED, ZONE, "en")}</td>' in row
    assert '<a href="/payments/pay1">PAY-2026-000007</a>' in row
    assert '<td data-label="Invoices"><span>INV-1001, INV-1002</span></td>' in row
    assert '<td data-label="Your reference · memo"><span>—</span></td>' in row
    assert '<td class="num" data-label="Amount"><span>$123.45</span></td>' in row


def test_an_unsettled_payment_is_dated_when_it_was_made(app):
    [row] = _rows(app, [_row(status="processing", settled_at=None)])
    assert f'<td data-label="Date and time">{format_moment(CREATED, ZONE, "en")}</td>' in row
    assert '<span class="badge badge-processing">Processing</span>' in row


@pytest.mark.parametrize(("status", "badge"), [
    ("new", '<span class="badge badge-processing">Processing</span>'),
    ("requires_action", '<span class="badge badge-processing">Authentication needed</span>'),
    ("canceled", '<span class="badge badge-failed">Canceled</span>'),
])
def test_each_card_status_has_its_badge(app, status, badge):
    [row] = _rows(app, [_row(status=status, settled_at=None)])
    assert badge in row


def test_failed_attempts_say_how_many_and_that_nothing_was_charged(app):
    [once, thrice] = _rows(app, [_row(status="failed", settled_at=None),
                                 _row(status="failed", settled_at=None, attempts=3)])
    assert once.startswith('<tr class="attempts-failed">') and thrice.startswith('<tr class="attempts-failed">')
    assert '<span class="badge badge-failed">Declined</span></span>' in once and "none charged" not in once
    assert ('<span class="badge badge-failed">Declined</span> '
            '<span class="row-note">3 attempts, none charged</span>') in thrice
    for row in (once, thrice):
        assert '<span>$123.45 <span class="row-note">Not charged</span></span>' in row


def test_a_bank_debit_says_where_it_stands(app):
    processing, verify, returned, unpaid = _rows(app, [
        _row(method="us_bank_account", status="processing", settled_at=None, bank=_bank()),
        _row(method="us_bank_account", status="requires_action", settled_at=None,
             bank=_bank(verification_url="https://payments.stripe.com/microdeposit/x")),
        _row(method="us_bank_account", bank=_bank(returned=True)),
        _row(method="us_bank_account", status="failed", settled_at=None, bank=_bank()),
    ])
    expected = format_day(ach_expected_by(CREATED.date()), "en")
    assert f'<span class="badge badge-processing">Processing, expected by {expected}</span>' in processing
    assert '<span class="badge badge-processing">Verify bank account</span>' in verify
    assert '<span class="badge badge-failed">Returned</span>' in returned
    assert '<span class="badge badge-failed">Not paid</span>' in unpaid


@pytest.mark.parametrize(("po", "memo", "cell"), [
    ("PO-7", "", "PO-7"), ("", "for November", "for November"), ("PO-7", "for November", "PO-7 · for November"),
])
def test_the_customers_reference_and_memo_are_shown_as_given(app, po, memo, cell):
    [row] = _rows(app, [_row(po=po, memo=memo)])
    assert f'<td data-label="Your reference · memo"><span>{cell}</span></td>' in row


def test_every_value_is_escaped(app):
    [row] = _rows(app, [_row(po='<script>alert("p")</script>', memo="A & <b>B</b>", numbers=("<i>INV</i>",),
                             reference="PAY-<1>")])
    assert "<script>" not in row and "<b>" not in row and "<i>" not in row
    assert "&lt;script&gt;alert(&quot;p&quot;)&lt;/script&gt; · A &amp; &lt;b&gt;B&lt;/b&gt;" in row
    assert "<span>&lt;i&gt;INV&lt;/i&gt;</span>" in row and ">PAY-&lt;1&gt;</a>" in row


def test_the_rows_are_in_the_pages_language(app):
    [paid, failed] = _rows(app, [_row(), _row(status="failed", settled_at=None, attempts=2)], "fr")
    assert 'data-label="Statut"' in paid and 'badge-paid">Payé<' in paid  # un paiement: masculine
    assert format_moment(SETTLED, ZONE, "fr") in paid and "123,45" in paid
    assert "Refusé" in failed and "2 tentatives" in failed and "Non débité" in failed


def test_no_rows_draw_nothing(app):
    assert _rows(app, []) == []
