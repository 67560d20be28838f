"""An invoice a dispute's re-bill replaced, and the corrected invoice that replaced it, name each
other on their pages and PDFs in the reader's language, with a link between them.

The corrected invoice used to carry an English note ("Replaces invoice INV-7002 (dispute
D-...).") and the old one's credit an English reference ("Dispute ...: re-billed as ..."): a
French or German clerk read them so on the page and the PDF."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select, update

from portal.domain.disputes import service
from portal.domain.disputes.models import DisputeInvoice
from portal.domain.disputes.notifications import DisputeMail
from portal.domain.disputes.service import Correction
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.service import NewLine
from tests.support.disputes import raise_test_dispute, staff_context
from tests.support.documents import documents_rendered, pdf_text
from tests.support.factories import make_contact, make_customer, make_invoice, make_invoice_link, sign_in

WORDS = {
    None: ("Replaces invoice", "Replaced by invoice"),
    "fr": ("Remplace la facture", "Remplacée par la facture"),
    "de": ("Ersetzt Rechnung", "Ersetzt durch Rechnung"),
}


@pytest.fixture
def rebilled(db, clock, supplier, link_signer):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    old = make_invoice(db, clock, customer, number="INV-7002", total_minor=12_000)
    contact = make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")
    dispute = raise_test_dispute(db, clock, contact, [old], amount_text="20.00")
    correction = Correction("INV-7002-R1", clock.now().date() + timedelta(days=30), [NewLine("Comté 24 mois", 4, 2_500)])
    service.rebill(staff_context(db, clock), DisputeMail(supplier, link_signer), dispute.public_id,
                   {old.public_id: correction})
    db.commit()
    new = db.scalars(select(Invoice).where(Invoice.number == "INV-7002-R1")).one()
    return {"customer": customer, "contact": contact, "old": old, "new": new, "dispute": dispute}


def _facts(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = unescape(response.get_data(as_text=True))
    return html.split('<dl class="facts">', 1)[1].split("</dl>", 1)[0]


def _flat(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize("language", [None, "fr", "de"])
def test_the_corrected_invoice_and_the_one_it_replaced_name_and_link_each_other(
        client, db, clock, rebilled, language):
    rebilled["contact"].language = language
    replaces, replaced_by = WORDS[language]
    old, new = rebilled["old"], rebilled["new"]
    sign_in(client, rebilled["contact"], clock)

    response = client.get(f"/invoices/{new.public_id}")
    facts = _facts(response)
    assert f'<dt>{replaces}</dt><dd><a href="/invoices/{old.public_id}">INV-7002</a></dd>' in facts, facts
    assert replaced_by not in facts
    page = unescape(response.get_data(as_text=True))
    assert "Replaces invoice" not in page.replace(replaces, "") and "(dispute" not in page

    response = client.get(f"/invoices/{old.public_id}")
    facts = _facts(response)
    assert f'<dt>{replaced_by}</dt><dd><a href="/invoices/{new.public_id}">INV-7002-R1</a></dd>' in facts, facts
    history = _flat(unescape(response.get_data(as_text=True)).split('class="data history', 1)[1].split("</table>")[0])
    # The credit's reference is the corrected invoice's number: words in no language.
    assert "INV-7002-R1" in history and "re-billed" not in history and "Dispute" not in history, history


@pytest.mark.parametrize("language", [None, "fr"])
def test_the_pdfs_name_the_replacement_in_the_readers_language(app, client, db, clock, rebilled, language):
    rebilled["contact"].language = language
    replaces, replaced_by = WORDS[language]
    sign_in(client, rebilled["contact"], clock)
    with documents_rendered(app) as documents:
        new_pdf = client.get(f"/invoices/{rebilled['new'].public_id}/pdf")
        old_pdf = client.get(f"/invoices/{rebilled['old'].public_id}/pdf")
    assert f"<td>{replaces}</td><td>INV-7002</td>" in documents[0], documents[0]
    assert f"<td>{replaced_by}</td><td>INV-7002-R1</td>" in documents[1], documents[1]
    assert f"{replaces} INV-7002" in pdf_text(new_pdf.data)
    assert f"{replaced_by} INV-7002-R1" in pdf_text(old_pdf.data)
    assert "Notes" not in pdf_text(new_pdf.data) and "dispute" not in pdf_text(new_pdf.data).lower()


def test_a_link_for_one_invoice_names_the_other_without_linking_to_it(client, db, clock, rebilled):
    """A session from an invoice link sees only the invoices the link was sent for: the page
    names the other invoice but does not link to a page that would refuse it."""
    link = make_invoice_link(db, clock, rebilled["contact"], [rebilled["new"]])
    sign_in(client, rebilled["contact"], clock, link=link)
    facts = _facts(client.get(f"/invoices/{rebilled['new'].public_id}"))
    assert "<dt>Replaces invoice</dt><dd>INV-7002</dd>" in facts, facts
    assert client.get(f"/invoices/{rebilled['old'].public_id}").status_code == 404


def test_an_invoice_nothing_replaced_names_no_other(client, db, clock, rebilled):
    other = make_invoice(db, clock, rebilled["customer"], number="INV-7003", total_minor=5_000)
    sign_in(client, rebilled["contact"], clock)
    facts = _facts(client.get(f"/invoices/{other.public_id}"))
    assert "Replace" not in facts and "<dt>PO number</dt>" in facts


def test_a_record_linking_another_customers_invoice_names_nothing(client, db, clock, rebilled):
    """Both replacements keep the customer by construction; the page does not rely on it."""
    stranger = make_invoice(db, clock, make_customer(db, clock, name="Other Co"), number="SECRET-1", total_minor=100)
    db.execute(update(DisputeInvoice).values(rebilled_invoice_id=stranger.id))
    db.commit()
    sign_in(client, rebilled["contact"], clock)
    facts = _facts(client.get(f"/invoices/{rebilled['old'].public_id}"))
    assert "SECRET-1" not in facts and "Replaced by" not in facts, facts
