"""Test set-up. Each concern's fixtures live in `tests/fixtures/`.

`--db sqlite` (default) or `--db postgresql` picks the database; the schema is always built
by the Alembic migrations. `TEST_POSTGRES_URL` points at a server whose user may create
databases (default: postgres@127.0.0.1:5432).
"""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.stripe",
    "tests.fixtures.mail",
    "tests.fixtures.browser",
    "tests.fixtures.links",
    "tests.fixtures.redis",
]
