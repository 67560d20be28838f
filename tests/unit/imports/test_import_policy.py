"""Reading an import file without the database: amounts in either form with the currency's
exact exponent, line numbers that count from where a row starts, fingerprints that ignore
where a row was in the file."""

from __future__ import annotations

import pytest

from portal.domain.imports.policy import parse_import
from tests.support.erp import HEADER, customer_row, erp_csv, invoice_rows


def _invoice_file(currency: str, total: str, unit: str) -> bytes:
    return erp_csv(customer_row(), *invoice_rows(currency=currency, total=total, lines=(("Item", "1", unit),)))


@pytest.mark.parametrize(("currency", "text", "minor"), [
    ("USD", "125.00", 12_500), ("JPY", "125", 125), ("KWD", "1.250", 1_250), ("USD", "0.01", 1),
])
def test_a_decimal_amount_with_the_currency_s_exponent_is_read_exactly(currency, text, minor):
    parsed = parse_import(_invoice_file(currency, text, text))
    assert parsed.errors == [] and parsed.invoices[0].total_minor == minor


@pytest.mark.parametrize(("currency", "text"), [
    ("USD", "125"), ("USD", "125.5"), ("USD", "125.000"), ("JPY", "125.00"), ("KWD", "1.25"), ("USD", "-5.00"),
    ("USD", "1,250.00"), ("USD", "1e3"), ("USD", "١٢٣.00"), ("USD", "12345678901.00"),
])
def test_any_other_amount_text_is_refused_on_its_line(currency, text):
    parsed = parse_import(_invoice_file(currency, text, "1.00"))
    assert [error.line for error in parsed.errors] == [3]


def test_minor_units_columns_take_whole_numbers_only():
    header = [c for c in HEADER if c not in ("total", "unit_price")] + ["total_minor", "unit_price_minor"]
    good = erp_csv(customer_row(), {"record": "invoice", "erp_id": "I-1", "customer_erp_id": "C-1", "number": "N",
                                    "currency": "USD", "issue_date": "2026-01-01", "due_date": "2026-01-31",
                                    "total_minor": "300"},
                   {"record": "line", "invoice_erp_id": "I-1", "description": "A", "quantity": "1.5",
                    "unit_price_minor": "200"}, header=header)
    parsed = parse_import(good)
    assert parsed.errors == [] and [line.amount_minor for line in parsed.invoices[0].lines] == [300]
    bad = parse_import(good.replace(b",300,\r\n", b",300.00,\r\n"))
    assert "not a whole number of minor units" in bad.errors[0].message


def test_line_numbers_count_from_where_a_quoted_multi_line_row_starts():
    data = erp_csv(customer_row(name="Acme\nLtd"), customer_row("C-2", account="A-2", name="Beta"),
                   customer_row("C-3", account="A-3", timezone="Mars/Olympus"))
    errors = parse_import(data).errors
    assert [(error.line, "control character" in error.message or "time zone" in error.message)
            for error in errors] == [(2, True), (5, True)]


def test_the_fingerprint_ignores_the_line_and_follows_the_content():
    first = parse_import(_invoice_file("USD", "10.00", "10.00")).invoices[0]
    moved = parse_import(erp_csv(customer_row(), customer_row("C-9", account="A-9"), *invoice_rows(
        total="10.00", lines=(("Item", "1", "10.00"),)))).invoices[0]
    other = parse_import(_invoice_file("USD", "11.00", "11.00")).invoices[0]
    assert first.line != moved.line and first.fingerprint() == moved.fingerprint() != other.fingerprint()


def test_a_file_above_the_size_limit_is_refused_before_it_is_read(monkeypatch):
    monkeypatch.setattr("portal.domain.imports.policy.MAX_IMPORT_BYTES", 100)
    assert "larger than" in parse_import(b"record\r\n" + b"x" * 200).errors[0].message
