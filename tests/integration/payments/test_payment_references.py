"""Reference numbers: consecutive per year, never shared, on both databases; the migration
numbers the payments made before it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from threading import Barrier

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from portal import migrate
from portal.domain.core.database import make_engine, make_session_factory
from portal.domain.payments.models import Payment, PaymentReferenceCounter
from portal.domain.payments.service import next_payment_reference, take_payment_references
from tests.support.factories import make_allocated_payment, make_customer, make_invoice


def test_references_count_up_within_a_year_and_start_again_in_the_next(db):
    assert [next_payment_reference(db, 2026) for _ in range(3)] == [
        "PAY-2026-000001", "PAY-2026-000002", "PAY-2026-000003"]
    assert next_payment_reference(db, 2027) == "PAY-2027-000001"
    assert next_payment_reference(db, 2026) == "PAY-2026-000004"
    assert take_payment_references(db, 2026, 3) == ["PAY-2026-000005", "PAY-2026-000006", "PAY-2026-000007"]
    assert next_payment_reference(db, 2026) == "PAY-2026-000008"
    with pytest.raises(ValueError):
        take_payment_references(db, 2026, 0)


def test_a_rolled_back_attempt_gives_its_number_back(db):
    db.commit()
    next_payment_reference(db, 2026)
    db.rollback()
    assert next_payment_reference(db, 2026) == "PAY-2026-000001"


def test_the_database_refuses_two_payments_with_one_reference(db, clock):
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer)
    first = make_allocated_payment(db, clock, customer, [(invoice, 100)])
    second = make_allocated_payment(db, clock, customer, [(invoice, 100)], status="failed")
    assert first.reference != second.reference
    db.commit()
    second.reference = first.reference
    with pytest.raises(sa.exc.IntegrityError):
        db.flush()
    db.rollback()


@pytest.mark.postgres_only
def test_twenty_transactions_taking_a_reference_at_once_get_twenty_different_numbers(engine):
    """Different customers, no shared customer lock: only the counter row orders them."""
    sessions = make_session_factory(engine)
    start = Barrier(20)

    def take(_n: int) -> str:
        with sessions() as session:
            start.wait()
            reference = next_payment_reference(session, 2026)
            session.commit()
            return reference

    with ThreadPoolExecutor(max_workers=20) as pool:
        references = list(pool.map(take, range(20)))
    assert sorted(references) == [f"PAY-2026-{n:06d}" for n in range(1, 21)]


def test_the_migration_numbers_existing_payments_per_year_in_the_order_they_were_started(database_url, clock):
    migrate.downgrade(database_url, "0008")
    engine = make_engine(database_url)
    try:
        meta = sa.MetaData()
        customers = sa.Table("customers", meta, autoload_with=engine)
        payments = sa.Table("payments", meta, autoload_with=engine)
        assert "reference" not in payments.c
        started = [datetime(2025, 12, 31, 23, 0, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC),
                   datetime(2025, 6, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)]
        naive = [moment.replace(tzinfo=None) for moment in started] if engine.dialect.name == "sqlite" else started
        with engine.begin() as conn:
            customer_id = conn.execute(customers.insert().values(
                public_id="c" * 22, account_number="MIG-1", name="Before references", timezone="UTC",
                payment_lock=0, created_at=naive[2]).returning(customers.c.id)).scalar_one()
            for n, moment in enumerate(naive):
                conn.execute(payments.insert().values(
                    public_id=f"p{n}".ljust(22, "x"), customer_id=customer_id, currency="USD", amount_minor=100,
                    method="card", status="succeeded", request_key=f"rk{n}", idempotency_key=f"ik{n}",
                    po_number="", memo="", failure_code="", failure_message="", created_at=moment, updated_at=moment))
        engine.dispose()

        migrate.upgrade(database_url)
        with make_session_factory(engine)() as session:
            rows = session.execute(select(Payment.public_id, Payment.reference).order_by(Payment.public_id)).all()
            assert [reference for _, reference in rows] == [
                "PAY-2025-000002", "PAY-2026-000002", "PAY-2025-000001", "PAY-2026-000001"]
            counters = dict(session.execute(select(PaymentReferenceCounter.year, PaymentReferenceCounter.last_number)).all())
            assert counters == {2025: 2, 2026: 2}
            # New attempts continue after the numbers the migration gave.
            assert next_payment_reference(session, 2026) == "PAY-2026-000003"
            session.rollback()

        # Down and up again: the same numbering.
        migrate.downgrade(database_url, "0008")
        migrate.upgrade(database_url)
        with make_session_factory(engine)() as session:
            assert session.scalars(select(Payment.reference).order_by(Payment.public_id)).all() == [
                "PAY-2025-000002", "PAY-2026-000002", "PAY-2025-000001", "PAY-2026-000001"]
    finally:
        engine.dispose()
