"""Test set-up. Each concern's fixtures live in `tests/support/fixtures/`.

`--db sqlite` (default) or `--db postgresql` picks the database; the schema is always built
by the Alembic migrations. `TEST_POSTGRES_URL` points at a server whose user may create
databases (default: postgres@127.0.0.1:5432).
"""

pytest_plugins = [
    "tests.support.fixtures.database",
    "tests.support.fixtures.app",
    "tests.support.fixtures.stripe",
    "tests.support.fixtures.mail",
    "tests.support.fixtures.browser",
    "tests.support.fixtures.links",
    "tests.support.fixtures.redis",
    "tests.support.fixtures.webhooks",
]
