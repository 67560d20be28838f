"""The pay form is parsed as bounded text before any lock, query or arithmetic (SECURITY.md P16,
A14). `1E+999990` used to cost some 25 s of CPU under the customer lock; `1e999999999` a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain.customers.models import Customer
from tests.support.fixtures.stripe import CARD_OK
from tests.support.paying import counts, open_pay_page, pay_form, post_payment

HOSTILE_AMOUNTS = {
    "exponent": "1E+999990",
    "overflowing exponent": "1e999999999",
    "small exponent": "1e2",
    "ten thousand digits": "9" * 10_000,
    "ten thousand decimals": "1." + "0" * 10_000,
    "NaN": "NaN",
    "signalling NaN": "sNaN",
    "Infinity": "Infinity",
    "negative Infinity": "-Infinity",
    "arabic-indic digits": "١٢٥",
    "full-width digits": "１２５",
    "a sign": "+125.00",
}


def payment_lock(db, customer) -> int:
    db.rollback()
    return db.scalar(select(Customer.payment_lock).where(Customer.id == customer.id))


@pytest.mark.parametrize("amount", list(HOSTILE_AMOUNTS.values()), ids=list(HOSTILE_AMOUNTS))
def test_absurd_amounts_are_refused_before_any_lock(signed_in, db, company, localstripe, amount):
    first = company.invoices[0]
    page = open_pay_page(signed_in, [first])
    before, lock_before = counts(db), payment_lock(db, company.customer)

    response = post_payment(signed_in, pay_form(page, {first: amount}, localstripe.card_token(CARD_OK),
                                                **{f"reason-{first.public_id}": "Partial payment"}))

    assert response.status_code == 400
    assert "Enter the amount as digits" in response.get_json()["error"] or "too long" in response.get_json()["error"]
    assert counts(db) == before
    # The customer lock is an UPDATE of this counter: unchanged means it was never taken.
    assert payment_lock(db, company.customer) == lock_before
    assert localstripe.intents() == []


@pytest.mark.parametrize(("field", "value"), [
    ("po_number", "PO-1\r\nOur bank details changed"),
    ("memo", "thanks\nPlease pay to IBAN XX00"),
    ("memo", "nul\x00byte"),
    ("nonce", "a\x00" * 10),
    ("card_token", "tok_\r\nx"),
])
def test_control_characters_in_single_line_fields_are_refused(signed_in, db, company, localstripe, field, value):
    first = company.invoices[0]
    page = open_pay_page(signed_in, [first])
    form = [(k, v) for k, v in pay_form(page, {first: "125.00"}, localstripe.card_token(CARD_OK)) if k != field]
    before, lock_before = counts(db), payment_lock(db, company.customer)

    response = post_payment(signed_in, [*form, (field, value)])

    assert response.status_code == 400
    assert "one line of plain text" in response.get_json()["error"] or "not allowed" in response.get_json()["error"]
    assert counts(db) == before
    assert payment_lock(db, company.customer) == lock_before


def test_a_reason_with_a_line_break_is_refused(signed_in, db, company, localstripe):
    first = company.invoices[0]
    page = open_pay_page(signed_in, [first])
    before = counts(db)
    response = post_payment(signed_in, pay_form(page, {first: "100.00"}, localstripe.card_token(CARD_OK),
                                                **{f"reason-{first.public_id}": "Partial\r\npayment"}))
    assert response.status_code == 400
    assert "A reason must be one line of plain text." in response.get_json()["error"]
    assert counts(db) == before


@pytest.mark.parametrize("invoice_id", ["abc\x00", "abc\r\ndef", "x" * 23, "../etc"])
def test_malformed_invoice_ids_are_refused(signed_in, db, company, localstripe, invoice_id):
    page = open_pay_page(signed_in, company.invoices[:1])
    form = [("csrf_token", page["csrf_token"]), ("nonce", page["nonce"]),
            ("card_token", localstripe.card_token(CARD_OK)), ("invoice", invoice_id),
            (f"amount-{invoice_id}", "1.00")]
    before, lock_before = counts(db), payment_lock(db, company.customer)
    response = post_payment(signed_in, form)
    assert response.status_code == 400
    assert counts(db) == before
    assert payment_lock(db, company.customer) == lock_before
