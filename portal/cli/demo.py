"""`flask --app wsgi seed-demo`: fill an empty database with the demo ledger.

Idempotent: when customers already exist it says so and changes nothing, so the demo can
run it on every start. Refused in production mode, where demo customers have no business.
"""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy.exc import IntegrityError

from devserver.demo_data import DEFAULT_SEED, DemoDataExists, seed_demo_data
from portal.cli import command_session, services_of


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--seed", default=DEFAULT_SEED, show_default=True, help="Same seed, same data.")
    def seed_demo(seed: int) -> None:
        """Add ~50 demo customers and ~1,000 invoices (only into an empty database)."""
        services = services_of(app)
        if services.settings.mode == "production":
            raise click.ClickException("seed-demo is for PORTAL_MODE=demo or test, not production.")
        try:
            with command_session(app) as db:
                summary = seed_demo_data(db, services.clock, seed)
        except DemoDataExists as exists:
            click.echo(f"seed-demo: {exists.message}")
            return
        except IntegrityError:
            # Another seed-demo committed first (two started at once on an empty database).
            click.echo("seed-demo: demo data was added by another run meanwhile; nothing done.")
            return
        click.echo(f"seed-demo: added {summary}")
