"""Pure decisions of the reminders: which step an invoice has reached, what is left out, when a
customer may be written to, and the small placeholder language of the steps' templates.

The templates are not Jinja: staff write plain text with four placeholders (`PLACEHOLDERS`),
substituted with plain text; the email's layout escapes the result like any other value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from portal.domain.core.locales import NO_BREAK_SPACES, N_, one_line as text_on_one_line
from portal.domain.core.errors import DomainError
from portal.domain.reminders.models import MAX_BODY_LENGTH, MAX_OFFSET_DAYS, MAX_SUBJECT_LENGTH, MIN_OFFSET_DAYS
from portal.domain.reminders.states import Tone

MAX_STEPS = 12
BUSINESS_OPENS = time(9, 0)
BUSINESS_CLOSES = time(17, 0)
BUSINESS_DAYS = frozenset(range(5))  # Monday to Friday

PLACEHOLDERS = {
    "customer_name": "the customer's name",
    "invoice_list": "the invoices reminded, one a line",
    "total": "what is left to pay on them",
    "link": "the link that opens them, selected",
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class ReminderPolicyRefused(DomainError):
    """A reminder policy that cannot be saved; nothing was changed."""


@dataclass(frozen=True)
class StepSpec:
    offset_days: int
    tone: Tone
    subject: str
    body: str

    @property
    def label(self) -> str:
        if self.offset_days < 0:
            return f"{-self.offset_days} day{'' if self.offset_days == -1 else 's'} before the due date"
        if self.offset_days == 0:
            return "On the due date"
        return f"{self.offset_days} day{'' if self.offset_days == 1 else 's'} after the due date"


# The standard texts are marked for the message catalogue: a reminder goes out in its
# addressee's language when its step still has the standard text (`notifications`); a text the
# admins wrote is sent as written.
_FRIENDLY_BODY = N_(
    "Hello {customer_name},\n\nA friendly reminder: these invoices are due soon or now.\n\n"
    "{invoice_list}\n\nTotal: {total}\n\nPay, dispute or promise a date here: {link}"
)
DEFAULT_STEPS: tuple[StepSpec, ...] = (
    StepSpec(-3, Tone.FRIENDLY, N_("Invoices due soon"), _FRIENDLY_BODY),
    StepSpec(1, Tone.FRIENDLY, N_("Invoices now due"), _FRIENDLY_BODY),
    StepSpec(7, Tone.FIRM, N_("Overdue invoices: please pay {total}"),
             N_("Hello {customer_name},\n\nThese invoices are overdue.\n\n{invoice_list}\n\nTotal: {total}\n\n"
                "Please pay them, or tell us what holds the payment up: {link}")),
    StepSpec(15, Tone.FIRM, N_("Second notice: {total} overdue"),
             N_("Hello {customer_name},\n\nWe have not received payment for these invoices.\n\n{invoice_list}\n\n"
                "Total: {total}\n\nPay, dispute or promise a date: {link}")),
    StepSpec(30, Tone.FORMAL_DEMAND, N_("Formal demand for payment of {total}"),
             N_("Dear {customer_name},\n\nThe invoices below are 30 days overdue. We formally ask you to pay "
                "them now.\n\n{invoice_list}\n\nTotal: {total}\n\n{link}")),
    StepSpec(45, Tone.FINAL_NOTICE, N_("Final notice: {total} overdue"),
             N_("Dear {customer_name},\n\nThis is our final notice for the invoices below.\n\n{invoice_list}\n\n"
                "Total: {total}\n\n{link}")),
)


# --------------------------------------------------------------------------------------------
# The templates


_ALSO_REFUSED = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


def _has_control(text: str, *, newlines: bool) -> bool:
    """A control character (newlines allowed where `newlines`), a line or paragraph separator,
    or a bidirectional override."""
    return any((unicodedata.category(c) == "Cc" or c in _ALSO_REFUSED) and not (newlines and c == "\n")
               for c in text)


def _check_template(text: str, what: str, limit: int, *, multiline: bool) -> str:
    text = text.replace("\r\n", "\n").strip() if multiline else text.strip()
    if not text:
        raise ReminderPolicyRefused(f"Enter the {what}.")
    if len(text) > limit:
        raise ReminderPolicyRefused(f"The {what} is too long: at most {limit} characters.")
    if _has_control(text, newlines=multiline):
        raise ReminderPolicyRefused(f"The {what} contains a control character.")
    unknown = sorted({name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        raise ReminderPolicyRefused(f"The {what} uses an unknown placeholder: {{{unknown[0][:40]}}}. "
                                    f"Known: {', '.join('{' + name + '}' for name in PLACEHOLDERS)}.")
    return text


def checked_steps(steps: Sequence[tuple[object, object, object, object]]) -> list[StepSpec]:
    """The policy as typed (offset, tone, subject, body per step) checked whole: one to
    `MAX_STEPS` steps, offsets whole days in range and each used once, a known tone, a subject
    and body within their limits, no control character, only known placeholders. Sorted by
    offset. Raises `ReminderPolicyRefused` naming the first problem."""
    if not steps:
        raise ReminderPolicyRefused("A reminder policy needs at least one step.")
    if len(steps) > MAX_STEPS:
        raise ReminderPolicyRefused(f"A reminder policy has at most {MAX_STEPS} steps.")
    checked: list[StepSpec] = []
    for n, (offset, tone, subject, body) in enumerate(steps, start=1):
        text = str(offset).strip()
        if not re.fullmatch(r"-?[0-9]{1,3}", text) or not MIN_OFFSET_DAYS <= int(text) <= MAX_OFFSET_DAYS:
            raise ReminderPolicyRefused(
                f"Step {n}: the offset must be whole days from {MIN_OFFSET_DAYS} (before the due date) "
                f"to {MAX_OFFSET_DAYS} (after it).")
        if str(tone) not in {t.value for t in Tone}:
            raise ReminderPolicyRefused(f"Step {n}: choose a tone.")
        checked.append(StepSpec(
            int(text), Tone(str(tone)),
            _check_template(str(subject), f"subject of step {n}", MAX_SUBJECT_LENGTH, multiline=False),
            _check_template(str(body), f"text of step {n}", MAX_BODY_LENGTH, multiline=True),
        ))
    offsets = [step.offset_days for step in checked]
    if len(set(offsets)) != len(offsets):
        twice = next(offset for offset in offsets if offsets.count(offset) > 1)
        raise ReminderPolicyRefused(f"Two steps have the same offset ({twice} days): each step needs its own day.")
    return sorted(checked, key=lambda step: step.offset_days)


def fill_placeholders(template: str, values: dict[str, str]) -> str:
    """`template` with each known placeholder replaced by its value, as plain text (one pass:
    a value that itself looks like a placeholder stays as it is)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def one_line(value: str) -> str:
    """Customer data going into a subject or a list line: no control or separator character
    but the space and the no-break spaces that keep French punctuation and money together."""
    flat = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " and c not in NO_BREAK_SPACES else c
                   for c in value)
    return text_on_one_line(flat)


# --------------------------------------------------------------------------------------------
# Steps, exclusions, business hours


def latest_step_reached(offsets: Iterable[int], due_date: date, today: date) -> int | None:
    """The latest step an invoice due on `due_date` has reached on `today`, or None before the
    first. Only the latest counts: steps missed while chasing was paused (a promise, a pause, a
    dispute) are not sent in a burst when it resumes."""
    days = (today - due_date).days
    reached = [offset for offset in offsets if offset <= days]
    return max(reached) if reached else None


@dataclass(frozen=True)
class InvoiceToRemind:
    invoice_id: int
    due_date: date
    currency: str
    balance_minor: int
    in_flight_minor: int
    held_minor: int

    @property
    def remindable_minor(self) -> int:
        """What the reminder asks for: the balance less what is in flight and what disputes hold."""
        return self.balance_minor - self.in_flight_minor - self.held_minor


def remindable(invoices: Iterable[InvoiceToRemind], *, excluded_ids: set[int],
               minimum: tuple[str, int] | None = None) -> list[InvoiceToRemind]:
    """The invoices a reminder may ask to be paid: not in `excluded_ids` (under an open
    promise, in an active installment plan: the caller gathers them), something left once the
    in-flight and held (disputed) amounts are taken off (so never a paid invoice), and not less
    than the customer's `minimum` (currency, minor units) when in that currency."""
    return [
        invoice for invoice in invoices
        if invoice.invoice_id not in excluded_ids and invoice.remindable_minor > 0
        and not (minimum is not None and invoice.currency == minimum[0] and invoice.remindable_minor < minimum[1])
    ]


def steps_to_send(invoices: Iterable[InvoiceToRemind], *, offsets: Sequence[int], today: date,
                  excluded_ids: set[int], minimum: tuple[str, int] | None = None,
                  already_sent: set[tuple[int, int]]) -> dict[int, list[InvoiceToRemind]]:
    """The invoices to remind now, by the step (offset) each has reached: the `remindable`
    ones that reached a step and were not reminded at it yet (`already_sent`: (invoice, offset))."""
    chosen: dict[int, list[InvoiceToRemind]] = {}
    for invoice in remindable(invoices, excluded_ids=excluded_ids, minimum=minimum):
        step = latest_step_reached(offsets, invoice.due_date, today)
        if step is None or (invoice.invoice_id, step) in already_sent:
            continue
        chosen.setdefault(step, []).append(invoice)
    return chosen


def in_business_hours(moment: datetime, timezone: str, holidays: set[date]) -> bool:
    """Whether `moment` (aware) falls in the customer's business hours: 09:00 to 17:00 on their
    own clock (daylight saving included), Monday to Friday, not on one of the supplier's holidays."""
    local = moment.astimezone(ZoneInfo(timezone or "UTC"))
    return (local.weekday() in BUSINESS_DAYS and local.date() not in holidays
            and BUSINESS_OPENS <= local.time() < BUSINESS_CLOSES)
