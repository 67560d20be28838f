"""Pure decisions about disputes: what may be disputed on an invoice, how a chosen line's
amount is worked out, what a holder of an invoice link may see and raise, text rules, which
SLA dates need a warning, and the arithmetic of the supervisors' numbers (age buckets,
percentiles).

No database and no clock: every function decides from its arguments.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from portal.domain.core.locales import N_
from portal.domain.core.errors import DomainError, FieldName, Text
from portal.domain.core.money import Money, MoneyError

from portal.domain.disputes.models import MAX_DESCRIPTION_LENGTH, MAX_MESSAGE_LENGTH
from portal.domain.disputes.states import SLA_RUNNING

MAX_INVOICES_PER_DISPUTE = 20
MAX_LINES_PER_INVOICE = 200
MAX_QUANTITY_TEXT = 16
MIN_DESCRIPTION_LENGTH = 10
# A corrected invoice (re-bill): its lines, how far ahead it may fall due, and the largest
# total (the ledger's amounts are 32-bit integers of minor units).
MAX_CORRECTED_LINES = 50
MAX_CORRECTED_DUE_DAYS = 366
MAX_CORRECTED_TOTAL_MINOR = 2_000_000_000
MAX_CORRECTED_QUANTITY = 1_000_000
# Bidirectional overrides and separators reorder or break text as well as control characters.
_ALSO_REFUSED = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_LINE_BREAKS = frozenset("\n")


class DisputeRefused(DomainError):
    """The dispute (or the step asked for) cannot be done as asked; nothing was changed."""


# --------------------------------------------------------------------------------------------
# Text


# The texts a dispute is written in, as refusals name them.
A_DESCRIPTION = FieldName(N_("A description of what is wrong"), N_("a description of what is wrong"))
A_MESSAGE = FieldName(N_("A message"), N_("a message"))


def clean_text(text: str, *, what: FieldName, max_length: int, min_length: int = 1) -> str:
    """A description or message body: several lines allowed (CR LF and CR become LF), no other
    control character, no bidirectional override, between `min_length` and `max_length`
    characters once stripped."""
    if not isinstance(text, str):
        raise DisputeRefused(N_("Write %(what)s."), what=what.object)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if any((unicodedata.category(c) == "Cc" and c not in _LINE_BREAKS) or c in _ALSO_REFUSED for c in text):
        raise DisputeRefused(N_("%(what)s contains characters that are not allowed (control characters)."),
                             what=what.subject)
    if len(text) < min_length:
        if min_length > 1:
            raise DisputeRefused(N_("Write %(what)s of at least %(count)s characters."), what=what.object,
                                 count=min_length)
        raise DisputeRefused(N_("Write %(what)s."), what=what.object)
    if len(text) > max_length:
        raise DisputeRefused(N_("%(what)s can be at most %(count)s characters."), what=what.subject, count=max_length)
    return text


def clean_description(text: str) -> str:
    return clean_text(text, what=A_DESCRIPTION, max_length=MAX_DESCRIPTION_LENGTH, min_length=MIN_DESCRIPTION_LENGTH)


def clean_message(text: str) -> str:
    return clean_text(text, what=A_MESSAGE, max_length=MAX_MESSAGE_LENGTH)


def clean_message_with_files(text: str, file_count: int) -> str:
    """A message's text when files may carry the message: empty is allowed with a file, and any
    text given follows `clean_message`."""
    if isinstance(text, str) and not text.strip():
        if file_count:
            return ""
        raise DisputeRefused(N_("Write a message, or attach a file."))
    return clean_message(text)


# --------------------------------------------------------------------------------------------
# Amounts


@dataclass(frozen=True)
class LineChoice:
    """One chosen invoice line, as typed: a quantity or an amount (exactly one)."""

    position: int
    quantity_text: str = ""
    amount_text: str = ""


@dataclass(frozen=True)
class InvoiceChoice:
    """What the customer disputes on one invoice: the whole open amount (`whole`), chosen lines,
    or an amount typed for the invoice."""

    invoice_public_id: str
    mode: str  # "whole" | "lines" | "amount"
    amount_text: str = ""
    lines: tuple[LineChoice, ...] = ()


MODES = ("whole", "lines", "amount")


@dataclass(frozen=True)
class LineFacts:
    """An invoice line as the policy needs it."""

    id: int
    position: int
    description: str
    quantity: Decimal
    unit_price_minor: int
    amount_minor: int


@dataclass(frozen=True)
class DisputedLine:
    line_id: int
    quantity: Decimal | None
    amount: Money


@dataclass(frozen=True)
class DisputedInvoice:
    invoice_id: int
    amount: Money
    lines: tuple[DisputedLine, ...] = ()


def parse_quantity(text: str, what: str | Text) -> Decimal:
    """A typed quantity: plain digits with at most three decimals, positive, bounded."""
    text = (text or "").strip()
    if not text or len(text) > MAX_QUANTITY_TEXT or not all(c in "0123456789." for c in text) or text.count(".") > 1:
        raise DisputeRefused(N_("%(what)s: enter the quantity as a number, for example 2 or 1.5."), what=what)
    try:
        quantity = Decimal(text)
    except InvalidOperation:
        raise DisputeRefused(N_("%(what)s: enter the quantity as a number, for example 2 or 1.5."), what=what) from None
    if quantity.as_tuple().exponent < -3:  # type: ignore[operator]
        raise DisputeRefused(N_("%(what)s: a quantity has at most %(count)s decimals."), what=what, count=3)
    if quantity <= 0:
        raise DisputeRefused(N_("%(what)s: enter a quantity above zero."), what=what)
    return quantity


def line_amount(line: LineFacts, choice: LineChoice, currency: str, what: str | Text) -> DisputedLine:
    """The disputed amount of one chosen line: quantity × unit price (half a minor unit up,
    as on the invoice) or the amount typed; never more than the line itself."""
    has_quantity, has_amount = bool(choice.quantity_text.strip()), bool(choice.amount_text.strip())
    line_total = Money(line.amount_minor, currency)
    if has_quantity and has_amount:
        raise DisputeRefused(N_("%(what)s: enter a quantity or an amount, not both."), what=what)
    if has_quantity:
        quantity = parse_quantity(choice.quantity_text, what)
        if quantity > line.quantity:
            raise DisputeRefused(N_("%(what)s: the line has a quantity of %(quantity)s; at most that can be disputed."),
                                 what=what, quantity=f"{line.quantity.normalize():f}")
        exact = quantity * line.unit_price_minor
        amount = Money(min(int(exact.quantize(Decimal(1), ROUND_HALF_UP)), line.amount_minor), currency)
        if amount.minor <= 0:
            raise DisputeRefused(N_("%(what)s: that quantity comes to nothing."), what=what)
        return DisputedLine(line.id, quantity, amount)
    if has_amount:
        try:
            amount = Money.parse(choice.amount_text, currency)
        except MoneyError as error:
            raise DisputeRefused(N_("%(what)s: %(problem)s."), what=what, problem=error) from None
        if amount.minor <= 0:
            raise DisputeRefused(N_("%(what)s: enter an amount above zero."), what=what)
        if amount > line_total:
            raise DisputeRefused(N_("%(what)s: at most the line's %(amount)s can be disputed."), what=what,
                                 amount=line_total)
        return DisputedLine(line.id, None, amount)
    # Chosen without a figure: the whole line.
    return DisputedLine(line.id, line.quantity, line_total)


def payable_now(balance: Money, in_flight: Money, held: Money) -> Money:
    """What can be paid on an invoice now: its open balance less what is already on its way and
    what active disputes hold (as `ledger.queries.Standing.payable` reckons it)."""
    return Money(max(balance.minor - in_flight.minor - held.minor, 0), balance.currency)


def disputable(balance: Money, in_flight: Money, held: Money) -> Money:
    """What can still be disputed on an invoice: the same money that could be paid now (a
    payment in flight cannot be disputed back, nor what other disputes already hold)."""
    return payable_now(balance, in_flight, held)


def disputed_on_invoice(
    choice: InvoiceChoice, *, number: str, lines: Sequence[LineFacts], available: Money,
) -> DisputedInvoice | None:
    """The amount (and lines) disputed on one invoice, checked against what is `available`
    (see `disputable`). Raises `DisputeRefused` with the invoice named; None never."""
    currency = available.currency
    if available.is_zero:
        raise DisputeRefused(N_("Invoice %(number)s has nothing left that can be disputed "
                                "(it is paid, being paid or already disputed)."), number=number)
    if choice.mode not in MODES:
        raise DisputeRefused(N_("Invoice %(number)s: choose what you dispute."), number=number)
    if choice.mode == "whole":
        return DisputedInvoice(invoice_id=0, amount=available)
    if choice.mode == "amount":
        try:
            amount = Money.parse(choice.amount_text, currency)
        except MoneyError as error:
            raise DisputeRefused(N_("Invoice %(number)s: %(problem)s."), number=number, problem=error) from None
        if amount.minor <= 0:
            raise DisputeRefused(N_("Invoice %(number)s: enter an amount above zero."), number=number)
        if amount > available:
            raise DisputeRefused(N_("Invoice %(number)s: at most %(amount)s can be disputed "
                                    "(the open balance less payments in progress and other disputes)."),
                                 number=number, amount=available)
        return DisputedInvoice(invoice_id=0, amount=amount)
    if not choice.lines:
        raise DisputeRefused(N_("Invoice %(number)s: choose at least one line."), number=number)
    if len(choice.lines) > MAX_LINES_PER_INVOICE:
        raise DisputeRefused(N_("Invoice %(number)s: choose at most %(limit)s lines."), number=number,
                             limit=MAX_LINES_PER_INVOICE)
    by_position = {line.position: line for line in lines}
    positions = [c.position for c in choice.lines]
    if len(set(positions)) != len(positions):
        raise DisputeRefused(N_("Invoice %(number)s: a line is chosen twice."), number=number)
    disputed = []
    for line_choice in choice.lines:
        line = by_position.get(line_choice.position)
        if line is None:
            raise DisputeRefused(N_("Invoice %(number)s: that line is not on the invoice."), number=number)
        disputed.append(line_amount(line, line_choice, currency,
                                    Text(N_("Invoice %(number)s, line %(line)s"), number=number, line=line.position)))
    amount = Money(sum(d.amount.minor for d in disputed), currency)
    if amount > available:
        raise DisputeRefused(N_("Invoice %(number)s: the chosen lines come to %(amount)s, more than the "
                                "%(available)s that can be disputed (the open balance less payments "
                                "in progress and other disputes)."), number=number, amount=amount, available=available)
    return DisputedInvoice(invoice_id=0, amount=amount, lines=tuple(disputed))


def check_partial_credit(credit: Money, disputed: Money, number: str) -> None:
    if credit.minor < 0:
        raise DisputeRefused(f"Invoice {number}: a credit cannot be negative.")
    if credit > disputed:
        raise DisputeRefused(f"Invoice {number}: at most the disputed {disputed.format()} can be credited.")


def needs_approval(total_credit: Money, credit_limit: Money | None) -> bool:
    """Whether a credit waits for someone with a higher limit (`None`: no limit)."""
    if credit_limit is None:
        return False
    if credit_limit.currency != total_credit.currency:
        return True  # a limit in another currency cannot vouch for this one
    return total_credit > credit_limit


# --------------------------------------------------------------------------------------------
# Re-billing


@dataclass(frozen=True)
class CorrectedLineFacts:
    """A line of a corrected invoice as the checks need it."""

    quantity: Decimal
    unit_price_minor: int
    amount_minor: int


def check_correction(replaces: str, *, due_date: date, lines: Sequence[CorrectedLineFacts], today: date,
                     currency: str) -> None:
    """A corrected invoice (replacing invoice number `replaces`) as the domain accepts it: one
    to `MAX_CORRECTED_LINES` lines, each quantity positive and at most `MAX_CORRECTED_QUANTITY`,
    due from today to `MAX_CORRECTED_DUE_DAYS` ahead, unit prices and a positive total of at
    most `MAX_CORRECTED_TOTAL_MINOR`."""
    what = f"The corrected invoice for {replaces}"
    largest = Money(MAX_CORRECTED_TOTAL_MINOR, currency)
    if not lines:
        raise DisputeRefused(f"{what} needs at least one line.")
    if len(lines) > MAX_CORRECTED_LINES:
        raise DisputeRefused(f"{what} can have at most {MAX_CORRECTED_LINES} lines.")
    if any(not 0 < line.quantity <= MAX_CORRECTED_QUANTITY for line in lines):
        raise DisputeRefused(f"{what}: each quantity is above zero and at most {MAX_CORRECTED_QUANTITY:,}.")
    if any(not 0 <= line.unit_price_minor <= largest.minor for line in lines):
        raise DisputeRefused(f"{what}: a unit price is at most {largest.format()}.")
    if due_date < today:
        raise DisputeRefused(f"{what} cannot fall due before today.")
    if due_date > today + timedelta(days=MAX_CORRECTED_DUE_DAYS):
        raise DisputeRefused(f"{what} must fall due within {MAX_CORRECTED_DUE_DAYS} days.")
    total = sum(line.amount_minor for line in lines)
    if total <= 0:
        raise DisputeRefused(f"{what} comes to nothing: give it a line with a price.")
    if total > largest.minor:
        raise DisputeRefused(f"{what} comes to {Money(total, currency).format()}, more than the "
                             f"{largest.format()} an invoice can be.")


_REBILL_SUFFIX = re.compile(r"-R([0-9]{1,3})$")


def rebill_number_candidates(number: str, max_length: int, count: int = 9) -> list[str]:
    """Numbers for the invoice that replaces `number`, best first: `<number>-R1`, `-R2`, ...;
    a corrected invoice's own number counts on (`INV-7-R1` is replaced by `INV-7-R2`). Each is
    cut to fit `max_length`."""
    match = _REBILL_SUFFIX.search(number)
    base, first = (number[:match.start()], int(match.group(1)) + 1) if match else (number, 1)
    return [base[:max_length - len(f"-R{n}")] + f"-R{n}" for n in range(first, first + count)]


def check_rebill_credit(credit: Money, credit_limit: Money | None) -> None:
    """Whether the acting member may issue the credit a re-bill makes (`credit_limit`: their
    role's; None: no limit).

    The credit counted is the credit notes' total, what is still open (and not already being
    paid) on the replaced invoices, not that less the corrected invoices: the credit note is
    what comes off the ledger, and a large new invoice must not make room for a large credit.
    A re-bill has no approval step (it issues a new invoice at once), so above the limit it is
    refused and someone whose limit covers it does it.
    """
    if credit_limit is None or credit.is_zero or not needs_approval(credit, credit_limit):
        return
    raise DisputeRefused(
        f"Re-billing credits {credit.format()} (what is still open on the replaced invoices), above your "
        f"credit limit of {credit_limit.format()}: ask a supervisor to re-bill this dispute."
    )


# --------------------------------------------------------------------------------------------
# Who sees what


def link_may_see(link_invoice_ids: Iterable[int], dispute_invoice_ids: Iterable[int]) -> bool:
    """A forwarded invoice link's holder sees a dispute only when every invoice it covers is
    one the link names: a dispute spanning other invoices would tell of them."""
    covered = set(dispute_invoice_ids)
    return bool(covered) and covered <= set(link_invoice_ids)


# --------------------------------------------------------------------------------------------
# SLA warnings


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


SLA_TARGET_LABELS = {SlaTarget.FIRST_RESPONSE: "First response", SlaTarget.RESOLUTION: "Resolution"}


@dataclass(frozen=True)
class SlaDue:
    target: SlaTarget
    due_at: datetime


def sla_dues_to_warn(now: datetime, window: timedelta, *, status: str, first_response_due_at: datetime | None,
                     first_responded_at: datetime | None, resolution_due_at: datetime | None) -> tuple[SlaDue, ...]:
    """The SLA dates of a dispute that fall within `window` from `now`, or have passed: the
    first response while nobody has answered, the resolution while the dispute is open. None
    while its clock stands still (awaiting the customer: the dates move when the pause ends)."""
    if status not in SLA_RUNNING:
        return ()
    horizon = now + window
    dues = []
    if first_responded_at is None and first_response_due_at is not None and first_response_due_at <= horizon:
        dues.append(SlaDue(SlaTarget.FIRST_RESPONSE, first_response_due_at))
    if resolution_due_at is not None and resolution_due_at <= horizon:
        dues.append(SlaDue(SlaTarget.RESOLUTION, resolution_due_at))
    return tuple(dues)


# --------------------------------------------------------------------------------------------
# The supervisors' numbers


@dataclass(frozen=True)
class AgeBucket:
    """Open disputes at least `min_days` whole days old (and younger than the next bucket's)."""

    label: str
    min_days: int


AGE_BUCKETS = (
    AgeBucket("0–2 days", 0),
    AgeBucket("3–7 days", 3),
    AgeBucket("8–30 days", 8),
    AgeBucket("Over 30 days", 31),
)


def age_in_days(raised_at: datetime, now: datetime) -> int:
    """Whole days since a dispute was raised (a dispute raised 47 hours ago is 1 day old)."""
    return max((now - raised_at) // timedelta(days=1), 0)


def age_bucket(days: int) -> AgeBucket:
    return next(bucket for bucket in reversed(AGE_BUCKETS) if days >= bucket.min_days)


def percentile(values: Sequence[timedelta], fraction: float) -> timedelta | None:
    """The `fraction` (0 to 1) percentile of `values`, interpolated linearly between the two
    nearest ranks (numpy's default, a spreadsheet's PERCENTILE.INC): the median of 1 h and 3 h
    is 2 h. None when there are no values."""
    if not 0 <= fraction <= 1:
        raise ValueError("a percentile is a fraction between 0 and 1")
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    below, above = ordered[math.floor(rank)], ordered[math.ceil(rank)]
    return below + (above - below) * (rank - math.floor(rank))


def duration_text(value: timedelta | None) -> str:
    """A duration as the numbers page shows it, to the minute: "45 min", "3 h 20 min", "2 d 4 h"."""
    if value is None:
        return "—"
    minutes = max(int(value.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"
