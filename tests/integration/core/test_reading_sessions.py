"""A reading request's session (`reading_session`): on PostgreSQL its statements run without
BEGIN and COMMIT around them, and on both databases it refuses to write through the ORM."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from portal.domain.core.database import ReadingSessionWrote, make_session_factory, reading_session, writing_session
from portal.domain.customers.models import Customer


@pytest.fixture
def factory(engine):
    return make_session_factory(engine)


@pytest.fixture
def transaction_modes(engine):
    """For each statement the engine runs: whether its DBAPI connection was in autocommit."""
    modes: list[bool] = []

    def record(conn, _cursor, _statement, _params, _context, _executemany):
        driver = conn.connection.driver_connection
        # psycopg: `autocommit`; sqlite3 with the transaction taken over: isolation_level None,
        # and the session's own BEGIN is what matters there (checked by the other test).
        modes.append(bool(getattr(driver, "autocommit", False)) if engine.dialect.name == "postgresql" else False)

    event.listen(engine, "before_cursor_execute", record)
    yield modes
    event.remove(engine, "before_cursor_execute", record)


def test_a_reading_session_refuses_to_write_through_the_orm_and_writes_nothing(factory, engine):
    with reading_session(factory) as reading:
        reading.add(Customer(account_number="C-READ-1", name="Read Only Ltd", timezone="UTC",
                             created_at=datetime.now(UTC)))
        with pytest.raises(ReadingSessionWrote, match="1 new"):
            reading.flush()
        reading.rollback()
    with factory() as other:
        assert other.scalar(select(func.count()).select_from(Customer).where(Customer.account_number == "C-READ-1")) == 0


def test_a_writing_session_of_the_same_factory_still_writes(factory):
    with writing_session(factory) as writing:
        writing.add(Customer(account_number="C-WRITE-1", name="Writer Ltd", timezone="UTC",
                             created_at=datetime.now(UTC)))
        writing.flush()  # no refusal: only reading sessions are guarded
        assert writing.scalar(select(func.count()).select_from(Customer).where(
            Customer.account_number == "C-WRITE-1")) == 1
        writing.rollback()


@pytest.mark.postgres_only
def test_on_postgresql_reading_runs_without_a_transaction_and_the_pool_forgets_it(factory, transaction_modes):
    with reading_session(factory) as reading:
        reading.scalar(select(func.count()).select_from(Customer))
        reading.scalar(select(func.count()).select_from(Customer))
        reading.commit()
    # The same pooled connection, checked out again by a writer: back in a transaction.
    with writing_session(factory) as writing:
        writing.scalar(select(func.count()).select_from(Customer))
        writing.rollback()
    assert transaction_modes == [True, True, False]
