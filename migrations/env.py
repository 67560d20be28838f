"""Alembic environment: the models' metadata is the target; the URL comes from the caller.

On SQLite, batch migrations rebuild a table (copy it, drop the old one, rename the copy into
place). Dropping a table that other tables' rows refer to fails while foreign keys are
enforced, and `PRAGMA foreign_keys` cannot change inside a transaction. So, as SQLite's own
procedure for schema changes says, enforcement is turned off on the connection before the
migrations' transaction begins, `PRAGMA foreign_key_check` must find no broken key before it
commits (a violation rolls the whole upgrade back), and enforcement is turned on again.
"""

from alembic import context

from portal.domain.core.database import make_engine
from portal.domain.core.types import Base
import portal.domain.models  # noqa: F401  (every area's tables, registered on Base.metadata)

config = context.config
target_metadata = Base.metadata


class BrokenForeignKeys(RuntimeError):
    """A migration left rows whose foreign keys name nothing (SQLite, checked before commit)."""


def _set_sqlite_foreign_keys(connection, enabled: bool) -> None:
    # On the DBAPI connection itself: it is in autocommit mode (see make_engine) and no
    # transaction is open, so the pragma takes effect.
    cursor = connection.connection.driver_connection.cursor()
    cursor.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    cursor.close()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                _set_sqlite_foreign_keys(connection, False)
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            try:
                with context.begin_transaction():
                    context.run_migrations()
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise BrokenForeignKeys(f"{len(broken)} rows break a foreign key, first in {broken[0][0]}")
            finally:
                if sqlite:
                    _set_sqlite_foreign_keys(connection, True)
    finally:
        engine.dispose()  # a failed migration too: its connection is closed, not left to the collector


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
