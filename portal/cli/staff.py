"""Staff accounts from the command line (the first admin, or when nobody can sign in).

    flask --app wsgi create-staff EMAIL --role ROLE [--name NAME] [--password-stdin]

The password is asked for twice at the prompt (never echoed), or read as the first line of
standard input with `--password-stdin` (for scripts). Admins must also set up an
authenticator: the command says so, and their first sign-in takes them to it.
"""

from __future__ import annotations

import sys

import click
from flask import Flask

from portal.cli import command_context, services_of
from portal.cli.links import staff_actor as cli_actor
from portal.domain.core.errors import DomainError
from portal.domain.staff.policy import totp_required
from portal.domain.staff.service import create_staff
from portal.domain.staff.states import StaffRole


def register(app: Flask) -> None:
    @app.cli.command("create-staff")
    @click.argument("email")
    @click.option("--role", required=True, type=click.Choice([str(role) for role in StaffRole]))
    @click.option("--name", default=None, help="Display name (default: the part of EMAIL before the @).")
    @click.option("--timezone", default="UTC", show_default=True, help="The member's IANA time zone.")
    @click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
    def create_staff_command(email: str, role: str, name: str | None, timezone: str, password_stdin: bool) -> None:
        """Create a staff member who can sign in at /admin."""
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        services = services_of(app)
        try:
            with command_context(app, cli_actor()) as ctx:
                member = create_staff(ctx, services.password_hasher, email=email,
                                      name=name or email.partition("@")[0], role=role, password=password,
                                      timezone=timezone)
                summary = (member.email, member.role, member.name)
        except DomainError as refused:
            raise click.ClickException(refused.message) from None
        click.echo(f"Created {summary[1]} {summary[2]} <{summary[0]}>. Sign in at {services.settings.public_url}/admin/sign-in")
        if totp_required(role):
            click.echo("Admins need an authenticator app (TOTP): the first sign-in asks to set one up before anything else.")
