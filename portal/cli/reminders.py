"""`flask --app wsgi send-reminders`: queue the reminder emails due now
(`reminders.jobs.send_reminders`): one per customer per step of the admins' reminder policy,
inside each customer's business hours (09:00-17:00 their time, Monday to Friday, not on the
supplier's holidays). Run it from cron hourly on working days; it is idempotent and safe to run
twice at once. `send-outbox` delivers what it queued."""

from __future__ import annotations

import click
from flask import Flask

from portal.cli import command_session, services_of
from portal.domain.reminders.jobs import DEFAULT_REMINDER_BATCH, send_reminders
from portal.domain.reminders.notifications import ReminderMail


def register(app: Flask) -> None:
    @app.cli.command("send-reminders")
    @click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_REMINDER_BATCH, show_default=True,
                  help="Reminder emails queued in one run; the rest wait for the next.")
    def send_reminders_command(batch_size: int) -> None:
        """Queue the payment reminders due now, one email per customer per step."""
        services = services_of(app)
        with command_session(app) as db:
            report = send_reminders(
                db, services.clock, ReminderMail(supplier=services.supplier, signer=services.link_signer),
                batch_size=batch_size,
            )
        click.echo(report.summary())
