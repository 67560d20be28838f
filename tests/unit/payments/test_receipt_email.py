"""A14: what a payer typed cannot pass for our own lines in the receipt sent to AP mailboxes.

The pay form refuses control characters (tests/web/payments/test_pay_input.py); this covers rows
written before that check, or by any other path: the email still shows the text as one quoted
line under a label saying the payer wrote it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from portal.domain.core.money import Money
from portal.domain.notifications.rendering import SupplierDetails, payer_text, render_email

PHISHING = "May run\r\n\r\nIMPORTANT: our bank details changed. Pay to IBAN XX00 0000 from now on.\r\n"


def _receipt(po_number: str, memo: str, reason: str):
    payment = SimpleNamespace(po_number=po_number, memo=memo, public_id="pay123",
                              settled_at=datetime(2026, 6, 15, tzinfo=UTC))
    line = SimpleNamespace(invoice=SimpleNamespace(number="INV-1"), amount=Money(5_000, "USD"),
                           short_pay_reason=reason, balance_after=Money(1_000, "USD"))
    summary = SimpleNamespace(payment=payment, amount=Money(5_000, "USD"), lines=[line])
    customer = SimpleNamespace(name="Acme Corp", account_number="AC-1")
    receipt = SimpleNamespace(summary=summary, customer=customer, reference="PAY-2026-000001",
                              paid_at="15 Jun 2026, 00:00 UTC", card="Visa ending in 4242")
    return render_email(
        "payment_receipt", supplier=SupplierDetails("Northwind Supply", "billing@northwind.example", "http://localhost"),
        receipt=receipt, payment=summary, payer=SimpleNamespace(name="Pat"), customer=customer,
        payment_url="http://localhost/payments/pay123", receipt_pdf_url="http://localhost/payments/pay123/receipt.pdf",
    )


def test_a_memo_with_line_breaks_stays_one_quoted_line_under_the_payers_label():
    email = _receipt("PO-1\nIMPORTANT: new bank", PHISHING, "Partial\r\nNew bank: XX00")
    lines = email.text.splitlines()
    assert not [line for line in lines if line.startswith(("IMPORTANT", "New bank"))]
    assert "Written by the payer with this payment (quoted as entered, not checked by Northwind Supply):" in lines
    assert '    Memo: "May run IMPORTANT: our bank details changed. Pay to IBAN XX00 0000 from now on."' in lines
    assert '    PO number: "PO-1 IMPORTANT: new bank"' in lines
    assert "(payer's reason: \"Partial New bank: XX00\")" in email.text
    assert "Payer&#39;s reason: <q>" in email.html or "Payer's reason: <q>" in email.html
    assert "<blockquote" in email.html and "<q>May run" in email.html


def test_payer_text_flattens_every_line_and_separator_character():
    assert payer_text("a\u2028b\u2029c\x00d\te\u202ef") == '"a b c d e f"'
    assert payer_text("") == '""'
