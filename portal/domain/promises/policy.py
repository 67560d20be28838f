"""What a promise to pay may be, and when it is kept or broken. Pure decisions.

The limits (`PromisePolicy`) are settings: how far ahead a date may be (`PROMISE_MAX_DAYS`,
default 30), how often the date may move (`PROMISE_MAX_MOVES`, default 2) and the grace after
the date before a promise counts as broken (`PROMISE_GRACE_DAYS`, default 3).

Kept or broken (`decide`): a promise is about the invoices it names. It is **kept** as soon as
nothing is left to pay on any of them: each open balance, less what an active dispute holds
(a disputed amount is not owed until its dispute ends), is zero, whether by payments or
credits. It is **broken** when the customer's date plus the grace has passed and something is
still owed. Money in flight (an ACH debit processing) is not money received: while everything
still owed is in flight, the promise waits for it to settle or fail instead of being decided.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from portal.domain.core.locales import N_
from portal.domain.core.errors import DomainError
from portal.domain.promises.models import MAX_NOTE_LENGTH
from portal.domain.promises.states import PaymentMethod, PromiseStatus

DEFAULT_MAX_DAYS = 30
DEFAULT_MAX_MOVES = 2
DEFAULT_GRACE_DAYS = 3
MAX_INVOICES_PER_PROMISE = 50
# Where the settings may put the limits (checked at start-up, see `portal.config`).
MAX_DAYS_RANGE = (1, 365)
MAX_MOVES_RANGE = (0, 10)
GRACE_DAYS_RANGE = (0, 30)


class PromiseRefused(DomainError):
    """A promise (or a change to one) refused with a message for the customer; nothing changed."""


@dataclass(frozen=True)
class PromisePolicy:
    max_days: int = DEFAULT_MAX_DAYS
    max_moves: int = DEFAULT_MAX_MOVES
    grace_days: int = DEFAULT_GRACE_DAYS

    def earliest_date(self, today: date) -> date:
        return today + timedelta(days=1)

    def latest_date(self, today: date) -> date:
        return today + timedelta(days=self.max_days)

    def deadline(self, promised_date: date) -> date:
        """The last day a payment still keeps a promise made for `promised_date`."""
        return promised_date + timedelta(days=self.grace_days)


def check_date(policy: PromisePolicy, promised_date: date, today: date) -> date:
    """`promised_date` when it is from tomorrow up to the policy's limit; `PromiseRefused` otherwise."""
    earliest, latest = policy.earliest_date(today), policy.latest_date(today)
    if promised_date < earliest:
        raise PromiseRefused(N_("Choose a date from tomorrow on."))
    if promised_date > latest:
        raise PromiseRefused(N_("Choose a date within %(limit)s days (by %(latest)s)."), limit=policy.max_days, latest=latest)
    return promised_date


def check_move(policy: PromisePolicy, *, move_count: int, current: date, new: date, today: date) -> date:
    """The new date of a promise that moves, or `PromiseRefused` (no moves left, same date, out of range)."""
    if move_count >= policy.max_moves:
        raise PromiseRefused(N_("This promise's date cannot be moved again.")
                             if policy.max_moves else N_("A promise's date cannot be moved."))
    if new == current:
        raise PromiseRefused(N_("That is already the promised date."))
    return check_date(policy, new, today)


def moves_left(policy: PromisePolicy, move_count: int) -> int:
    return max(policy.max_moves - move_count, 0)


def check_method(method: str) -> PaymentMethod:
    try:
        return PaymentMethod(method)
    except ValueError:
        raise PromiseRefused(N_("Choose how you will pay from the list.")) from None


def clean_note(note: str) -> str:
    """The note stripped, at most `MAX_NOTE_LENGTH` characters of one line of plain text."""
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise PromiseRefused(N_("The note can be at most %(limit)s characters."), limit=MAX_NOTE_LENGTH)
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or unicodedata.bidirectional(c) in
           ("LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI") or c == "\ufeff" for c in note):
        raise PromiseRefused(N_("The note must be one line of plain text."))
    return note


@dataclass(frozen=True)
class InvoiceFigures:
    """Where one promised invoice stands now (minor units of the promise's currency)."""

    balance_minor: int
    in_flight_minor: int
    held_minor: int

    @property
    def owed_minor(self) -> int:
        """What is still to be paid: the open balance less what a dispute holds."""
        return max(self.balance_minor - max(self.held_minor, 0), 0)


def decide(policy: PromisePolicy, *, promised_date: date, today: date,
           invoices: list[InvoiceFigures]) -> PromiseStatus | None:
    """KEPT, BROKEN, or None (still open) for an open promise on `today` (see the module doc)."""
    if all(figures.owed_minor <= 0 for figures in invoices):
        return PromiseStatus.KEPT
    if today <= policy.deadline(promised_date):
        return None
    if all(figures.owed_minor <= figures.in_flight_minor for figures in invoices):
        return None  # what is owed is on its way: wait until it settles or fails
    return PromiseStatus.BROKEN
