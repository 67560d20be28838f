"""`flask --app wsgi record-bounce`: a bounced email reaches the portal.

Either name the address (`record-bounce ap@acme.example --reason "5.1.1 user unknown"`), or
pipe the mail server's delivery status notification into it (`record-bounce --dsn -`, e.g. from
a Postfix `pipe` transport or an `.forward`/alias on the bounce address): every permanently
failed recipient (RFC 3464 `Action: failed`, status 5.x.x) is recorded; delays and 4.x.x
failures are not. Each contact using the address is marked as failing (reminders skip it), an
EMAIL_BOUNCED follow-up is raised for collections (one per contact while it is active), and
the company's other contacts are emailed a link to name the right person
(`customers.contact_followups.record_bounce`). Exit status 0 also when no contact uses the
address, so a mail server does not retry it.
"""

from __future__ import annotations

import sys

import click
from flask import Flask

from portal.cli import command_context, services_of
from portal.domain.core.audit import Actor
from portal.domain.customers.contact_followups import BounceReport, ContactMail, record_bounce
from portal.domain.customers.policy import MAX_DSN_BYTES, ContactRefused, failed_recipients


def register(app: Flask) -> None:
    @app.cli.command("record-bounce")
    @click.argument("address", required=False)
    @click.option("--reason", default="", help="What the mail server said (one line).")
    @click.option("--dsn", type=click.File("rb"), default=None,
                  help="Read a delivery status notification from this file ('-': standard input).")
    def record_bounce_command(address: str | None, reason: str, dsn) -> None:
        """Record that email to ADDRESS (or to the recipients a DSN names) bounced."""
        if (address is None) == (dsn is None):
            raise click.UsageError("Give either ADDRESS or --dsn.")
        try:
            bounces = [(address, reason)] if address is not None else failed_recipients(dsn.read(MAX_DSN_BYTES + 1))
        except ContactRefused as refused:
            raise click.ClickException(refused.message) from None
        services = services_of(app)
        mail = ContactMail(supplier=services.supplier, signer=services.link_signer)
        total = BounceReport()
        try:
            with command_context(app, Actor.system("record-bounce")) as ctx:
                for bounced, why in bounces:
                    report = record_bounce(ctx, mail, bounced, reason=why)
                    total = BounceReport(total.contacts + report.contacts, total.followups + report.followups,
                                         total.notified + report.notified)
        except ContactRefused as refused:
            raise click.ClickException(refused.message) from None
        click.echo(f"bounces: {len(bounces)} address(es), {total.contacts} contact(s) marked failing, "
                   f"{total.followups} follow-up(s) raised, {total.notified} colleague(s) asked", file=sys.stdout)
