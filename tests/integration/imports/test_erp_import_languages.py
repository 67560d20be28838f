"""The ERP file's optional `language` column on contact rows: checked against the portal's
languages, stored on the contact, and left alone when the cell is empty."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain.customers.models import Contact
from portal.domain.imports.policy import parse_import
from portal.domain.imports.service import ImportRefused, import_erp_file
from tests.support.erp import HEADER, contact_row, customer_row, erp_csv, import_context, table_counts

WITH_LANGUAGE = [*HEADER, "language"]


def _file(*rows) -> bytes:
    return erp_csv(customer_row(), *rows, header=WITH_LANGUAGE)


def _import(db, clock, data: bytes):
    report = import_erp_file(import_context(db, clock), data, source="test.csv")
    db.commit()
    return report


def _language(db, email: str) -> str | None:
    db.expire_all()
    return db.scalar(select(Contact.language).where(Contact.email == email))


def test_a_contact_row_names_its_language(db, clock):
    _import(db, clock, _file({**contact_row(), "language": "fr"},
                             {**contact_row("P-2", email="kim@acme.example"), "language": "de"},
                             contact_row("P-3", email="lee@acme.example")))
    assert _language(db, "pat@acme.example") == "fr"
    assert _language(db, "kim@acme.example") == "de"
    assert _language(db, "lee@acme.example") is None


def test_an_empty_cell_keeps_the_contacts_own_choice_and_a_new_code_replaces_it(db, clock):
    _import(db, clock, _file({**contact_row(), "language": "fr"}))
    db.scalar(select(Contact).where(Contact.email == "pat@acme.example")).language = "de"  # the contact's switch
    db.commit()
    _import(db, clock, _file({**contact_row(name="Pat C."), "language": ""}))
    assert _language(db, "pat@acme.example") == "de"
    _import(db, clock, _file({**contact_row(name="Pat C."), "language": "en"}))
    assert _language(db, "pat@acme.example") == "en"


@pytest.mark.parametrize("value", ["es", "french", "fr-FR", "fr_FR"])
def test_a_language_the_portal_does_not_speak_is_refused_on_its_line_and_nothing_is_imported(db, clock, value):
    data = _file({**contact_row(), "language": value})
    before = table_counts(db)
    db.commit()
    with pytest.raises(ImportRefused) as refused:
        import_erp_file(import_context(db, clock), data, source="bad.csv")
    db.rollback()
    [error] = refused.value.errors
    assert error.line == 3 and "language" in error.message and "en, fr, de" in error.message
    assert table_counts(db) == before


def test_a_file_without_the_column_hashes_its_contacts_as_before():
    without = parse_import(erp_csv(customer_row(), contact_row())).contacts[0]
    empty = parse_import(_file({**contact_row(), "language": ""})).contacts[0]
    french = parse_import(_file({**contact_row(), "language": "fr"})).contacts[0]
    assert without.language is None and without.fingerprint() == empty.fingerprint() != french.fingerprint()
