"""Staff commands for customer links, until the admin side has screens for them.

    flask --app wsgi sign-in-link EMAIL [--next PATH]
    flask --app wsgi invoice-link EMAIL [--invoice NUMBER ...]
    flask --app wsgi revoke-links EMAIL

An address may be a contact of several companies; each command acts on every one of them
(or, for `invoice-link`, on the one that owns the named invoices). Links are printed, not
emailed: the operator hands them over.
"""

from __future__ import annotations

import getpass

import click
from flask import Flask
from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.customers.queries import contacts_with_email
from portal.domain.access.service import (
    issue_invoice_link, issue_sign_in_link, revoke_contact_access, unpaid_invoices,
)
from portal.domain.invoicing.models import Invoice
from portal.cli import command_session, services_of


def staff_actor() -> Actor:
    """The operator running a command, as the audit log names them."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "unknown"
    return Actor("staff", f"cli:{user}")


def register(app: Flask) -> None:
    def services():
        return services_of(app)

    def contacts_or_fail(db, email: str):
        contacts = contacts_with_email(db, email)
        if not contacts:
            raise click.ClickException(f"No contact has the address {email}.")
        return contacts

    @app.cli.command("sign-in-link")
    @click.argument("email")
    @click.option("--next", "next_path", default=None, help="A path to land on, e.g. /invoices.")
    def sign_in_link(email: str, next_path: str | None) -> None:
        """Print a single-use, 15-minute sign-in link for EMAIL (whole account)."""
        clock = services().clock
        with command_session(app) as db:
            contacts = contacts_or_fail(db, email)
            issued = [
                (contact, issue_sign_in_link(db, clock, services().link_signer,
                                             contact=contact, next_path=next_path))
                for contact in contacts
            ]
        for contact, link in issued:
            click.echo(f"{contact.customer.name} ({contact.email}), expires {link.link.expires_at:%Y-%m-%d %H:%M} UTC:")
            click.echo(link.url)

    @app.cli.command("invoice-link")
    @click.argument("email")
    @click.option("--invoice", "numbers", multiple=True, help="Invoice number (repeatable). Default: every unpaid invoice.")
    def invoice_link(email: str, numbers: tuple[str, ...]) -> None:
        """Print an invoice link for EMAIL: opens only those invoices, reusable until it expires."""
        clock = services().clock
        with command_session(app) as db:
            contacts = contacts_or_fail(db, email)
            if numbers:
                invoices = list(db.scalars(select(Invoice).where(Invoice.number.in_(numbers))).all())
                missing = sorted(set(numbers) - {invoice.number for invoice in invoices})
                if missing:
                    raise click.ClickException(f"Unknown invoice number(s): {', '.join(missing)}")
                owners = {invoice.customer_id for invoice in invoices}
                matching = [contact for contact in contacts if {contact.customer_id} == owners]
                if not matching:
                    raise click.ClickException(f"Those invoices do not all belong to a company {email} is a contact of.")
                contact = matching[0]
            else:
                contact = contacts[0]
                if len(contacts) > 1:
                    raise click.ClickException(f"{email} is a contact of several companies; name the invoices with --invoice.")
                invoices = unpaid_invoices(db, contact.customer_id)
                if not invoices:
                    raise click.ClickException(f"{contact.customer.name} has no unpaid invoice.")
            issued = issue_invoice_link(db, clock, services().link_signer, contact=contact, invoices=invoices)
            click.echo(f"{contact.customer.name} ({contact.email}), invoices "
                       f"{', '.join(invoice.number for invoice in issued.link.invoices)}, "
                       f"expires {issued.link.expires_at:%Y-%m-%d %H:%M} UTC:")
            click.echo(issued.url)

    @app.cli.command("revoke-links")
    @click.argument("email")
    def revoke_links(email: str) -> None:
        """Withdraw every link of EMAIL's contact(s) and end their open sessions."""
        clock = services().clock
        with command_session(app) as db:
            contacts = contacts_or_fail(db, email)
            results = [(contact.customer.name, revoke_contact_access(db, clock, contact=contact, actor=staff_actor()))
                       for contact in contacts]
        for company, count in results:
            click.echo(f"{company}: {count} link(s) revoked, sessions ended.")
