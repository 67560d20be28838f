"""No email can be rendered without the supplier's details: they are a required argument. A
subject is one line, and keeps the no-break spaces of French punctuation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from portal.domain.notifications.rendering import SupplierDetails, render_email

SUPPLIER = SupplierDetails(name="Northwind Supplies", email="billing@northwind.example", portal_url="https://pay.example")
CONTEXT = dict(contact=SimpleNamespace(name="Pat"), customer=SimpleNamespace(name="Acme Corp"),
               url="https://pay.example/link/sign-in/x", minutes=15)


def test_the_supplier_is_required():
    with pytest.raises(TypeError):
        render_email("sign_in_link", **CONTEXT)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        render_email("sign_in_link", supplier=SupplierDetails(name="", email="", portal_url=""), **CONTEXT)


def test_the_supplier_appears_in_the_email():
    email = render_email("sign_in_link", supplier=SUPPLIER, **CONTEXT)
    assert "Northwind Supplies" in email.text and "Northwind Supplies" in email.html


def test_a_subject_is_one_line_but_keeps_its_no_break_spaces():
    """A French subject keeps the no-break space that holds its colon to the word before; other
    runs of whitespace, a newline in a name included, become one space."""
    context = dict(contact=SimpleNamespace(name="Pat", language="fr"),
                   customer=SimpleNamespace(name="Acme\n\t Corp"),
                   invoices=[SimpleNamespace(number="INV-1")], url="https://pay.example/link/x")
    assert render_email("invoice_link", supplier=SUPPLIER, **context).subject == "Acme Corp\u00a0: facture INV-1"
    assert render_email("invoice_link", supplier=SUPPLIER, language="en", **context).subject == "Acme Corp: invoice INV-1"
