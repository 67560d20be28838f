"""`flask --app wsgi send-outbox [--loop]`: deliver queued email after commit.

Each round first resolves pending "email me a sign-in link" requests into emails (the web
request only recorded the address), then delivers what is due.

Run it from cron every minute, or keep one (or several: they share the work safely on
PostgreSQL) running with `--loop`.
"""

from __future__ import annotations

import signal
import time

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from portal.domain.access.jobs import resolve_sign_in_link_requests
from portal.domain.notifications.transport import SmtpTransport
from portal.domain.notifications.jobs import DeliveryPolicy, deliver_due
from portal.cli import command_session, services_of


def register(app: Flask) -> None:
    @app.cli.command("send-outbox")
    @click.option("--loop", is_flag=True, help="Keep running, checking for due mail every --interval seconds.")
    @click.option("--interval", default=2.0, show_default=True, help="Seconds to sleep when nothing is due (with --loop).")
    @click.option("--batch-size", default=DeliveryPolicy.batch_size, show_default=True, help="Messages claimed at once.")
    def send_outbox(loop: bool, interval: float, batch_size: int) -> None:
        """Send the email that is due, retrying failures with backoff."""
        services = services_of(app)
        settings = services.settings
        policy = DeliveryPolicy(batch_size=batch_size)
        transport = SmtpTransport.from_settings(settings)
        stopping = StopFlag()

        def run_once():
            with command_session(app) as db:
                resolve_sign_in_link_requests(db, services.clock, services.link_signer, services.supplier)
            with command_session(app) as db:
                return deliver_due(db, services.clock, transport, mail_from=settings.mail_from, policy=policy)

        if not loop:
            click.echo(f"outbox: {run_once()}")
            return
        send_until_stopped("outbox", run_once, interval=interval, batch_size=policy.batch_size, stopping=stopping,
                           started=f"sending via {settings.smtp_host}:{settings.smtp_port} until stopped")


def send_until_stopped(label: str, run_once, *, interval: float, batch_size: int, stopping: StopFlag,
                       started: str = "sending until stopped") -> None:
    """Run `run_once` (one claimed batch, returning a report with `handled`) until SIGTERM or
    SIGINT: at once again after a full batch (more may be waiting), else after `interval`. A
    database error (restarting, locked for long) loses nothing, since claims lapse: it is
    reported and the loop tries again, rather than leaving work unsent until a restart."""
    stopping.install()
    click.echo(f"{label}: {started}")
    while not stopping.requested:
        try:
            report = run_once()
        except SQLAlchemyError as error:
            click.echo(f"{label}: database error, retrying in {interval:g}s: {error}", err=True)
            stopping.sleep(interval)
            continue
        if report.handled:
            click.echo(f"{label}: {report}")
        if report.handled < batch_size:
            stopping.sleep(interval)
    click.echo(f"{label}: stopped")


class StopFlag:
    """SIGTERM/SIGINT end the loop between batches, so no claimed message is left mid-send."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._request)

    def _request(self, *_args) -> None:
        self.requested = True

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.requested and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))
