"""`flask --app wsgi warn-sla-at-risk`: email the supervisors about disputes whose first
response or resolution is due within `SLA_WARNING_HOURS` (default 4), or already past, while
the SLA clock runs (`disputes.jobs.warn_sla_at_risk`). Each due time is warned about once, so
run it from cron every few minutes; it is idempotent and safe to run twice at once."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask

from portal.cli import command_session, services_of
from portal.domain.disputes.jobs import DEFAULT_SLA_WARNING_BATCH, warn_sla_at_risk
from portal.domain.disputes.staff_notifications import StaffMail


def register(app: Flask) -> None:
    @app.cli.command("warn-sla-at-risk")
    @click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_SLA_WARNING_BATCH, show_default=True,
                  help="SLA dates warned about in one run; the rest wait for the next.")
    def warn_sla_at_risk_command(batch_size: int) -> None:
        """Warn supervisors of disputes about to miss, or past, an SLA date."""
        services = services_of(app)
        with command_session(app) as db:
            report = warn_sla_at_risk(db, services.clock, StaffMail(supplier=services.supplier),
                                      window=timedelta(hours=services.settings.sla_warning_hours),
                                      batch_size=batch_size)
        click.echo(report.summary())
