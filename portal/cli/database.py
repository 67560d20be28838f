"""`flask db upgrade|downgrade`: Alembic migrations, the only way the schema is built."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from portal import migrate
from portal.web.context import Services


def register(app: Flask) -> None:
    group = AppGroup("db", help="Database migrations.")

    @group.command("upgrade")
    @click.argument("revision", default="head")
    def upgrade(revision: str) -> None:
        """Apply migrations up to REVISION (default: head)."""
        services: Services = app.extensions["portal"]
        migrate.upgrade(services.settings.database_url, revision)
        click.echo(f"database at {revision}")

    @group.command("downgrade")
    @click.argument("revision")
    def downgrade(revision: str) -> None:
        """Revert migrations down to REVISION ("base" empties the database)."""
        services: Services = app.extensions["portal"]
        migrate.downgrade(services.settings.database_url, revision)
        click.echo(f"database at {revision}")

    app.cli.add_command(group)
