"""No email can be rendered without the supplier's details: they are a required argument."""

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
