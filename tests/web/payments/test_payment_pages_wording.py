"""What the pay page, a payment's status page and the history say, as the server renders them:
the error summary and each field's error slot tied with aria-describedby, "Reason required"
for a short payment, the state in the title, "Processing — confirming with your bank" and
"$0.00 once confirmed", the "canceled within an hour" wording only for a payment left
unauthenticated, "Not charged" for a failed attempt, and a history with the status first, the
time, and failed attempts grouped."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.support.factories import make_allocated_payment, sign_in
from tests.support.fixtures.stripe import CARD_OK
from tests.support.paying import make_company, pay


def _html(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return unescape(response.get_data(as_text=True))


def _squeezed(html: str) -> str:
    return " ".join(html.split())


def _title(html: str) -> str:
    return re.search(r"<title>([^<]*)</title>", html).group(1)


def test_pay_page_has_an_error_summary_and_an_error_slot_under_every_field(signed_in, company):
    first, second = company.invoices
    html = _html(signed_in, f"/pay?invoice={first.public_id}&invoice={second.public_id}")
    assert re.search(r'<div id="error-summary" class="error-summary hidden" tabindex="-1" role="alert" '
                     r'aria-labelledby="error-summary-title">', html)
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    for invoice in company.invoices:
        for field in ("amount", "reason"):
            name = f"{field}-{invoice.public_id}"
            described = re.search(rf'id="{name}" name="{name}" aria-describedby="([^"]+)"', html)
            assert described is not None, name
            assert described.group(1) == f"{name}-error" and described.group(1) in ids
    assert 'id="card-error"' in html
    assert "Your payment reference (optional)" in _squeezed(re.sub(r"<[^>]+>", "", html))
    assert "The receipt is emailed to" in html and company.clerk.email in html
    assert "Your card statement will show <strong>NORTHWIND SUPPLIES</strong>." in html
    assert ">Pay $205.00</button>" in html
    assert "Balance due" in html and "Payable now" not in html
    assert "see dispute" not in html.lower()


def test_a_short_payment_without_a_reason_is_refused_with_reason_required(signed_in, company, localstripe):
    first = company.invoices[0]
    response = pay(signed_in, {first: "100.00"}, localstripe.card_token(CARD_OK))
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f"Reason required for invoice {first.number}:")


def test_the_pay_pages_statement_descriptor_follows_the_setting(make_app, clock, company):
    app = make_app(card_statement_descriptor="NWS* INVOICES 4417")
    client = app.test_client()
    sign_in(client, company.clerk, clock)
    html = _html(client, f"/pay?invoice={company.invoices[0].public_id}")
    assert "Your card statement will show <strong>NWS* INVOICES 4417</strong>." in html


@pytest.mark.parametrize(("status", "query", "state", "says", "not_says"), [
    ("processing", "", "Processing", "Processing — confirming with your bank.", "canceled within an hour"),
    ("requires_action", "?authenticated=1", "Processing", "Processing — confirming with your bank.",
     "canceled within an hour"),
    ("requires_action", "", "Authentication needed", "canceled within an hour", "confirming with your bank"),
])
def test_a_payment_in_flight_says_what_it_waits_for(signed_in, db, clock, company, status, query, state, says,
                                                     not_says):
    first, second = company.invoices
    payment = make_allocated_payment(db, clock, company.customer, [(first, 12_500), (second, 3_000)], status=status)
    html = _html(signed_in, f"/payments/{payment.public_id}{query}")
    text = _squeezed(re.sub(r"<[^>]+>", " ", html))
    assert _title(html) == f"{state} – Payment of $155.00 · Northwind Supplies billing"
    assert says in text and not_says not in text
    # The balances as they will read once the bank confirms.
    assert "$0.00 once confirmed" in text and "$50.00 once confirmed" in text
    assert 'id="payment-live" aria-live="polite"' in html
    assert f'data-status-url="/payments/{payment.public_id}/status"' in html


@pytest.mark.parametrize(("status", "state", "says"), [
    ("failed", "Declined", "Declined — not charged."),
    ("canceled", "Canceled", "Canceled — not charged."),
])
def test_a_failed_attempt_says_not_charged_instead_of_the_invoices_later_state(signed_in, db, clock, company,
                                                                                status, state, says):
    first = company.invoices[0]
    payment = make_allocated_payment(db, clock, company.customer, [(first, 12_500)], status=status)
    html = _html(signed_in, f"/payments/{payment.public_id}")
    text = _squeezed(re.sub(r"<[^>]+>", " ", html))
    assert _title(html) == f"{state} – Payment of $125.00 · Northwind Supplies billing"
    assert says in text
    assert re.search(r'data-label="Balance due">Not charged\s*</td>', html)
    assert "once confirmed" not in text and "data-status-url" not in html


def test_history_puts_the_status_first_shows_the_time_and_groups_failed_attempts(signed_in, db, clock, company):
    first, second = company.invoices
    paid = make_allocated_payment(db, clock, company.customer, [(second, 8_000)], status="succeeded")
    for _ in range(3):
        clock.advance(seconds=60)
        make_allocated_payment(db, clock, company.customer, [(first, 12_500)], status="failed")
    clock.advance(seconds=60)
    latest = make_allocated_payment(db, clock, company.customer, [(first, 12_500)], status="processing")

    html = _html(signed_in, "/payments")
    assert re.search(r"<thead>\s*<tr><th scope=\"col\">Status</th><th scope=\"col\">Date and time</th>", html)
    rows = re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", html, re.S)
    assert len(rows) == 3  # processing, the three declines as one, paid
    texts = [_squeezed(re.sub(r"<[^>]+>", " ", row)) for row in rows]
    assert texts[0].startswith("Processing")
    assert texts[1].startswith("Declined 3 attempts, none charged") and "Not charged" in texts[1]
    assert texts[2].startswith("Paid")
    # Times in the customer's zone (America/New_York): the latest, at 14:34 UTC, reads 10:34 EDT.
    assert "15 Jun 2026, 10:34 EDT" in texts[0]
    assert f'/payments/{latest.public_id}"' in rows[0] and f'/payments/{paid.public_id}"' in rows[2]


def test_failed_attempts_at_other_invoices_are_not_grouped(signed_in, db, clock, company):
    first, second = company.invoices
    make_allocated_payment(db, clock, company.customer, [(first, 12_500)], status="failed")
    clock.advance(seconds=60)
    make_allocated_payment(db, clock, company.customer, [(second, 8_000)], status="failed")
    html = _html(signed_in, "/payments")
    assert len(re.findall(r"<tr class=\"attempts-failed\">", html)) == 2
    assert "attempts, none charged" not in html


@pytest.fixture
def company(db, clock):
    return make_company(db, clock, 12_500, 8_000)
