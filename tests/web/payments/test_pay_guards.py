"""Never pay twice, never pay more than is open (SECURITY.md P1-P4)."""

from __future__ import annotations

import pytest
from tests.support.factories import add_invoice_entry, make_allocated_payment, make_invoice, sign_in
from tests.support.fixtures.stripe import CARD_OK, intent_object, stripe_event
from tests.support.paying import make_company
from tests.support.paying import (
    balance, counts, open_pay_page, pay, pay_form, payment_by_public_id, post_event, post_payment,
)

# --- P4: the browser proposes, the server decides -------------------------------------------


@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        ("125.01", "", "at most $125.00 can be paid now"),
        ("1000000", "", "at most $125.00 can be paid now"),
        ("0.49", "Partial payment", "at least $0.50"),
        ("0", "", "above zero"),
        ("-5.00", "", "as digits"),
        ("10.005", "Partial payment", "2 decimal places"),
        ("abc", "", "as digits"),
        ("", "", "Enter an amount"),
        ("100.00", "", "Reason required for invoice"),
        ("100.00", "x" * 201, "at most 200 characters"),
    ],
)
def test_amounts_the_server_refuses(signed_in, db, company, localstripe, amount, reason, message):
    first = company.invoices[0]
    before = counts(db)
    response = pay(signed_in, {first: amount}, localstripe.card_token(CARD_OK), **{f"reason-{first.public_id}": reason})
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert counts(db) == before
    assert localstripe.intents() == []


def test_fields_the_browser_should_not_control_are_ignored(signed_in, db, company, localstripe):
    """status=paid, another company's id, a total of 1 cent, another currency: none is read."""
    first = company.invoices[0]
    response = pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_OK),
                   status="succeeded", company_id="1", customer_id="1", currency="JPY", total="0.01",
                   amount_minor="1", contact_id="1")
    assert response.status_code == 200
    payment = payment_by_public_id(db, response.get_json()["payment_url"].rsplit("/", 1)[1])
    assert (payment.amount_minor, payment.currency, payment.status) == (12_500, "USD", "processing")
    assert payment.customer_id == company.customer.id and payment.contact_id == company.clerk.id
    [intent] = localstripe.intents()
    assert (intent["amount"], intent["currency"]) == (12_500, "usd")
    assert balance(db, first) == 12_500  # only the webhook settles


def test_another_companys_invoice_is_refused(signed_in, db, clock, company, localstripe):
    other = make_company(db, clock, 9_900)
    page = open_pay_page(signed_in, company.invoices[:1])
    before = counts(db)
    response = post_payment(signed_in, pay_form(
        page, {company.invoices[0]: "125.00", other.invoices[0]: "99.00"}, localstripe.card_token(CARD_OK)))
    assert response.status_code == 400
    assert "not part of your account" in response.get_json()["error"]
    assert counts(db) == before and balance(db, other.invoices[0]) == 9_900
    assert localstripe.intents() == []


def test_invoices_in_two_currencies_are_refused(signed_in, db, clock, company, localstripe):
    euro = make_invoice(db, clock, company.customer, total_minor=5_000, currency="EUR")
    html = signed_in.get("/pay", query_string=[("invoice", company.invoices[0].public_id),
                                               ("invoice", euro.public_id)]).get_data(as_text=True)
    assert "different currencies must be paid separately" in html and 'id="pay-form"' not in html
    page = open_pay_page(signed_in, company.invoices[:1])
    response = post_payment(signed_in, pay_form(
        page, {company.invoices[0]: "125.00", euro: "50.00"}, localstripe.card_token(CARD_OK)))
    assert response.status_code == 400
    assert "different currencies" in response.get_json()["error"]
    assert localstripe.intents() == []


def test_a_paid_invoice_is_refused(signed_in, db, clock, company, localstripe):
    first = company.invoices[0]
    page = open_pay_page(signed_in, [first])
    add_invoice_entry(db, clock, first, "credit_note", -12_500)
    response = post_payment(signed_in, pay_form(page, {first: "125.00"}, localstripe.card_token(CARD_OK)))
    assert response.status_code == 400
    assert f"Invoice {first.number} is already paid" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("currency", "total", "typed", "message"),
    [
        ("JPY", 10_000, "100.5", "JPY amounts have no decimal places"),
        ("JPY", 10_000, "49", "at least ¥50"),
        ("KWD", 10_000, "1.235", "must end in 0"),
        ("KWD", 10_000, "0.005", "at least KWD"),
        ("USD", 100_000_000, "1000000.00", "at most $999,999.99"),
    ],
)
def test_currency_rules_are_the_servers(client, db, clock, localstripe, currency, total, typed, message):
    company = make_company(db, clock, total, currency=currency)
    sign_in(client, company.clerk, clock)
    invoice = company.invoices[0]
    response = pay(client, {invoice: typed}, localstripe.card_token(CARD_OK), **{f"reason-{invoice.public_id}": "Partial payment"})
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert localstripe.intents() == []


@pytest.mark.parametrize(("currency", "typed", "minor"), [("JPY", "10000", 10_000), ("KWD", "12.340", 12_340)])
def test_zero_and_three_decimal_currencies_reach_stripe_exactly(client, db, clock, localstripe, currency, typed, minor):
    company = make_company(db, clock, minor, currency=currency)
    sign_in(client, company.clerk, clock)
    response = pay(client, {company.invoices[0]: typed}, localstripe.card_token(CARD_OK))
    assert response.status_code == 200, response.get_json()
    [intent] = localstripe.intents()
    assert (intent["amount"], intent["currency"]) == (minor, currency.lower())


def test_form_without_card_token_or_nonce_is_refused(signed_in, db, company):
    page = open_pay_page(signed_in, company.invoices[:1])
    before = counts(db)
    no_token = post_payment(signed_in, pay_form(page, {company.invoices[0]: "125.00"}, ""))
    assert no_token.status_code == 400 and "card details" in no_token.get_json()["error"]
    no_nonce = post_payment(signed_in, pay_form({**page, "nonce": "x"}, {company.invoices[0]: "125.00"}, "tok_visa"))
    assert no_nonce.status_code == 400 and "expired" in no_nonce.get_json()["error"]
    assert counts(db) == before


def test_post_without_csrf_token_is_refused(signed_in, db, company):
    page = open_pay_page(signed_in, company.invoices[:1])
    form = [(k, v) for k, v in pay_form(page, {company.invoices[0]: "125.00"}, "tok_visa") if k != "csrf_token"]
    before = counts(db)
    assert post_payment(signed_in, form).status_code == 400
    assert counts(db) == before


# --- P3: money in flight is not payable twice -----------------------------------------------


def test_payment_in_flight_blocks_a_second_one_until_it_fails(signed_in, db, clock, company, localstripe):
    """An ACH debit processing for days reserves its amount; its failure releases it."""
    first = company.invoices[0]
    ach = make_allocated_payment(db, clock, company.customer, [(first, 12_500)], status="processing",
                                 method="us_bank_account")
    ach.stripe_payment_intent_id = "pi_achprocessing0001"
    db.commit()

    page = open_pay_page(signed_in, company.invoices[1:])
    response = post_payment(signed_in, pay_form(page, {first: "125.00"}, localstripe.card_token(CARD_OK)))
    assert response.status_code == 400
    assert "already has a payment in progress" in response.get_json()["error"]
    partial = post_payment(signed_in, pay_form(page, {first: "1.00"}, localstripe.card_token(CARD_OK),
                                               **{f"reason-{first.public_id}": "Partial payment"}))
    assert partial.status_code == 400 and localstripe.intents() == []

    timestamp = int(clock.now().timestamp())
    failed = intent_object("pi_achprocessing0001", "requires_payment_method", 12_500, "usd",
                           failure_message="The customer's bank account could not be debited.")
    response = post_event(signed_in, stripe_event("payment_intent.payment_failed", failed, created=timestamp), timestamp)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "processing -> failed"
    assert payment_by_public_id(db, ach.public_id).status == "failed"

    response = post_payment(signed_in, pay_form(page, {first: "125.00"}, localstripe.card_token(CARD_OK)))
    assert response.status_code == 200, response.get_json()


def test_part_in_flight_leaves_the_rest_payable(signed_in, db, clock, company, localstripe):
    first = company.invoices[0]
    make_allocated_payment(db, clock, company.customer, [(first, 10_000)], status="processing")
    html = signed_in.get("/pay", query_string={"invoice": first.public_id}).get_data(as_text=True)
    assert 'value="25.00"' in html and "$100.00 already being paid" in html
    assert pay(signed_in, {first: "25.01"}, localstripe.card_token(CARD_OK)).status_code == 400
    response = pay(signed_in, {first: "25.00"}, localstripe.card_token(CARD_OK))
    assert response.status_code == 200, response.get_json()
