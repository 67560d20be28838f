"""Alembic environment: the models' metadata is the target; the URL comes from the caller."""

from alembic import context

from portal.domain.core.database import make_engine
from portal.domain.core.types import Base
import portal.domain.models  # noqa: F401  (every area's tables, registered on Base.metadata)

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
