"""The reminder email: one per customer per step, listing every invoice that reached the step.

It goes to the company's AP contacts (the first one as the addressee; the link is issued for
that contact) with the shared AP mailboxes on CC, and carries ONE invoice-scoped link
(`access.service.issue_invoice_link`) to all of its invoices that lands on the reminder page
(`reminder_path`): those invoices selected, with "Pay <total>", "Dispute" and "Promise to pay"
side by side; and one more link per reason they may not be paid ("There's a problem": we
already paid, a PO, an approval, the wrong person, something wrong, can't pay it all), the same
token landing on that reason's form with the invoices chosen. The step's subject and text are the admins' plain-text templates
(`policy.fill_placeholders`); customer data is made one line and the HTML layout escapes it all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from portal.domain.access.service import issue_invoice_link
from portal.domain.access.tokens import LinkSigner
from portal.domain.core.clock import Clock
from portal.domain.core.locales import (
    DEFAULT_LANGUAGE, N_, format_day, format_money, language_or_default, translations,
)
from portal.domain.core.money import Money
from portal.domain.customers.models import Contact, Customer
from portal.domain.customers.policy import reachable
from portal.domain.followups.states import KIND_SLUGS, REPORT_PATH, FollowupKind
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.rendering import RenderedEmail, SupplierDetails, render_email
from portal.domain.notifications.service import enqueue
from portal.domain.reminders.policy import StepSpec, fill_placeholders, one_line

REMINDER_PAGE = "/reminders/act"
PREVIEW_LINK = "https://portal.example/l/(a link made when the reminder is sent)"


@dataclass(frozen=True)
class ReminderMail:
    """What a reminder needs: who we are, and the signer its link is made with."""

    supplier: SupplierDetails
    signer: LinkSigner


@dataclass(frozen=True)
class ReminderLine:
    number: str
    due_date: date  # written in the email's language (`core.locales.format_day`)
    amount: Money


def reminder_path(invoice_public_ids: Sequence[str]) -> str:
    """The reminder page with exactly these invoices selected."""
    return f"{REMINDER_PAGE}?{urlencode([('invoice', public_id) for public_id in invoice_public_ids])}"


# "There's a problem": one link per reason, each landing on its form with the reminder's
# invoices chosen (the same invoice-scoped link as the main one, another landing page).
PROBLEM_REASONS: tuple[tuple[str, str], ...] = (
    (N_("We already paid it"), "/" + REPORT_PATH.format(slug=KIND_SLUGS[FollowupKind.ALREADY_PAID])),
    (N_("We need a PO number, or the PO is wrong"), "/" + REPORT_PATH.format(slug=KIND_SLUGS[FollowupKind.NEEDS_PO])),
    (N_("It's waiting for approval on our side"),
     "/" + REPORT_PATH.format(slug=KIND_SLUGS[FollowupKind.AWAITING_APPROVAL])),
    (N_("I'm not the right person"), "/" + REPORT_PATH.format(slug=KIND_SLUGS[FollowupKind.WRONG_CONTACT])),
    (N_("Something is wrong with the invoice"), "/disputes/new"),
    (N_("We can't pay it all now"), "/plans/new"),
)


def problem_paths(invoice_public_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(label, path) of each reason's form with exactly these invoices chosen."""
    query = urlencode([("invoice", public_id) for public_id in invoice_public_ids])
    return [(label, f"{path}?{query}") for label, path in PROBLEM_REASONS]


def totals_text(lines: Sequence[ReminderLine], language: str = DEFAULT_LANGUAGE) -> str:
    """What is asked for, one sum per currency ("$1,250.00", or "$100.00 + €20.00")."""
    sums: dict[str, int] = {}
    for line in lines:
        sums[line.amount.currency] = sums.get(line.amount.currency, 0) + line.amount.minor
    return " + ".join(format_money(Money(minor, currency), language) for currency, minor in sums.items())


INVOICE_LIST_LINE = N_("- {number}, due {due_date}: {amount}")


def reminder_email(supplier: SupplierDetails, *, customer_name: str, step: StepSpec,
                   lines: Sequence[ReminderLine], url: str,
                   problem_links: Sequence[tuple[str, str]] = (), language: str | None = None) -> RenderedEmail:
    """The email of `step` for these invoice lines (also the admin page's preview), with one
    (label, url) per reason the invoices may not be paid yet, in `language`: a step with the
    standard text (`policy.DEFAULT_STEPS`) is translated, one the admins wrote is sent as written."""
    language = language_or_default(language)
    gettext = translations(language).gettext
    values = {
        "customer_name": one_line(customer_name),
        "invoice_list": "\n".join(gettext(INVOICE_LIST_LINE).format(
            number=one_line(line.number), due_date=format_day(line.due_date, language),
            amount=format_money(line.amount, language)) for line in lines),
        "total": totals_text(lines, language),
        "link": url,
    }
    subject_values = {**values, "invoice_list": ", ".join(one_line(line.number) for line in lines)}
    return render_email(
        "reminder", supplier=supplier, language=language,
        subject=one_line(fill_placeholders(gettext(step.subject), subject_values)),
        paragraphs=[part.splitlines() for part in fill_placeholders(gettext(step.body), values).split("\n\n")],
        total=values["total"], url=url, tone=step.tone.value,
        problem_links=[(gettext(label), link) for label, link in problem_links],
        invoice_numbers=", ".join(one_line(line.number) for line in lines),
    )


def reminder_lines(invoices: Sequence[Invoice], remindable: dict[int, int]) -> list[ReminderLine]:
    return [ReminderLine(invoice.number, invoice.due_date, Money(remindable[invoice.id], invoice.currency))
            for invoice in invoices]


def recipients(contacts: Sequence[Contact]) -> tuple[Contact, list[str]] | None:
    """The addressee (the first AP contact, or the shared mailbox when there is no other) and
    the CC list (the other AP contacts, then the shared AP mailboxes); None with no contact.
    Contacts who left and addresses that bounced are left out (`customers.policy.reachable`)."""
    contacts = reachable(contacts)
    clerks = [contact for contact in contacts if not contact.is_ap_mailbox]
    mailboxes = [contact for contact in contacts if contact.is_ap_mailbox]
    ordered = clerks + mailboxes
    if not ordered:
        return None
    to = ordered[0]
    return to, [contact.email for contact in ordered[1:] if contact.email != to.email]


def queue_reminder(db: Session, clock: Clock, mail: ReminderMail, *, customer: Customer,
                   contacts: Sequence[Contact], step: StepSpec, invoices: Sequence[Invoice],
                   remindable: dict[int, int], dedupe_key: str) -> bool:
    """Issue the link and queue the reminder; False when the customer has no contact to write to."""
    found = recipients(contacts)
    if found is None:
        return False
    to, cc = found
    public_ids = [invoice.public_id for invoice in invoices]
    issued = issue_invoice_link(db, clock, mail.signer, contact=to, invoices=invoices,
                                next_path=reminder_path(public_ids))
    problem_links = [(label, mail.signer.url_for(issued.link.purpose, issued.token, path))
                     for label, path in problem_paths(public_ids)]
    email = reminder_email(mail.supplier, customer_name=customer.name, step=step,
                           lines=reminder_lines(invoices, remindable), url=issued.url, problem_links=problem_links,
                           language=to.language)
    enqueue(db, clock, kind="reminder", to=to.email, email=email, cc=cc, dedupe_key=dedupe_key)
    return True
