"""`check_ledger` and `flask check-ledger`: a figure written past the triggers is reported."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from portal.domain.customers.models import Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.jobs import LedgerDifference, check_ledger
from portal.domain.ledger.models import AccountDueDate, AccountTotal
from tests.support.factories import add_invoice_entry, make_allocated_payment, make_customer, make_invoice


def _seed(db, clock):
    customer = make_customer(db, clock)
    paid = make_invoice(db, clock, customer, total_minor=10_000, number="INV-CL-1")
    add_invoice_entry(db, clock, paid, "payment", -4_000, reference="ch_1")
    moving = make_invoice(db, clock, customer, total_minor=7_000, number="INV-CL-2")
    make_allocated_payment(db, clock, customer, [(moving, 3_000)], status="processing")
    return paid, moving


def test_clean_ledger_reports_no_difference(db, clock):
    _seed(db, clock)

    report = check_ledger(db)

    assert report.invoices_checked == 2
    assert report.differences == [] and report.is_consistent


def test_a_raw_update_past_the_triggers_is_reported(db, clock):
    paid, moving = _seed(db, clock)
    db.execute(update(Invoice).where(Invoice.id == paid.id).values(balance_minor=6_500))
    db.execute(update(Invoice).where(Invoice.id == moving.id).values(in_flight_minor=0))
    db.commit()

    report = check_ledger(db)

    assert not report.is_consistent
    assert report.differences == [
        LedgerDifference("INV-CL-1", "balance_minor", stored=6_500, computed=6_000),
        LedgerDifference("INV-CL-2", "in_flight_minor", stored=0, computed=3_000),
    ]


def test_command_exits_zero_on_a_clean_ledger_and_one_on_a_difference(app, db, clock):
    paid, _moving = _seed(db, clock)
    runner = app.test_cli_runner()

    clean = runner.invoke(args=["check-ledger"])
    assert clean.exit_code == 0, clean.output
    assert "2 invoices checked, no difference" in clean.output

    db.execute(update(Invoice).where(Invoice.id == paid.id).values(balance_minor=1))
    db.commit()
    broken = runner.invoke(args=["check-ledger"])
    assert broken.exit_code == 1, broken.output
    assert "INV-CL-1: balance_minor is 1, its history adds up to 6000" in broken.output
    assert "1 difference" in broken.output


def test_account_totals_written_past_the_triggers_are_reported(db, clock):
    paid, moving = _seed(db, clock)
    customer_id = paid.customer_id
    db.execute(update(AccountTotal).where(AccountTotal.customer_id == customer_id)
               .values(open_minor=AccountTotal.open_minor + 1))
    db.execute(delete(AccountDueDate).where(AccountDueDate.customer_id == customer_id,
                                            AccountDueDate.due_date == moving.due_date))
    db.commit()
    number = db.scalar(select(Customer.account_number).where(Customer.id == customer_id))

    report = check_ledger(db)

    assert not report.is_consistent
    # Both invoices share a due date: its row, now missing, held both open balances.
    assert [str(d) for d in report.differences] == [
        f"{number} USD: open_minor is 13001, its invoices add up to 13000",
        f"{number} USD due {moving.due_date.isoformat()}: open_count is 0, its invoices add up to 2",
        f"{number} USD due {moving.due_date.isoformat()}: open_minor is 0, its invoices add up to 13000",
    ]
