"""Property: whatever was paid, credited or reversed on an invoice, re-issuing it with a PO
leaves what the customer owes exactly unchanged (the credit note and the replacement are
the same amount), the old invoice closed, the replacement holding what was open, and the
maintained sums equal to the entries (`check-ledger`), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.policy import DueDateRule, ReissueMode
from portal.domain.invoicing.service import reissue_with_po
from portal.domain.ledger.jobs import check_ledger
from portal.domain.ledger.models import AccountTotal
from portal.domain.ledger.states import EntryKind
from tests.support.factories import add_invoice_entry, make_customer, make_invoice

# (kind, fraction of the total in thousandths): payments and credits reduce, reversals add back.
MOVES = st.lists(st.tuples(st.sampled_from([EntryKind.PAYMENT, EntryKind.CREDIT_NOTE, EntryKind.PAYMENT_REVERSAL]),
                           st.integers(1, 400)), max_size=5)


def _owed(db, customer_id: int) -> dict[str, int]:
    return dict(db.execute(select(AccountTotal.currency, AccountTotal.open_minor)
                           .where(AccountTotal.customer_id == customer_id)).all())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(total=st.integers(1, 99_999_999), currency=st.sampled_from(["USD", "JPY", "KWD"]), moves=MOVES,
       other=st.integers(0, 10**6), rule=st.sampled_from(list(DueDateRule)))
def test_reissuing_leaves_what_is_owed_exactly_unchanged(session_factory, clock, total, currency, moves, other, rule):
    with session_factory() as db:
        customer = make_customer(db, clock)
        today = clock.now().date()
        invoice = make_invoice(db, clock, customer, total_minor=total, currency=currency,
                               issue_date=today - timedelta(days=20), due_date=today + timedelta(days=10))
        if other:
            make_invoice(db, clock, customer, total_minor=other, currency=currency)
        balance = total
        for kind, thousandths in moves:
            amount = max(1, total * thousandths // 1000)
            if kind == EntryKind.PAYMENT_REVERSAL:
                amount = min(amount, total - balance)
                if amount <= 0:
                    continue
                add_invoice_entry(db, clock, invoice, kind, amount)
                balance += amount
            else:
                amount = min(amount, balance - 1)
                if amount <= 0:
                    continue
                add_invoice_entry(db, clock, invoice, kind, -amount)
                balance -= amount
        db.commit()
        before = _owed(db, customer.id)
        count_before = db.scalar(select(func.count()).select_from(Invoice).where(Invoice.customer_id == customer.id))

        done = reissue_with_po(Context(db, clock, Actor("staff", "s")), invoice_id=invoice.id, po_number="PO-P",
                               rule=rule, today=today, ever_disputed=False,
                               replacement_numbers=[f"{invoice.number}-R1"])
        db.commit()
        db.expire_all()
        assert _owed(db, customer.id) == before
        assert check_ledger(db).is_consistent
        count_after = db.scalar(select(func.count()).select_from(Invoice).where(Invoice.customer_id == customer.id))
        if done.mode == ReissueMode.IN_PLACE:
            assert count_after == count_before and db.get(Invoice, invoice.id).balance_minor == total
        else:
            old, new = db.get(Invoice, invoice.id), db.get(Invoice, done.invoice.id)
            assert count_after == count_before + 1
            assert (old.balance_minor, new.balance_minor, new.total_minor) == (0, balance, balance)
            assert done.record.credit_minor == balance and new.currency == currency
            assert sum(line.amount_minor for line in new.lines) == balance
        assert db.get(Invoice, done.invoice.id).po_number == "PO-P"
