"""`flask --app wsgi reconcile-stripe`: bring payments a missed webhook left in flight up to
date with Stripe (SECURITY.md W6), and send again the refunds whose create call got no answer.
Idempotent; run it from cron every few minutes."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask

from portal.cli import command_context, services_of
from portal.domain.payments.jobs import DEFAULT_STALE_AFTER, RECONCILER, reconcile_payments
from portal.domain.refunds.jobs import resend_unanswered_refunds


def register(app: Flask) -> None:
    @app.cli.command("reconcile-stripe")
    @click.option(
        "--stale-minutes", type=click.IntRange(min=1),
        default=int(DEFAULT_STALE_AFTER.total_seconds() // 60), show_default=True,
        help="Also look up attempts this old that never stored a PaymentIntent id.",
    )
    def reconcile_stripe(stale_minutes: int) -> None:
        """Ask Stripe about every payment still in flight and apply the answers."""
        services = services_of(app)
        with command_context(app, RECONCILER) as ctx:
            report = reconcile_payments(
                ctx, services.gateway, services.supplier, stale_after=timedelta(minutes=stale_minutes),
            )
            refunds = resend_unanswered_refunds(ctx, services.gateway)
        click.echo(report.summary())
        for line in refunds.sent:
            click.echo(f"  refund sent again: {line}")
        for line in refunds.problems:
            click.echo(f"  PROBLEM: {line}")
        if report.problems or refunds.problems:
            raise SystemExit(1)
