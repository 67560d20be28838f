"""The supplier's address and tax id: from SUPPLIER_ADDRESS / SUPPLIER_TAX_ID into every
document and receipt (SupplierDetails), checked at start-up."""

from __future__ import annotations

import pytest

from portal.config import ConfigError, Settings
from portal.domain.notifications.rendering import SupplierDetails

ENV = {"PORTAL_MODE": "test", "SECRET_KEY": "x", "DATABASE_URL": "sqlite:///:memory:"}


def test_the_address_is_given_on_one_line_with_its_lines_separated_by_semicolons():
    settings = Settings.from_env({**ENV, "SUPPLIER_ADDRESS": " Northwind Supplies Inc.;1200 Harbor Way, Suite 400 ;; "
                                                            "Portland, OR 97209; ",
                                  "SUPPLIER_TAX_ID": " EIN 93-1234567 "})
    supplier = SupplierDetails.from_settings(settings)
    assert supplier.address == ("Northwind Supplies Inc.", "1200 Harbor Way, Suite 400", "Portland, OR 97209")
    assert supplier.tax_id == "EIN 93-1234567"


def test_without_them_documents_simply_leave_them_out():
    supplier = SupplierDetails.from_settings(Settings.from_env(ENV))
    assert supplier.address == () and supplier.tax_id == ""


@pytest.mark.parametrize("changes", [
    {"SUPPLIER_ADDRESS": ";".join(["line"] * 7)},
    {"SUPPLIER_ADDRESS": "x" * 101},
    {"SUPPLIER_ADDRESS": "Harbor Way\x00"},
    {"SUPPLIER_TAX_ID": "EIN\t93"},
    {"SUPPLIER_TAX_ID": "9" * 61},
])
def test_an_address_or_tax_id_no_document_could_print_refuses_to_start(changes):
    with pytest.raises(ConfigError):
        Settings.from_env({**ENV, **changes})
