"""Cash out: every money movement on an invoice after the cursor, each with a stable
reference, and nothing again after the cursor the export gave; on PostgreSQL an entry of a
transaction still running is held back (never skipped) until it commits."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from portal.domain.customers.models import Customer
from portal.domain.exports.queries import (
    CashCursor, CursorInvalid, all_cash_since, cash_since, entry_reference, parse_cursor,
)
from portal.domain.imports.service import import_erp_file
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.payments.service import next_payment_reference
from tests.support.erp import credit_note_row, customer_row, erp_csv, import_context, invoice_rows
from tests.support.factories import add_invoice_entry, make_allocated_payment


def _imported(db, clock) -> Invoice:
    import_erp_file(import_context(db, clock), erp_csv(customer_row(), *invoice_rows(total="150.00", lines=(
        ("Widgets", "1", "150.00"),)), credit_note_row(amount="10.00", number="=CN-1")),
                    source="t.csv")
    db.commit()
    return db.scalar(select(Invoice).where(Invoice.number == "SI-1"))


def _settle(db, clock, invoice: Invoice, amount: int):
    payment = make_allocated_payment(db, clock, db.get(Customer, invoice.customer_id), [(invoice, amount)],
                                     status="succeeded")
    payment.reference = next_payment_reference(db, clock.now().year)
    add_invoice_entry(db, clock, invoice, "payment", -amount, payment_id=payment.id, reference=payment.reference)
    db.commit()
    return payment


def test_the_export_lists_allocations_credits_and_refunds_once_each(db, clock):
    invoice = _imported(db, clock)
    payment = _settle(db, clock, invoice, 6_000)
    add_invoice_entry(db, clock, invoice, "refund", 1_000, payment_id=payment.id, reference="re_1")
    db.commit()

    page = cash_since(db, CashCursor())
    rows = [(row.kind, row.amount.minor, row.payment_reference, row.invoice_erp_id, row.customer_erp_id)
            for row in page.rows]
    assert rows == [("credit_note", -1_000, "", "I-1", "C-1"), ("payment", -6_000, payment.reference, "I-1", "C-1"),
                    ("refund", 1_000, payment.reference, "I-1", "C-1")]
    entries = db.scalars(select(InvoiceEntry.id).where(InvoiceEntry.kind != "issued").order_by(InvoiceEntry.id))
    assert [row.reference for row in page.rows] == [entry_reference(entry_id) for entry_id in entries]
    assert page.rows[-1].cursor == page.next_cursor and not page.more
    # A document number from the ERP cannot become a spreadsheet formula.
    assert page.rows[0].cells()[-1] == "'=CN-1"
    assert page.rows[1].cells()[9:11] == ["-60.00", "-6000"]

    again = cash_since(db, page.next_cursor)
    assert again.rows == [] and again.next_cursor == page.next_cursor
    later = _settle(db, clock, invoice, 500)
    [new] = cash_since(db, page.next_cursor).rows
    assert (new.kind, new.payment_reference) == ("payment", later.reference)
    # The same cursor gives the same rows: the references are stable.
    assert [row.reference for row in cash_since(db, CashCursor()).rows][:3] == [row.reference for row in page.rows]


def test_pages_follow_each_other_without_gaps(db, clock):
    invoice = _imported(db, clock)
    for _ in range(5):
        _settle(db, clock, invoice, 100)
    rows, final = all_cash_since(db, CashCursor(), page=2)
    assert [row.kind for row in rows] == ["credit_note"] + ["payment"] * 5
    assert cash_since(db, final[0]).rows == []


@pytest.mark.parametrize("text", ["x", "1", "-1-2", "1-2-3", "1.5-2", "99999999999999999999-1"])
def test_a_cursor_that_the_export_did_not_give_is_refused(text):
    with pytest.raises(CursorInvalid):
        parse_cursor(text)


def test_a_cursor_reads_back_as_written():
    assert parse_cursor(str(CashCursor(812, 44))) == CashCursor(812, 44)
    assert parse_cursor("") == CashCursor()


@pytest.mark.postgres_only
def test_an_entry_of_a_running_transaction_is_held_back_not_skipped(db, clock, session_factory):
    """PostgreSQL hands out entry ids when rows are inserted: the slow writer's entry gets the
    smaller id but commits last. An id cursor would jump over it; this one waits for it."""
    invoice = _imported(db, clock)
    # Another customer's invoice: the two writers share no row (balances, account totals).
    import_erp_file(import_context(db, clock), erp_csv(customer_row("C-2", account="ACC-2"), *invoice_rows(
        "I-2", customer="C-2", number="SI-2")), source="t2.csv")
    db.commit()
    other = db.scalar(select(Invoice).where(Invoice.number == "SI-2"))
    start = cash_since(db, CashCursor()).next_cursor
    db.commit()
    slow, fast = session_factory(), session_factory()
    try:
        slow_entry = add_invoice_entry(slow, clock, slow.get(Invoice, invoice.id), "payment", -100)
        fast_entry = add_invoice_entry(fast, clock, fast.get(Invoice, other.id), "payment", -200)
        assert slow_entry.id < fast_entry.id
        fast.commit()
        slow_ref, fast_ref = entry_reference(slow_entry.id), entry_reference(fast_entry.id)
        db.commit()
        held = [row.reference for row in cash_since(db, start).rows]
        assert fast_ref not in held  # committed, but it waits behind the slow one
        slow.commit()
        db.commit()
        released = [row.reference for row in cash_since(db, start).rows]
        assert released == [slow_ref, fast_ref]  # both now, in the order they were written
    finally:
        slow.close()
        fast.close()


def test_the_export_command_writes_csv_and_the_next_cursor(app, db, clock, tmp_path):
    invoice = _imported(db, clock)
    payment = _settle(db, clock, invoice, 2_500)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export-cash", "--since", ""])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(row["kind"], row["payment_reference"], row["amount"]) for row in rows] == [
        ("credit_note", "", "-10.00"), ("payment", payment.reference, "-25.00")]
    assert f"next_cursor={rows[-1]['cursor']}" in result.stderr
    output = tmp_path / "cash.csv"
    result = runner.invoke(args=["export-cash", "--since", rows[-1]["cursor"], "--output", str(output)])
    assert result.exit_code == 0 and output.read_text().splitlines() == [output.read_text().splitlines()[0]]
    assert runner.invoke(args=["export-cash", "--since", "garbage"]).exit_code == 2
