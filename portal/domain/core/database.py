"""Engine and session factory for PostgreSQL (production) and SQLite (the embedded default)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_LOCK_WAIT_SECONDS = 45


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        # A writer waits for the lock instead of failing. The wait outlasts the Stripe call
        # timeout, because a payment holds SQLite's write lock while Stripe answers.
        engine = create_engine(url, connect_args={"timeout": SQLITE_LOCK_WAIT_SECONDS}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # Take the transaction over from pysqlite so BEGIN happens when SQLAlchemy says.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_LOCK_WAIT_SECONDS * 1000}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # BEGIN IMMEDIATE would serialize readers too; a deferred BEGIN plus the first write
            # taking the lock is what the portable "lock row" update relies on.
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
