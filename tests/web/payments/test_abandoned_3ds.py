"""An abandoned 3-D Secure attempt no longer blocks an invoice for an hour: any contact of the
company who can see the payment cancels it from the invoice or payment page, and the invoice
can be paid again at once. Before, only the script of the tab that started it could."""

from __future__ import annotations

import re

from tests.support.factories import make_contact, sign_in
from tests.support.fixtures.links import csrf_from
from tests.support.fixtures.stripe import CARD_3DS, CARD_OK
from tests.support.paying import pay, payment_by_public_id

BUTTON = "Cancel this unfinished payment"


def _cancel_form(html: str) -> str:
    match = re.search(r'<form method="post" action="(/payments/[^"]+/cancel)"', html)
    assert match, "no cancel form on the page"
    return match.group(1)


def test_a_colleague_cancels_an_abandoned_3ds_attempt_and_pays(app, signed_in, db, clock, company, localstripe):
    first = company.invoices[0]
    started = pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_3DS)).get_json()
    assert started["status"] == "requires_action"  # the clerk closes the tab here
    public_id = started["payment_url"].rsplit("/", 1)[1]

    colleague = app.test_client()
    sign_in(colleague, make_contact(db, clock, company.customer, name="Sam Colleague"), clock)
    invoice_page = colleague.get(f"/invoices/{first.public_id}")
    html = invoice_page.get_data(as_text=True)
    assert BUTTON in html and _cancel_form(html) == f"/payments/{public_id}/cancel"
    assert BUTTON in colleague.get(started["payment_url"]).get_data(as_text=True)

    response = colleague.post(_cancel_form(html), data={"csrf_token": csrf_from(invoice_page)})

    assert response.status_code == 302 and response.headers["Location"] == started["payment_url"]
    payment = payment_by_public_id(db, public_id)
    assert payment.status == "canceled"
    assert localstripe.intent(payment.stripe_payment_intent_id)["status"] == "canceled"
    assert "Canceled — not charged." in colleague.get(started["payment_url"]).get_data(as_text=True)
    assert pay(colleague, {first: "125.00"}, localstripe.card_token(CARD_OK)).status_code == 200


def test_no_cancel_button_once_the_payment_is_processing(signed_in, db, company, localstripe):
    first = company.invoices[0]
    started = pay(signed_in, {first: "125.00"}, localstripe.card_token(CARD_OK)).get_json()
    assert started["status"] == "processing"
    assert BUTTON not in signed_in.get(f"/invoices/{first.public_id}").get_data(as_text=True)
    assert BUTTON not in signed_in.get(started["payment_url"]).get_data(as_text=True)


def test_another_companys_contact_cannot_cancel_it(app, signed_in, db, clock, company, localstripe):
    from tests.support.paying import make_company

    started = pay(signed_in, {company.invoices[0]: "125.00"}, localstripe.card_token(CARD_3DS)).get_json()
    stranger = app.test_client()
    sign_in(stranger, make_company(db, clock, 5_000).clerk, clock)
    page = stranger.get("/invoices")
    response = stranger.post(started["payment_url"] + "/cancel", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 404
    assert payment_by_public_id(db, started["payment_url"].rsplit("/", 1)[1]).status == "requires_action"
