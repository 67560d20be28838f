"""Migration 0030: the English notes the portal wrote on replacement invoices are cleared (the
page now names what an invoice replaces in the reader's language), notes anywhere else are
kept, and the re-bill lookup's index comes and goes with it."""

from __future__ import annotations

from sqlalchemy import inspect, select, text

from portal import migrate
from portal.domain.invoicing.models import Invoice, InvoiceReissue
from tests.support.disputes import raise_test_dispute
from tests.support.factories import make_contact, make_customer, make_invoice

REISSUE_NOTE = "Replaces invoice INV-1, re-issued with PO PO-9."
REBILL_NOTE = "Replaces invoice INV-2 (dispute D-7KQ2)."


def _notes(engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {row.number: row.notes for row in connection.execute(select(Invoice.number, Invoice.notes))}


def _indexes(engine) -> set[str]:
    return {index["name"] for index in inspect(engine).get_indexes("dispute_invoices")}


def test_the_generated_notes_go_and_every_other_note_stays(database_url, engine, db, clock):
    customer = make_customer(db, clock)
    contact = make_contact(db, clock, customer)
    invoices = {number: make_invoice(db, clock, customer, number=number, total_minor=10_000)
                for number in ("INV-1", "INV-1-R1", "INV-2", "INV-2-R1", "INV-3")}
    db.add(InvoiceReissue(invoice_id=invoices["INV-1"].id, replacement_invoice_id=invoices["INV-1-R1"].id,
                          po_after="PO-9", due_before=clock.now().date(), due_after=clock.now().date(),
                          credit_minor=10_000, created_at=clock.now()))
    raise_test_dispute(db, clock, contact, [invoices["INV-2"]], amount_text="20.00")
    db.commit()
    db.close()
    engine.dispose()
    migrate.downgrade(database_url, "0029")
    engine.dispose()
    assert "ix_dispute_invoices_rebilled" not in _indexes(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE dispute_invoices SET rebilled_invoice_id = :new"),
                           {"new": invoices["INV-2-R1"].id})
        for number, note in {"INV-1-R1": REISSUE_NOTE, "INV-2-R1": REBILL_NOTE,
                             # the supplier's own note on an invoice nothing replaced
                             "INV-3": "Replaces invoice 0815 from the old system.",
                             "INV-1": "Delivered to dock 4."}.items():
            connection.execute(text("UPDATE invoices SET notes = :note WHERE number = :number"),
                               {"note": note, "number": number})

    migrate.upgrade(database_url)
    engine.dispose()
    assert _notes(engine) == {"INV-1": "Delivered to dock 4.", "INV-1-R1": "", "INV-2": "", "INV-2-R1": "",
                              "INV-3": "Replaces invoice 0815 from the old system."}
    assert "ix_dispute_invoices_rebilled" in _indexes(engine)
