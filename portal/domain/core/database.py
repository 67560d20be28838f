"""Engine, sessions and transactions, for PostgreSQL (production) and SQLite (the embedded default).

How a transaction runs here:
- A request or command gets one session and is committed once, by the web glue or the command
  runner (`portal.web.context`, `portal.cli`), never from inside the domain.
- The one exception is `commit_before_outside_call`: what must survive a call to Stripe or an
  SMTP server (an attempt's idempotency key, an outbox claim) is committed *before* the call, so
  that no transaction is open while the outside service answers.
- On SQLite a writing session (`writing_session`) takes the database's write lock when each of
  its transactions begins (`BEGIN IMMEDIATE`): a transaction that has read and then writes can
  otherwise fail at once with "database is locked" when another connection committed in
  between. Reading sessions begin deferred and never wait for writers (WAL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import time

from sqlalchemy import CursorResult, Engine, Executable, Select, create_engine, event, select
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

# A writer waits this long for SQLite's lock instead of failing. No transaction is held across
# an outside call, so the wait only ever covers other requests' own database work.
SQLITE_LOCK_WAIT_SECONDS = 30
# A pooled PostgreSQL connection idle this long is checked before use (`ping_when_idle`).
PING_AFTER_IDLE_SECONDS = 5.0
# The execution option a writing session's connections carry.
TAKE_WRITE_LOCK = "portal_take_write_lock"
# The `Session.info` key of a reading request's session.
_READING = "portal_reading"


def make_engine(url: str, **kwargs) -> Engine:
    """The engine for `url`. Its errors never carry the statement's parameter values (emails,
    memos, keys): a traceback in the logs shows the SQL only (SECURITY.md L3)."""
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
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
            writing = conn.get_execution_options().get(TAKE_WRITE_LOCK, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

        return engine
    engine = create_engine(url, **kwargs)
    ping_when_idle(engine)
    return engine


def ping_when_idle(engine: Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Check a pooled connection before use when it has sat idle for `idle_seconds`, and
    replace it if the server has gone (a restart, a failover, an idle timeout).

    SQLAlchemy's `pool_pre_ping` does this on every checkout: one more round trip per
    request, a seventh of a page's. A connection that was in use a moment ago is not checked;
    if the server went in that moment, the request that finds out fails, SQLAlchemy
    invalidates the whole pool, and every later checkout gets a fresh connection.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _note_idle(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # just connected, or in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise DisconnectionError("the database closed an idle connection") from error
            raise


class SessionFactory(sessionmaker[Session]):
    """The app's sessionmaker, with the engines its reading and writing sessions bind to made
    once (deriving an engine with other execution options costs ~20 µs: not for every request)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(bind=engine, expire_on_commit=False)
        self.writing_bind = engine.execution_options(**{TAKE_WRITE_LOCK: True})
        self.reading_bind = (engine.execution_options(isolation_level="AUTOCOMMIT")
                             if engine.dialect.name == "postgresql" else engine)
        event.listen(self, "before_flush", _refuse_reading_flush)


def make_session_factory(engine: Engine) -> SessionFactory:
    return SessionFactory(engine)


def reading_session(factory: SessionFactory) -> Session:
    """A session for a request that only reads (GET, HEAD, OPTIONS).

    On PostgreSQL its statements run outside a transaction (autocommit): at READ COMMITTED,
    the level the portal runs at, each statement takes its own snapshot whether or not a
    transaction surrounds it, so BEGIN and COMMIT bought nothing but two round trips of a
    page's five or six. SQLite keeps its transaction: it costs no round trip there, and its
    BEGIN gives the page's statements one snapshot.

    Such a session must not change rows through the ORM (`ReadingSessionWrote` at flush): a
    reading request's one write, a session's "last seen" mark, is one statement of its own.
    """
    return factory(bind=factory.reading_bind, info={_READING: True})


class ReadingSessionWrote(RuntimeError):
    """A reading request tried to write through the ORM: it should have been a POST."""


def _refuse_reading_flush(session: Session, _flush_context, _instances) -> None:
    if session.info.get(_READING) and (session.new or session.dirty or session.deleted):
        raise ReadingSessionWrote("a reading request's session was asked to write "
                                  f"{len(session.new)} new, {len(session.dirty)} changed, {len(session.deleted)} deleted rows")


def writing_session(factory: SessionFactory) -> Session:
    """A session for a request or command that writes: on SQLite each of its transactions
    starts with the write lock (PostgreSQL needs nothing: it locks rows as they are written)."""
    return factory(bind=factory.writing_bind)


def read(db: Session, statement: Executable, params: Mapping[str, Any] | None = None) -> CursorResult:
    """Run a Core SELECT in the session's transaction and return plain rows (named tuples).

    The pages' read models use this with statements built once, at import or per shape, whose
    values are bind parameters: a request then neither builds nor compiles SQL (the statement's
    cache key is memoized, its compiled form is in the engine's cache) and no ORM entity is
    loaded. Rows carry the columns' names as attributes. Changes still pending in the session
    are flushed first, so the read sees them as an ORM query would.
    """
    if db.new or db.dirty or db.deleted:
        db.flush()
    return db.connection().execute(statement, params or {})


def claimable(db: Session, ids: Select):
    """What an UPDATE that claims rows puts in `Model.id.in_(...)`: the ids `ids` selects (a
    SELECT of one `id` column with its ORDER BY and LIMIT), taken once.

    On PostgreSQL they are locked with SKIP LOCKED, so other claimers pass over them instead of
    queueing, in a MATERIALIZED CTE, evaluated once: as a plain subquery the planner may run it
    again for each row updated, and each run, re-checking the rows this UPDATE just claimed
    (their lease is now live), skips them and hands out rows beyond the LIMIT. A row another
    claimer committed meanwhile is re-checked the same way when locked, and dropped."""
    if db.get_bind().dialect.name != "postgresql":
        return ids.scalar_subquery()
    taken = ids.with_for_update(skip_locked=True).cte("claimable").prefix_with("MATERIALIZED")
    return select(taken.c.id)


def commit_before_outside_call(db: Session) -> None:
    """Commit what must survive the outside call about to be made, and leave no transaction
    open while it runs. The only commit the domain makes; grep for it to find every outside call."""
    db.commit()
