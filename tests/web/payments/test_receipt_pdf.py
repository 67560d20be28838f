"""The receipt PDF: the same access as the payment's page, and only once the money arrived."""

from __future__ import annotations

from tests.support.documents import pdf_text
from tests.support.factories import make_allocated_payment, make_invoice_link, sign_in
from tests.support.paying import make_company


def test_no_receipt_before_the_payment_succeeded(client, db, clock):
    company = make_company(db, clock, 12_500)
    sign_in(client, company.clerk, clock)
    for status in ("processing", "requires_action", "failed", "canceled"):
        payment = make_allocated_payment(db, clock, company.customer, [(company.invoices[0], 1_000)], status=status)
        assert client.get(f"/payments/{payment.public_id}").status_code == 200
        assert client.get(f"/payments/{payment.public_id}/receipt.pdf").status_code == 404, status
        assert "Download receipt" not in client.get(f"/payments/{payment.public_id}").get_data(as_text=True)


def test_a_forwarded_invoice_link_gets_the_receipts_of_its_invoices_only(app, db, clock):
    company = make_company(db, clock, 12_500, 8_000)
    first, second = company.invoices
    own = make_allocated_payment(db, clock, company.customer, [(first, 12_500)], status="succeeded")
    wider = make_allocated_payment(db, clock, company.customer, [(first, 100), (second, 100)], status="succeeded")
    holder = app.test_client()
    sign_in(holder, company.clerk, clock, link=make_invoice_link(db, clock, company.clerk, [first]))

    response = holder.get(f"/payments/{own.public_id}/receipt.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert own.reference in text and first.number in text and "$125.00" in text
    assert holder.get(f"/payments/{wider.public_id}/receipt.pdf").status_code == 404
    assert holder.get(f"/payments/{wider.public_id}").status_code == 404  # the page's rule exactly
