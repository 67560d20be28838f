"""`flask --app wsgi scan-pending-files`: have the malware scanner judge the files stored while
it is configured (SECURITY.md U5). Run it from cron every minute or two; it is idempotent and
safe to run twice at once. Exits 1 while the scanner cannot judge (the files stay pending and
are not served), so a monitoring cron notices."""

from __future__ import annotations

import click
from flask import Flask

from portal.cli import command_session, services_of
from portal.domain.attachments.jobs import DEFAULT_BATCH_SIZE, scan_pending_files
from portal.domain.attachments.scanner import ClamdScanner


def register(app: Flask) -> None:
    @app.cli.command("scan-pending-files")
    @click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE, show_default=True,
                  help="Files judged in one run, oldest first.")
    def scan_pending_files_command(batch_size: int) -> None:
        """Scan the stored files still waiting for a verdict."""
        services = services_of(app)
        scanner = ClamdScanner.from_settings(services.settings)
        if scanner is None:
            raise click.ClickException("CLAMAV_ADDRESS is not set: there is no scanner to ask.")
        with command_session(app) as db:
            report = scan_pending_files(db, services.clock, services.file_store.storage, scanner,
                                        batch_size=batch_size)
        click.echo(f"scan: {report.summary()}")
        if report.problems:
            raise SystemExit(1)
