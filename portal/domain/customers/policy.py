"""Pure decisions about contacts: a contact named by a clerk (name and address, bounded and
checked), whether an address's domain already belongs to the company, and who may be written to.

A new contact is added at once only when the address's domain is one the company's own
contacts already use, and never for a free-mail domain (anyone can have a gmail.com address,
so it proves nothing about who the person works for); otherwise staff approve it.
"""

from __future__ import annotations

import re
import unicodedata
from email import message_from_bytes
from email.policy import default as default_policy
from collections.abc import Iterable
from dataclasses import dataclass

from portal.domain.core.errors import DomainError, FieldName
from portal.domain.core.locales import N_

MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64
MAX_REASON_LENGTH = 200
# Anything longer is refused before it is looked at any further.
MAX_RAW_LENGTH = 1000

# Line and paragraph separators and bidirectional overrides break lines or reorder text as
# control characters do (in an email, a log line, a CSV export).
_ALSO_REFUSED = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

# Addresses anyone can open: their domain says nothing about the company.
FREE_MAIL_DOMAINS = frozenset({
    "aol.com", "fastmail.com", "gmail.com", "gmx.com", "gmx.de", "gmx.net", "googlemail.com", "hey.com",
    "hotmail.com", "icloud.com", "live.com", "mail.com", "me.com", "msn.com", "outlook.com", "proton.me",
    "protonmail.com", "web.de", "yahoo.com", "yahoo.co.uk", "yandex.com", "yandex.ru", "zoho.com",
})


class ContactRefused(DomainError):
    """The contact was not accepted; the message says why."""


def has_control_characters(text: str) -> bool:
    """True when `text` holds a control character, a line separator or a bidirectional override."""
    return any(unicodedata.category(c) == "Cc" or c in _ALSO_REFUSED for c in text)


# The fields a clerk fills in when naming someone, as refusals name them.
THE_NAME = FieldName(N_("The name"), N_("the name"))
THE_EMAIL_ADDRESS = FieldName(N_("The email address"), N_("the email address"))
THE_NOTE = FieldName(N_("The note"), N_("the note"))
THE_REASON = FieldName(N_("The reason"), N_("the reason"))


def clean_line(value: str | None, *, what: FieldName, max_length: int, required: bool = True) -> str:
    """One line of plain text, stripped, at most `max_length` characters."""
    raw = value or ""
    if len(raw) > MAX_RAW_LENGTH or len(raw.strip()) > max_length:
        raise ContactRefused(N_("%(what)s can be at most %(count)s characters."), what=what.subject, count=max_length)
    if has_control_characters(raw):
        raise ContactRefused(N_("%(what)s must be one line of plain text."), what=what.subject)
    text = raw.strip()
    if required and not text:
        raise ContactRefused(N_("Enter %(what)s."), what=what.object)
    return text


def parse_email(value: str | None, *, what: FieldName = THE_EMAIL_ADDRESS) -> str:
    """A plausible address, lower-cased: one `@`, a local part of allowed characters and a
    domain of at least two labels; at most 254 characters."""
    raw = value or ""
    if len(raw) > MAX_RAW_LENGTH or len(raw.strip()) > MAX_EMAIL_LENGTH:
        raise ContactRefused(N_("%(what)s can be at most %(count)s characters."), what=what.subject,
                             count=MAX_EMAIL_LENGTH)
    if has_control_characters(raw):
        raise ContactRefused(N_("%(what)s must be one line of plain text."), what=what.subject)
    address = raw.strip().lower()
    local, at, domain = address.rpartition("@")
    labels = domain.split(".")
    if (not at or not local or len(local) > MAX_LOCAL_PART_LENGTH or not _LOCAL_PART.match(local)
            or local.startswith(".") or local.endswith(".") or ".." in local
            or len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels)
            or labels[-1].isdigit()):
        raise ContactRefused(N_("%(what)s does not look like an email address (name@company.com)."), what=what.subject)
    return address


def email_domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


@dataclass(frozen=True)
class NamedContact:
    """The right person, as a clerk named them."""

    name: str
    email: str


def parse_named_contact(name: str | None, email: str | None) -> NamedContact:
    return NamedContact(name=clean_line(name, what=THE_NAME, max_length=MAX_NAME_LENGTH),
                        email=parse_email(email))


def known_company_domain(address: str, company_addresses: Iterable[str]) -> bool:
    """Whether `address`'s domain is one the company's own contacts use, and not free mail:
    then a clerk's colleague at that domain may be added without staff approving it."""
    domain = email_domain(address)
    if domain in FREE_MAIL_DOMAINS:
        return False
    return any(email_domain(other) == domain for other in company_addresses)


def receives_email(contact) -> bool:
    """Whether reminders and notices may be sent to this contact: not one who left, not an
    address that bounced."""
    return contact.left_at is None and contact.email_failing_at is None


def reachable(contacts: Iterable) -> list:
    """The contacts that may be written to (`receives_email`), in their order."""
    return [contact for contact in contacts if receives_email(contact)]


MAX_DSN_BYTES = 1024 * 1024


def failed_recipients(raw: bytes) -> list[tuple[str, str]]:
    """The permanently failed recipients of a delivery status notification (RFC 3464, what a
    mail server sends back for a bounce): `(address, "5.1.1 <diagnostic>")` for each
    `Action: failed` with a 5.x.x status. Transient failures (4.x.x, delayed) are not bounces."""
    if len(raw) > MAX_DSN_BYTES:
        raise ContactRefused("That message is too large to be a delivery report.")
    message = message_from_bytes(raw, policy=default_policy)
    found: list[tuple[str, str]] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload():
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip()
            recipient = str(block.get("Final-Recipient", "") or block.get("Original-Recipient", ""))
            kind, _, address = recipient.partition(";")
            if action != "failed" or not status.startswith("5") or kind.strip().lower() != "rfc822":
                continue
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            found.append((address.strip(), f"{status} {diagnostic}".strip()[:MAX_REASON_LENGTH]))
    return found
