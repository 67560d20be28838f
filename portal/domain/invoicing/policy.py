"""Pure decisions about giving an issued invoice its PO number: what a PO number may be, what
the clerk said (the number, or who issues it), whether the invoice is updated in place or
credited and replaced, and its due date afterwards.

The due date follows the supplier's rule (`PO_REISSUE_DUE_DATE`):

* `keep` (the default): the original due date. A replacement invoice is issued on the day of
  the re-issue and cannot fall due before it, so a replacement of an invoice already overdue
  is due that day.
* `restart`: the payment terms run again from the re-issue date (the days between the
  original issue and due dates, e.g. Net 30 → due 30 days after the re-issue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from portal.domain.core.errors import DomainError, FieldName
from portal.domain.core.locales import N_
from portal.domain.customers.policy import ContactRefused, clean_line, has_control_characters, parse_email

MAX_PO_LENGTH = 60
MAX_RAW_LENGTH = 1000
# Who issues the PO, as a refusal of the clerk's answer names them.
ISSUER_NAME = FieldName(N_("The name of who issues POs"), N_("the name of who issues POs"))
ISSUER_EMAIL = FieldName(N_("Their email address"), N_("their email address"))


class PoRefused(DomainError):
    """The PO number was not accepted, or the invoice cannot take it now; the message says why."""


class DueDateRule(StrEnum):
    KEEP = "keep"
    RESTART = "restart"


@dataclass(frozen=True)
class PoSettings:
    """The supplier's policy: how the due date moves, and whether the portal re-issues alone
    when the clerk gives the number (`PO_REISSUE_DUE_DATE`, `PO_AUTO_REISSUE`)."""

    due_date_rule: DueDateRule = DueDateRule.KEEP
    auto_reissue: bool = False


class ReissueMode(StrEnum):
    IN_PLACE = "in_place"             # nothing paid, credited or disputed: the PO is written on it
    CREDIT_AND_REPLACE = "replace"    # credited what is open, replaced by a new invoice with the PO


def parse_po_number(value: str | None) -> str:
    """A PO number: one line of 1 to 60 characters, inner spaces kept."""
    raw = value or ""
    if len(raw) > MAX_RAW_LENGTH or len(raw.strip()) > MAX_PO_LENGTH:
        raise PoRefused(f"A PO number can be at most {MAX_PO_LENGTH} characters.")
    if has_control_characters(raw):
        raise PoRefused("A PO number must be one line of plain text.")
    number = raw.strip()
    if not number:
        raise PoRefused("Enter the PO number.")
    return number


@dataclass(frozen=True)
class PoRequest:
    """What the clerk told us: the PO number, or who in their company issues it."""

    po_number: str = ""
    issuer_name: str = ""
    issuer_email: str = ""

    def as_details(self) -> dict[str, str]:
        return {key: value for key, value in (("po_number", self.po_number), ("issuer_name", self.issuer_name),
                                              ("issuer_email", self.issuer_email)) if value}


def parse_po_request(po_number: str | None, issuer_name: str | None, issuer_email: str | None) -> PoRequest:
    """The PO number, or the name and address of who issues it (both), or all three."""
    given_po = bool((po_number or "").strip())
    given_issuer = bool((issuer_name or "").strip() or (issuer_email or "").strip())
    if not given_po and not given_issuer:
        raise PoRefused("Enter the PO number, or tell us who issues it.")
    number = parse_po_number(po_number) if given_po else ""
    name = email = ""
    if given_issuer:
        try:
            name = clean_line(issuer_name, what=ISSUER_NAME, max_length=200)
            email = parse_email(issuer_email, what=ISSUER_EMAIL)
        except ContactRefused as refused:
            raise PoRefused(refused.text) from None
    return PoRequest(number, name, email)


def reissue_mode(*, entry_kinds: set[str], balance_minor: int, in_flight_minor: int, held_minor: int,
                 ever_disputed: bool, number: str) -> ReissueMode:
    """How an invoice takes its PO, or `PoRefused` when it cannot now."""
    if balance_minor <= 0:
        raise PoRefused(f"Invoice {number} is already paid: there is nothing left to re-issue.")
    if in_flight_minor > 0:
        raise PoRefused(f"A payment of invoice {number} is processing: it can be re-issued once that settles.")
    if held_minor > 0:
        raise PoRefused(f"Invoice {number} is disputed: it can be re-issued once the dispute is resolved.")
    if entry_kinds <= {"issued"} and not ever_disputed:
        return ReissueMode.IN_PLACE
    return ReissueMode.CREDIT_AND_REPLACE


def reissued_due_date(rule: DueDateRule | str, *, issue_date: date, due_date: date, reissue_date: date,
                      mode: ReissueMode) -> date:
    """The due date once the invoice carries its PO (see the module docstring)."""
    rule = DueDateRule(rule)
    if rule == DueDateRule.RESTART:
        return reissue_date + timedelta(days=(due_date - issue_date).days)
    if mode == ReissueMode.CREDIT_AND_REPLACE:
        return max(due_date, reissue_date)
    return due_date


def replacement_split(*, open_minor: int, total_minor: int) -> bool:
    """Whether the replacement copies the old lines (the whole total is still open) rather
    than carrying one line for the balance."""
    return open_minor == total_minor
