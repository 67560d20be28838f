"""The ERP import: one file holding every kind of bad row is refused whole with each error on
its line; a good file imported twice changes nothing the second time; an invoice with a
payment cannot be changed or voided by a re-import; credit notes and voids go through the
invoicing service."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain.core.models import AuditEntry
from portal.domain.customers.models import Customer
from portal.domain.imports.service import ImportRefused, import_erp_file
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import InvoiceEntry
from tests.support.erp import (
    HEADER, contact_row, credit_note_row, customer_row, erp_csv, import_context, invoice_rows, table_counts, void_row,
)
from tests.support.factories import add_invoice_entry, make_allocated_payment


def _import(db, clock, data: bytes):
    report = import_erp_file(import_context(db, clock), data, source="test.csv")
    db.commit()  # as the command does
    return report


def _refused(db, clock, data: bytes) -> dict[int, str]:
    db.commit()  # keep what the test arranged: the refused import is rolled back, as the command does
    with pytest.raises(ImportRefused) as refused:
        import_erp_file(import_context(db, clock), data, source="bad.csv")
    db.rollback()
    return {error.line: error.message for error in refused.value.errors}


def _invoice(db, number: str) -> Invoice:
    db.expire_all()
    return db.scalar(select(Invoice).where(Invoice.number == number))


GOOD = erp_csv(customer_row(), contact_row(), contact_row("P-2", email="ap@acme.example", ap="yes"),
               *invoice_rows(total="150.00", lines=(("Widgets", "2.5", "40.00"), ("Freight", "1", "50.00"))),
               *invoice_rows("I-2", number="SI-2", currency="JPY", total="12000", lines=(("Bolts", "3", "4000"),)))


def test_one_file_with_every_kind_of_bad_row_is_refused_with_each_line_and_writes_nothing(db, clock):
    before = table_counts(db)
    rows = [
        customer_row(),                                                                    # 2: fine
        *invoice_rows("I-1", issue="2026-13-01"),                                          # 3 (+ line 4)
        *invoice_rows("I-2", number="SI-2", currency="XYZ"),                               # 5 (+ 6)
        *invoice_rows("I-3", number="SI-3", total="150.5", lines=(("A", "1", "150.50"),)), # 7 (+ 8)
        *invoice_rows("I-4", number="SI-4", total="100.00", lines=(("A", "1", "90.00"),)), # 9 (+ 10)
        *invoice_rows("I-5", number="SI-5", customer="C-404"),                             # 11 (+ 12)
        contact_row(name="Pat\x1b[31m"),                                                   # 13
        {"record": "line", "invoice_erp_id": "I-999", "description": "Orphan", "quantity": "1",
         "unit_price": "1.00"},                                                            # 14
        credit_note_row(invoice="I-6", amount="12345678901234.00"),                        # 15
        customer_row("C-2", account="ACC-2", name="N" * 201),                              # 16
        {"record": "payment", "erp_id": "X"},                                              # 17
        customer_row("C-3", account="ACC-1"),                                              # 18: same account
        *invoice_rows("I-7", number="SI-7", due="2026-10-01"),                             # 19 (+ 20)
        *invoice_rows("I-8", number="SI-8", lines=(("A", "-1", "150.00"),)),               # 21 (+ 22)
        contact_row("P-9", email="not-an-address"),                                        # 23
    ]
    data = erp_csv(*rows) + b"customer,C-4,too,few,cells\r\n"                              # 24
    errors = _refused(db, clock, data)
    assert sorted(errors) == [3, 5, 7, 9, 11, 13, 14, 15, 16, 17, 18, 19, 22, 23, 24], errors
    assert "not a date" in errors[3]
    assert "'XYZ' is not a currency" in errors[5]
    assert "exactly 2 decimal places" in errors[7]
    assert "not the sum of its lines" in errors[9]
    assert "customer 'C-404' is not known" in errors[11]
    assert "control character" in errors[13]
    assert "not an invoice row of this file" in errors[14]
    assert "too large" in errors[15] or "not a USD amount" in errors[15]
    assert "name is too long" in errors[16]
    assert "'payment' is not one of" in errors[17]
    assert "also on line 2" in errors[18]
    assert "before issue_date" in errors[19]
    assert "quantity" in errors[22]
    assert "not an email address" in errors[23]
    assert "5 cells where the header names" in errors[24]
    assert table_counts(db) == before


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"record,colour\r\ncustomer,red\r\n", "unknown column 'colour'"),
    (b"record,total,total_minor\r\n", "both total and total_minor"),
    (b"\xff\xfe" + "record\r\n".encode("utf-16-le"), "not UTF-8"),
    (erp_csv(), "no rows to import"),
])
def test_a_file_that_cannot_be_read_is_refused_with_one_clear_error(db, clock, data, message):
    errors = _refused(db, clock, data)
    assert any(message in text for text in errors.values()), errors


def test_the_same_file_imported_twice_changes_nothing_the_second_time(db, clock):
    first = _import(db, clock, GOOD)
    assert first.summary() == "5 created, 0 updated, 0 unchanged"
    invoice = _invoice(db, "SI-1")
    assert (invoice.total_minor, invoice.balance_minor, [line.amount_minor for line in invoice.lines]) == (
        15_000, 15_000, [10_000, 5_000])
    assert _invoice(db, "SI-2").total_minor == 12_000  # JPY: no decimals
    before = table_counts(db)
    audit_rows = db.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    second = _import(db, clock, GOOD)
    assert second.summary() == "0 created, 0 updated, 5 unchanged"
    assert table_counts(db) == before
    assert db.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) == audit_rows


def test_minor_unit_columns_are_read_as_minor_units(db, clock):
    header = [name for name in HEADER if name not in ("unit_price", "total")] + ["unit_price_minor", "total_minor"]
    rows = [customer_row(), {"record": "invoice", "erp_id": "I-1", "customer_erp_id": "C-1", "number": "SI-1",
                             "currency": "KWD", "issue_date": "2026-11-01", "due_date": "2026-12-01",
                             "total_minor": "1250"},
            {"record": "line", "invoice_erp_id": "I-1", "description": "Filters", "quantity": "1",
             "unit_price_minor": "1250"}]
    _import(db, clock, erp_csv(*rows, header=header))
    assert (_invoice(db, "SI-1").currency, _invoice(db, "SI-1").total_minor) == ("KWD", 1_250)


def test_a_re_sent_due_date_is_applied_to_an_invoice_nobody_has_acted_on(db, clock):
    _import(db, clock, GOOD)
    changed = GOOD.replace(b"2026-11-01,2026-12-01,,,,,,,,150.00", b"2026-11-01,2026-12-15,,,,,,,,150.00")
    assert changed != GOOD
    assert _import(db, clock, changed).summary() == "0 created, 1 updated, 4 unchanged"
    assert _invoice(db, "SI-1").due_date.isoformat() == "2026-12-15"


def test_changing_an_invoice_that_has_a_payment_is_refused_on_its_line(db, clock):
    _import(db, clock, GOOD)
    invoice = _invoice(db, "SI-1")
    payment = make_allocated_payment(db, clock, db.get(Customer, invoice.customer_id), [(invoice, 5_000)],
                                     status="succeeded")
    add_invoice_entry(db, clock, invoice, "payment", -5_000, payment_id=payment.id)
    db.flush()
    before = table_counts(db)
    errors = _refused(db, clock, GOOD.replace(b"2026-11-01,2026-12-01,,,,,,,,150.00", b"2026-11-01,2026-12-15,,,,,,,,150.00"))
    assert list(errors) == [5]
    assert "already has payments or credits, payment attempts" in errors[5] and "credit note" in errors[5]
    errors = _refused(db, clock, GOOD + erp_csv(void_row()).split(b"\r\n", 1)[1])
    assert "cannot be voided" in errors[max(errors)]
    assert table_counts(db) == before
    assert _invoice(db, "SI-1").due_date.isoformat() == "2026-12-01"


def test_changing_an_invoice_amount_is_refused_even_before_any_payment(db, clock):
    _import(db, clock, GOOD)
    errors = _refused(db, clock, GOOD.replace(b"Freight,1,50.00", b"Freight,1,60.00").replace(b"150.00\r\n",
                                                                                                 b"160.00\r\n"))
    assert "cannot change once imported" in errors[5]


def test_a_credit_note_row_reduces_the_balance_once(db, clock):
    _import(db, clock, GOOD)
    with_note = erp_csv(credit_note_row(amount="40.00"))
    assert _import(db, clock, with_note).summary() == "1 created, 0 updated, 0 unchanged"
    assert _import(db, clock, with_note).summary() == "0 created, 0 updated, 1 unchanged"
    invoice = _invoice(db, "SI-1")
    assert invoice.balance_minor == 11_000
    [entry] = db.scalars(select(InvoiceEntry).where(InvoiceEntry.invoice_id == invoice.id,
                                                    InvoiceEntry.kind == "credit_note")).all()
    assert (entry.amount_minor, entry.reference) == (-4_000, "CN-1")
    errors = _refused(db, clock, erp_csv(credit_note_row("N-2", number="CN-2", amount="120.00")))
    assert "more than the 11000 still open" in errors[2]
    errors = _refused(db, clock, erp_csv(credit_note_row("N-3", number="CN-3", currency="EUR")))
    assert "the invoice is in USD, not EUR" in errors[2]


def test_a_void_closes_an_untouched_invoice_with_a_credit_for_its_total(db, clock):
    _import(db, clock, GOOD)
    assert _import(db, clock, erp_csv(void_row())).summary() == "1 created, 0 updated, 0 unchanged"
    invoice = _invoice(db, "SI-1")
    assert invoice.balance_minor == 0
    kinds = db.execute(select(InvoiceEntry.kind, InvoiceEntry.amount_minor, InvoiceEntry.reference)
                       .where(InvoiceEntry.invoice_id == invoice.id).order_by(InvoiceEntry.id)).all()
    assert [tuple(row) for row in kinds] == [("issued", 15_000, "SI-1"), ("credit_note", -15_000, "VOID V-1")]
    assert _import(db, clock, erp_csv(void_row())).summary() == "0 created, 0 updated, 1 unchanged"


def test_a_contact_for_a_customer_imported_earlier_is_added(db, clock):
    _import(db, clock, GOOD)
    report = _import(db, clock, erp_csv(contact_row("P-3", email="Lee@Acme.example", name="Lee")))
    assert report.summary() == "1 created, 0 updated, 0 unchanged"
    assert table_counts(db)["contacts"] == 3


def test_the_command_prints_each_error_with_its_line_and_exits_1(app, db, clock, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(erp_csv(customer_row(), *invoice_rows(due="2026-02-30")))
    result = app.test_cli_runner().invoke(args=["import-invoices", str(bad)])
    assert result.exit_code == 1
    assert "The file was not imported: 1 row has errors. Nothing was changed." in result.stderr
    assert "line 3: invoice: due_date '2026-02-30' is not a date (YYYY-MM-DD)" in result.stderr
    assert table_counts(db)["customers"] == 0
    good = tmp_path / "good.csv"
    good.write_bytes(GOOD)
    result = app.test_cli_runner().invoke(args=["import-invoices", str(good)])
    assert (result.exit_code, result.stdout.strip()) == (0, "5 created, 0 updated, 0 unchanged")


def test_after_a_large_import_the_command_tidies_the_tables(app, db, clock, tmp_path, monkeypatch):
    monkeypatch.setattr("portal.cli.erp.TIDY_AFTER_ROWS", 5)  # this file counts as large
    file = tmp_path / "erp.csv"
    file.write_bytes(GOOD)
    db.commit()
    result = app.test_cli_runner().invoke(args=["import-invoices", str(file)])
    assert result.exit_code == 0, result.output
    vacuumed = " and dead row versions vacuumed" if db.get_bind().dialect.name == "postgresql" else ""
    assert result.stdout.splitlines() == ["5 created, 0 updated, 0 unchanged", "planner statistics refreshed" + vacuumed]
    assert app.test_cli_runner().invoke(args=["import-invoices", str(file)]).stdout.splitlines() == [
        "0 created, 0 updated, 5 unchanged"]
