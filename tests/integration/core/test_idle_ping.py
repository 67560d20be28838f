"""A pooled PostgreSQL connection is checked before use only after it sat idle, and one the
server closed meanwhile is replaced instead of failing the request (`ping_when_idle`)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from portal.domain.core.database import ping_when_idle

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def counted_engine(database_url):
    """An engine with one pooled connection whose pings are counted."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    pings = []
    ping = engine.dialect.do_ping

    def counting_ping(dbapi_connection):
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counting_ping
    yield engine, pings
    engine.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT pg_backend_pid()"))


def test_a_connection_used_a_moment_ago_is_not_pinged(counted_engine):
    engine, pings = counted_engine
    ping_when_idle(engine, idle_seconds=60)
    first = _backend_pid(engine)
    for _ in range(5):
        assert _backend_pid(engine) == first  # the same pooled connection each time
    assert pings == []


def test_an_idle_connection_is_pinged_and_kept_when_alive(counted_engine):
    engine, pings = counted_engine
    ping_when_idle(engine, idle_seconds=0)
    first = _backend_pid(engine)  # a new connection: nothing to check
    assert pings == []
    assert _backend_pid(engine) == first
    assert len(pings) == 1


def test_an_idle_connection_the_server_closed_is_replaced(counted_engine, database_url):
    engine, pings = counted_engine
    ping_when_idle(engine, idle_seconds=0)
    doomed = _backend_pid(engine)
    killer = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": doomed}) is True
    finally:
        killer.dispose()

    replacement = _backend_pid(engine)  # no error reaches the caller
    assert replacement != doomed
    assert len(pings) == 1
