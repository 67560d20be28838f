"""`flask db upgrade|downgrade|revision|check`: Alembic migrations, the only way the schema is built."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from portal import migrate
from portal.web.context import Services


def register(app: Flask) -> None:
    group = AppGroup("db", help="Database migrations.")

    def database_url() -> str:
        services: Services = app.extensions["portal"]
        return services.settings.database_url

    @group.command("upgrade")
    @click.argument("revision", default="head")
    def upgrade(revision: str) -> None:
        """Apply migrations up to REVISION (default: head)."""
        migrate.upgrade(database_url(), revision)
        click.echo(f"database at {revision}")

    @group.command("downgrade")
    @click.argument("revision")
    def downgrade(revision: str) -> None:
        """Revert migrations down to REVISION ("base" empties the database)."""
        migrate.downgrade(database_url(), revision)
        click.echo(f"database at {revision}")

    @group.command("revision")
    @click.option("-m", "--message", required=True, help="What the migration does, e.g. 'add invoice balances'.")
    def revision(message: str) -> None:
        """Write a migration from what the models add to the database (which must be at head)."""
        try:
            path = migrate.revision(database_url(), message)
        except migrate.MigrationProblem as problem:
            raise click.ClickException(problem.message) from None
        click.echo(f"wrote {path}")
        click.echo("Read it before committing: autogenerate misses renames, data changes and triggers.")

    @group.command("check")
    def check() -> None:
        """Exit non-zero unless the models and the migrations agree (on a database at head)."""
        try:
            migrate.check(database_url())
        except migrate.MigrationProblem as problem:
            for difference in problem.differences:
                click.echo(f"  {difference}", err=True)
            raise click.ClickException(problem.message) from None
        click.echo("models and migrations agree")

    @group.command("analyze")
    def analyze() -> None:
        """Refresh the query planner's statistics (ANALYZE). Run it daily from cron on SQLite.

        SQLite keeps no statistics until asked: without them it may read a whole account through
        the customer's index where a narrower partial index serves the page (PostgreSQL's
        autovacuum keeps its own up to date; running this there is harmless).
        """
        services: Services = app.extensions["portal"]
        with services.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        click.echo("planner statistics refreshed")

    app.cli.add_command(group)
