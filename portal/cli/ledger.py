"""`flask --app wsgi check-ledger`: prove the maintained balances against the entries.

Prints one line per difference and exits 1 when there is any, so cron or CI can alert on it.
"""

from __future__ import annotations

import click
from flask import Flask

from portal.domain.ledger.jobs import check_ledger
from portal.web.context import Services


def register(app: Flask) -> None:
    @app.cli.command("check-ledger")
    def check_ledger_command() -> None:
        """Compare each invoice's balance and money in flight with the sum of its history."""
        services: Services = app.extensions["portal"]
        with services.session_factory() as db:
            report = check_ledger(db)
        for difference in report.differences:
            click.echo(str(difference))
        click.echo(str(report))
        if not report.is_consistent:
            raise SystemExit(1)
