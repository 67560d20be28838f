"""`flask --app wsgi check-promises`: decide the open promises to pay (`promises.jobs.check_promises`):
kept once nothing is left to pay on their invoices, broken once the promised date plus
`PROMISE_GRACE_DAYS` (default 3) has passed with money still owed (the customer is emailed).
Run it from cron daily, or more often; it is idempotent and safe to run twice at once."""

from __future__ import annotations

import click
from flask import Flask

from portal.cli import command_session, services_of
from portal.domain.promises.jobs import DEFAULT_PROMISE_BATCH, check_promises
from portal.domain.promises.notifications import PromiseMail


def register(app: Flask) -> None:
    @app.cli.command("check-promises")
    @click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_PROMISE_BATCH, show_default=True,
                  help="Promises decided in one run; the rest wait for the next.")
    def check_promises_command(batch_size: int) -> None:
        """Mark promises to pay kept or broken, and tell the customers whose promise broke."""
        services = services_of(app)
        with command_session(app) as db:
            report = check_promises(db, services.clock, PromiseMail(supplier=services.supplier,
                                                                    signer=services.link_signer),
                                    services.settings.promise_policy, batch_size=batch_size)
        click.echo(report.summary())
