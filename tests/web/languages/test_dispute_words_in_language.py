"""A French or German contact reads who handles a dispute, the kinds of files the forms accept,
their size limits and the size of each attached file in their language; an English contact
keeps the English."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.support import attachment_files as files
from tests.support.disputes import raise_test_dispute, uploads
from tests.support.factories import make_contact, make_customer, make_invoice, sign_in

WORDS = {
    "fr": {"owner": "Traitée par Pas encore attribuée",
           "limits": "PDF, PNG, JPEG, CSV et XLSX ; jusqu'à 10 fichiers, 10 Mo chacun et 25 Mo au total.",
           "sizes": ["512 Ko", "2 Mo"]},
    "de": {"owner": "Bearbeitet von Noch nicht zugewiesen",
           "limits": "PDF, PNG, JPEG, CSV und XLSX; bis zu 10 Dateien, je 10 MB und zusammen 25 MB.",
           "sizes": ["512 KB", "2 MB"]},
    "en": {"owner": "Handled by Not yet assigned",
           "limits": "PDF, PNG, JPEG, CSV and XLSX; up to 10 files, 10 MB each and 25 MB together.",
           "sizes": ["512 KB", "2 MB"]},
}


def _text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    # The words as a reader sees them: tags gone, white space collapsed.
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@pytest.fixture
def dupont(db, clock, file_storage):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    contact = make_contact(db, clock, customer, email="compta@dupont.example")
    invoice = make_invoice(db, clock, customer, number="INV-7500", total_minor=10_000)
    other = make_invoice(db, clock, customer, number="INV-7501", total_minor=10_000)
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="20.00", files=uploads(
        file_storage, ("delivery note.pdf", files.big_pdf(0.5)), ("price list.pdf", files.big_pdf(2))))
    db.commit()
    return contact, dispute, other


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_dispute_page_names_its_owner_files_and_limits_in_the_contacts_language(
        client, db, clock, dupont, language):
    contact, dispute, _ = dupont
    contact.language = None if language == "en" else language
    db.commit()
    sign_in(client, contact, clock)
    page = _text(client.get(f"/disputes/{dispute.public_id}"))
    words = WORDS[language]
    assert words["owner"] in page
    assert words["limits"] in page  # the message form's file field
    assert f"delivery note.pdf {words['sizes'][0]}" in page and f"price list.pdf {words['sizes'][1]}" in page
    if language != "en":
        assert "Not yet assigned" not in page and "CSV and XLSX" not in page


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_new_dispute_form_states_the_accepted_files_in_the_contacts_language(
        client, db, clock, dupont, language):
    contact, _, other = dupont
    contact.language = None if language == "en" else language
    db.commit()
    sign_in(client, contact, clock)
    page = _text(client.get(f"/disputes/new?invoice={other.public_id}"))
    assert WORDS[language]["limits"] in page
    if language != "en":
        assert "CSV and XLSX" not in page and "files, 10 MB each" not in page
