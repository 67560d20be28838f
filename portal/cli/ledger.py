"""`flask --app wsgi check-ledger`: prove the maintained balances against the entries.

Prints one line per difference and exits 1 when there is any, so cron or CI can alert on it.
The amounts disputes hold on invoices (`disputes.jobs.check_holds`) are proved in the same run.
"""

from __future__ import annotations

import click
from flask import Flask

from portal.domain.disputes.jobs import check_holds
from portal.domain.ledger.jobs import check_ledger
from portal.web.context import Services


def register(app: Flask) -> None:
    @app.cli.command("check-ledger")
    def check_ledger_command() -> None:
        """Compare each invoice's balance and money in flight with the sum of its history."""
        services: Services = app.extensions["portal"]
        with services.session_factory() as db:
            report = check_ledger(db)
            holds = check_holds(db)
        for difference in [*report.differences, *holds]:
            click.echo(str(difference))
        click.echo(str(report))
        if holds:
            click.echo(f"{len(holds)} invoice(s) hold an amount their active disputes do not")
        if not report.is_consistent or holds:
            raise SystemExit(1)
