"""`flask --app wsgi collect-installments`: charge the installments of plans due today in each
customer's time zone to their saved cards (off-session), follow up the charges in flight
(paid, declined, authentication required), default plans after the policy's number of failed
collections, and send the reminder before each charge (`plans.jobs.collect_installments`).
Run it from cron hourly or daily; it is idempotent and safe to run twice at once."""

from __future__ import annotations

import click
from flask import Flask

from portal.cli import command_session, services_of
from portal.domain.core.context import Context
from portal.domain.plans.jobs import DEFAULT_COLLECT_BATCH, JOB_ACTOR, collect_installments
from portal.domain.plans.queries import plan_policy


def register(app: Flask) -> None:
    @app.cli.command("collect-installments")
    @click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_COLLECT_BATCH, show_default=True,
                  help="Installments charged in one run; the rest wait for the next.")
    def collect_installments_command(batch_size: int) -> None:
        """Charge due installment-plan payments and follow up on earlier charges."""
        services = services_of(app)
        with command_session(app) as db:
            policy = plan_policy(db, services.settings.plan_policy)  # what admins stored, else the settings
            report = collect_installments(Context(db, services.clock, JOB_ACTOR), services.gateway,
                                          services.supplier, policy, batch_size=batch_size)
        click.echo(report.summary())
