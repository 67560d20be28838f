"""`flask --app wsgi send-webhooks [--loop]`: deliver the ERP's outgoing webhooks after commit.

Run it from cron every minute, or keep one (or several: they share the work safely on
PostgreSQL) running with `--loop`, like `send-outbox`.
"""

from __future__ import annotations

import click
from flask import Flask

from portal.cli import command_session, services_of
from portal.cli.outbox import StopFlag, send_until_stopped
from portal.domain.webhooks.jobs import deliver_due
from portal.domain.webhooks.policy import DeliveryPolicy
from portal.domain.webhooks.transport import HttpWebhookTransport


def register(app: Flask) -> None:
    @app.cli.command("send-webhooks")
    @click.option("--loop", is_flag=True, help="Keep running, checking for due deliveries every --interval seconds.")
    @click.option("--interval", default=2.0, show_default=True, help="Seconds to sleep when nothing is due (with --loop).")
    @click.option("--batch-size", default=DeliveryPolicy.batch_size, show_default=True,
                  type=click.IntRange(1, 200), help="Deliveries claimed at once.")
    def send_webhooks(loop: bool, interval: float, batch_size: int) -> None:
        """POST the webhooks that are due to the ERP's endpoints, retrying failures with backoff."""
        services = services_of(app)
        settings = services.settings
        policy = DeliveryPolicy(batch_size=batch_size)
        transport = HttpWebhookTransport(mode=settings.mode, allow_private=settings.webhook_allow_private_addresses,
                                         timeout=settings.webhook_timeout_seconds)

        def run_once():
            with command_session(app) as db:
                return deliver_due(db, services.clock, transport, policy=policy)

        if not loop:
            click.echo(f"webhooks: {run_once()}")
            return
        send_until_stopped("webhooks", run_once, interval=interval, batch_size=policy.batch_size, stopping=StopFlag())
