"""`flask --app wsgi replay-stripe-events`: apply the refund and dispute events earlier versions
stored unprocessed (`refunds.jobs`). Run once after upgrading to migration 0014; safe to run
again."""

from __future__ import annotations

import click
from flask import Flask

from portal.cli import command_context, services_of
from portal.domain.core.audit import STRIPE
from portal.domain.refunds.jobs import replay_unprocessed_events


def register(app: Flask) -> None:
    @app.cli.command("replay-stripe-events")
    def replay_stripe_events() -> None:
        """Apply stored refund and dispute events that no earlier version handled."""
        services = services_of(app)
        with command_context(app, STRIPE) as ctx:
            report = replay_unprocessed_events(ctx, services.gateway, services.supplier)
        click.echo(report.summary())
