"""`flask --app wsgi seed-demo`: fill an empty database with the demo ledger.

Idempotent: when customers already exist it says so and changes nothing, so the demo can
run it on every start. Refused in production mode, where demo customers have no business.

The demo data lives in `devserver/`, beside the source tree and not in the wheel, so it is
imported only when the command runs (the import-linter contract "devserver-stays-out" allows
this one import and no other).
"""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy.exc import IntegrityError

from portal.cli import command_session, services_of


def _demo_data():
    try:
        from devserver import demo_data
    except ModuleNotFoundError as missing:
        if missing.name is None or not missing.name.startswith("devserver"):
            raise
        raise click.ClickException(
            "seed-demo needs the demo data in devserver/, which ships with the source tree, "
            "not with the installed package: run it from a checkout of the repository."
        ) from None
    return demo_data


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--seed", type=int, default=None, help="Same seed, same data (default: the demo's own).")
    def seed_demo(seed: int | None) -> None:
        """Add ~50 demo customers and ~1,000 invoices (only into an empty database)."""
        services = services_of(app)
        if services.settings.mode == "production":
            raise click.ClickException("seed-demo is for PORTAL_MODE=demo or test, not production.")
        demo_data = _demo_data()
        seed = demo_data.DEFAULT_SEED if seed is None else seed
        try:
            with command_session(app) as db:
                summary = demo_data.seed_demo_data(db, services.clock, seed)
        except demo_data.DemoDataExists as exists:
            click.echo(f"seed-demo: {exists.message}")
            return
        except IntegrityError:
            # Another seed-demo committed first (two started at once on an empty database).
            click.echo("seed-demo: demo data was added by another run meanwhile; nothing done.")
            return
        click.echo(f"seed-demo: added {summary}")
