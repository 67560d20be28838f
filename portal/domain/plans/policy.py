"""Pure decisions about installment plans: the schedule, the plan policy, the decline table.

- The schedule (SECURITY.md P6): the total is split by largest remainder (`core.money.allocate`)
  into `count` parts that add up to it exactly and differ by at most one minor unit, the
  earlier parts taking the extra units; each part must be at least the currency's minimum card
  charge. Dates are calendar dates in the customer's time zone: weekly and every-two-weeks
  plans step by 7 and 14 days, monthly plans keep the first date's day of the month, clamped to
  the month's last day (31 January -> 28/29 February -> 31 March).
- The plan policy (`PlanPolicy`): the PLAN_* settings are its defaults, and an admin may store
  other values (`POLICY_BOUNDS` bound each field, `checked_policy` refuses anything else with a
  message). Inside it a proposal is active at once; outside it, it waits for staff.
  `outside_policy` names every reason; a customer on hold is always outside it.
- Amending a running plan: what remains unpaid is split again like a new schedule
  (`schedule`), and `amendment_terms_text` is what the customer accepts.
- The decline table (P9): Stripe's decline code decides whether a failed installment is charged
  again (a soft decline, after `retry_after_days`, at most `max_failures` failures in all) or
  not (a hard decline: the customer must act). `authentication_required` is never retried
  off-session (P8): the customer pays it on-session.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta

from portal.domain.core.errors import DomainError
from portal.domain.core.locales import (
    DEFAULT_LANGUAGE, N_, Text, format_day, format_money, language_or_default, translations,
)
from portal.domain.core.money import Money, allocate
from portal.domain.gateway.amounts import stripe_minimum
from portal.domain.plans.states import Cadence

MIN_INSTALLMENTS = 2
MAX_INSTALLMENTS = 12
# How far ahead the first installment may be set.
MAX_FIRST_DATE_DAYS = 60
MAX_REASON_LENGTH = 500


class PlanRefused(DomainError):
    """The proposal or action is not possible; `str(error)` is fit to show. Nothing changed."""


@dataclass(frozen=True)
class PlanPolicy:
    """What a plan may be without staff approving it (admins set it through settings)."""

    max_total_minor: int = 5_000_000  # in the plan's currency's minor units
    max_count: int = 6
    max_length_days: int = 180
    min_first_payment_minor: int = 0
    default_lookback_months: int = 12
    # Collection: a soft decline is charged again after this many days; the plan defaults
    # after this many failed collections in all.
    retry_after_days: int = 3
    max_failures: int = 3
    reminder_days_before: int = 3


# Each field's allowed range (inclusive) and its name on the admin page; the PLAN_* settings
# are checked against the same ranges.
POLICY_BOUNDS: dict[str, tuple[int, int]] = {
    "max_total_minor": (1, 10**12),
    "max_count": (MIN_INSTALLMENTS, MAX_INSTALLMENTS),
    "max_length_days": (7, 3 * 366),
    "min_first_payment_minor": (0, 10**12),
    "default_lookback_months": (0, 60),
    "retry_after_days": (1, 30),
    "max_failures": (1, 10),
    "reminder_days_before": (1, 14),
}
POLICY_LABELS: dict[str, str] = {
    "max_total_minor": "Largest plan total (minor units)",
    "max_count": "Most installments",
    "max_length_days": "Longest plan (days from first to last installment)",
    "min_first_payment_minor": "Smallest first installment (minor units)",
    "default_lookback_months": "Months a defaulted plan counts against the customer",
    "retry_after_days": "Days before a soft decline is charged again",
    "max_failures": "Failed collections before the plan defaults",
    "reminder_days_before": "Days before each charge the reminder is sent",
}


def checked_policy(values: dict[str, int]) -> PlanPolicy:
    """The policy with these values (every field given, each inside its bounds), or
    PlanRefused naming the first field that is not."""
    if set(values) != set(POLICY_BOUNDS):
        raise PlanRefused("Give every value of the plan policy.")
    for field, (low, high) in POLICY_BOUNDS.items():
        value = values[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise PlanRefused(f"{POLICY_LABELS[field]}: choose a whole number from {low:,} to {high:,}.")
    return PlanPolicy(**values)


def policy_values(policy: PlanPolicy) -> dict[str, int]:
    return {field: getattr(policy, field) for field in POLICY_BOUNDS}


@dataclass(frozen=True)
class ScheduledPart:
    number: int
    due_on: date
    amount: Money


def add_months(start: date, months: int) -> date:
    """`start` moved by whole months, on the same day of the month, clamped to the month's end."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def due_dates(first: date, count: int, cadence: Cadence | str) -> list[date]:
    cadence = Cadence(cadence)
    if cadence == Cadence.MONTHLY:
        return [add_months(first, n) for n in range(count)]
    step = timedelta(days=7 if cadence == Cadence.WEEKLY else 14)
    return [first + step * n for n in range(count)]


def schedule(total: Money, count: int, cadence: Cadence | str, first: date) -> list[ScheduledPart]:
    """The installments of a plan; PlanRefused when it cannot be split as the rules want."""
    if not MIN_INSTALLMENTS <= count <= MAX_INSTALLMENTS:
        raise PlanRefused(N_("Choose between %(low)s and %(high)s installments."), low=MIN_INSTALLMENTS, high=MAX_INSTALLMENTS)
    if total.minor <= 0:
        raise PlanRefused(N_("Nothing is left to pay on these invoices."))
    minimum = stripe_minimum(total.currency)
    parts = allocate(total, [1] * count)
    if parts[-1] < minimum:
        raise PlanRefused(N_("Each installment must be at least %(amount)s: choose fewer installments."), amount=minimum)
    return [ScheduledPart(n + 1, due_on, amount)
            for n, (due_on, amount) in enumerate(zip(due_dates(first, count, cadence), parts, strict=True))]


def amended_schedule(remaining: Money, after_number: int, count: int, cadence: Cadence | str,
                     first: date) -> list[ScheduledPart]:
    """A new schedule for what remains unpaid of a running plan: split like a new plan
    (`schedule`), numbered after the plan's last installment `after_number`."""
    return [ScheduledPart(after_number + part.number, part.due_on, part.amount)
            for part in schedule(remaining, count, cadence, first)]


def check_first_date(first: date, today: date) -> None:
    if first < today:
        raise PlanRefused(N_("The first installment cannot be in the past."))
    if first > today + timedelta(days=MAX_FIRST_DATE_DAYS):
        raise PlanRefused(N_("The first installment must be within %(limit)s days."), limit=MAX_FIRST_DATE_DAYS)


# Why a plan waits for staff approval: each reason a marked sentence, stored in English (staff
# read it as stored) and read back into its sentence and values for the customer's page
# (`policy_reason_texts`), so both are made from this one table.
OVER_TOTAL = N_("the total is above the plan limit")
OVER_COUNT = N_("more than %(count)s installments")
OVER_LENGTH = N_("longer than %(days)s days")
FIRST_TOO_SMALL = N_("the first installment is below the minimum first payment")
DEFAULTED_RECENTLY = N_("a plan defaulted in the last %(months)s months")
ON_HOLD = N_("the account is on hold")
POLICY_REASONS = (OVER_TOTAL, OVER_COUNT, OVER_LENGTH, FIRST_TOO_SMALL, DEFAULTED_RECENTLY, ON_HOLD)
REASON_SEPARATOR = "; "


def outside_policy(policy: PlanPolicy, parts: list[ScheduledPart], *, defaulted_recently: bool,
                   on_hold: bool) -> list[Text]:
    """Why this plan needs staff approval (empty: it is active at once)."""
    reasons = []
    total = sum(part.amount.minor for part in parts)
    if total > policy.max_total_minor:
        reasons.append(Text(OVER_TOTAL))
    if len(parts) > policy.max_count:
        reasons.append(Text(OVER_COUNT, count=policy.max_count))
    if (parts[-1].due_on - parts[0].due_on).days > policy.max_length_days:
        reasons.append(Text(OVER_LENGTH, days=policy.max_length_days))
    if parts[0].amount.minor < policy.min_first_payment_minor:
        reasons.append(Text(FIRST_TOO_SMALL))
    if defaulted_recently:
        reasons.append(Text(DEFAULTED_RECENTLY, months=policy.default_lookback_months))
    if on_hold:
        reasons.append(Text(ON_HOLD))
    return reasons


def _reason_pattern(template: str) -> re.Pattern:
    parts = re.split(r"%\((\w+)\)s", template)
    return re.compile("".join(re.escape(part) if n % 2 == 0 else f"(?P<{part}>[0-9]+)"
                              for n, part in enumerate(parts)) + r"\Z")


_REASON_PATTERNS = tuple((template, _reason_pattern(template)) for template in POLICY_REASONS)


def policy_reason_texts(stored: str) -> list[str | Text]:
    """The reasons a plan stored (`policy_reasons`, English) as sentences to translate; one
    this table does not know is kept as stored."""
    texts: list[str | Text] = []
    for reason in filter(None, stored.split(REASON_SEPARATOR)):
        for template, pattern in _REASON_PATTERNS:
            if (found := pattern.match(reason)) is not None:
                texts.append(Text(template, **{name: int(value) for name, value in found.groupdict().items()}))
                break
        else:
            texts.append(reason)
    return texts


# What the terms call the saved method autopay charges, in the reader's language.
AUTOPAY_CARD = N_("card %(brand)s ending %(last4)s")
AUTOPAY_BANK_ACCOUNTS = {
    "checking": N_("bank account %(bank)s checking account ending %(last4)s"),
    "savings": N_("bank account %(bank)s savings account ending %(last4)s"),
}
AUTOPAY_OTHER_BANK_ACCOUNT = N_("bank account %(bank)s account ending %(last4)s")
UNNAMED_BANK = N_("Bank")


def autopay_label(method_type: str, brand: str, last4: str, bank_name: str = "", account_type: str = "") -> Text:
    """What the terms call the saved method autopay charges: "card visa ending 4242", or
    "bank account STRIPE TEST BANK checking account ending 6789" (debited under its mandate)."""
    if method_type == "us_bank_account":
        return Text(AUTOPAY_BANK_ACCOUNTS.get(account_type, AUTOPAY_OTHER_BANK_ACCOUNT),
                    bank=bank_name or Text(UNNAMED_BANK), last4=last4)
    return Text(AUTOPAY_CARD, brand=brand, last4=last4)


# The sentences of the terms. The opening names how many installments (`ngettext`: its
# singular and plural forms); each schedule line is an installment's number, date and amount.
INSTALLMENT_LINE = N_("%(number)s. %(day)s: %(amount)s")
AMENDMENT_REPLACES = N_("This schedule replaces the installments not yet paid; installments already paid stay paid.")
CHARGED_TO_SAVED_METHOD = N_("Each installment will be charged on its date to the saved %(method)s, "
                             "without further confirmation.")
PAID_BY_CUSTOMER = N_("Each installment will be paid by us on the portal by its date.")
IF_NOT_PAID = N_("If installments are not paid, the plan ends and the remaining balance is due at once. "
                 "While the plan runs, these invoices are paid through the plan.")


def _terms_day(day: date, language: str) -> str:
    """An installment's date in the terms: ISO in English (as the terms always read), the
    language's own way otherwise ("15 juin 2026", "15.06.2026")."""
    return day.isoformat() if language == DEFAULT_LANGUAGE else format_day(day, language)


def _schedule_lines(parts: list[ScheduledPart], language: str) -> list[str]:
    return ["  " + Text(INSTALLMENT_LINE, number=part.number, day=_terms_day(part.due_on, language),
                        amount=part.amount).render(language) for part in parts]


def _closing_lines(autopay_card: Text | str | None, language: str) -> list[str]:
    if autopay_card:
        method = autopay_card.render(language) if isinstance(autopay_card, Text) else autopay_card
        charged = Text(CHARGED_TO_SAVED_METHOD, method=method.strip()).render(language)
    else:
        charged = Text(PAID_BY_CUSTOMER).render(language)
    return [charged, Text(IF_NOT_PAID).render(language)]


def terms_text(supplier_name: str, customer_name: str, parts: list[ScheduledPart], invoice_numbers: list[str],
               autopay_card: Text | str | None, language: str | None = DEFAULT_LANGUAGE) -> str:
    """The exact words the customer agrees to, in the customer's language, kept with the
    agreement."""
    language = language_or_default(language)
    opening = translations(language).ngettext(
        "%(customer)s agrees to pay %(supplier)s the invoices %(invoices)s in %(count)s installment:",
        "%(customer)s agrees to pay %(supplier)s the invoices %(invoices)s in %(count)s installments:",
        len(parts))
    lines = [
        opening % {"customer": customer_name, "supplier": supplier_name, "invoices": ", ".join(invoice_numbers),
                   "count": len(parts)},
        *_schedule_lines(parts, language),
        *_closing_lines(autopay_card, language),
    ]
    return "\n".join(lines)


def amendment_terms_text(supplier_name: str, customer_name: str, parts: list[ScheduledPart],
                         invoice_numbers: list[str], autopay_card: Text | str | None,
                         language: str | None = DEFAULT_LANGUAGE) -> str:
    """The exact words of a new schedule for what remains unpaid of a running plan, in the
    customer's language."""
    language = language_or_default(language)
    remaining = Money(sum(part.amount.minor for part in parts), parts[0].amount.currency)
    opening = translations(language).ngettext(
        "%(customer)s agrees with %(supplier)s to a new schedule for the installment plan of the invoices "
        "%(invoices)s: what remains unpaid, %(remaining)s, is paid in %(count)s installment:",
        "%(customer)s agrees with %(supplier)s to a new schedule for the installment plan of the invoices "
        "%(invoices)s: what remains unpaid, %(remaining)s, is paid in %(count)s installments:",
        len(parts))
    lines = [
        opening % {"customer": customer_name, "supplier": supplier_name, "invoices": ", ".join(invoice_numbers),
                   "remaining": format_money(remaining, language), "count": len(parts)},
        *_schedule_lines(parts, language),
        Text(AMENDMENT_REPLACES).render(language),
        *_closing_lines(autopay_card, language),
    ]
    return "\n".join(lines)


def terms_digest(terms: str) -> str:
    """What the page carries for the terms it showed: accepting checks the terms now have it."""
    return hashlib.sha256(terms.encode()).hexdigest()


# --- collecting -------------------------------------------------------------------------------

RETRY = "retry"  # a soft decline: charge again after policy.retry_after_days
STOP = "stop"  # a hard decline: never charged again off-session; the customer must act
AUTHENTICATE = "authenticate"  # the bank wants the customer: pay on-session (P8)

# Stripe's decline codes (https://docs.stripe.com/declines/codes) and what the collector does.
DECLINE_POLICY: dict[str, str] = {
    "authentication_required": AUTHENTICATE,
    # Soft: the same card may well work in a few days.
    "insufficient_funds": RETRY,
    "generic_decline": RETRY,
    "card_declined": RETRY,
    "try_again_later": RETRY,
    "processing_error": RETRY,
    "issuer_not_available": RETRY,
    "approve_with_id": RETRY,
    "reenter_transaction": RETRY,
    "card_velocity_exceeded": RETRY,
    "withdrawal_count_limit_exceeded": RETRY,
    "do_not_honor": RETRY,
    # Hard: retrying cannot succeed, and card networks penalize those who retry.
    "lost_card": STOP,
    "stolen_card": STOP,
    "pickup_card": STOP,
    "expired_card": STOP,
    "incorrect_number": STOP,
    "invalid_account": STOP,
    "card_not_supported": STOP,
    "currency_not_supported": STOP,
    "fraudulent": STOP,
    "merchant_blacklist": STOP,
    "restricted_card": STOP,
    "security_violation": STOP,
    "revocation_of_all_authorizations": STOP,
    "revocation_of_authorization": STOP,
    "stop_payment_order": STOP,
    "transaction_not_allowed": STOP,
    "do_not_try_again": STOP,
    "no_action_taken": STOP,
}


def after_decline(code: str) -> str:
    """What the collector does after a decline with this code. Unknown codes are not retried:
    a blind retry is the failure P9 names, and a person can always pay on-session."""
    return DECLINE_POLICY.get(code, STOP)


def next_retry(policy: PlanPolicy, code: str, failures: int, today: date) -> date | None:
    """The date the installment is charged again, or None (not retried off-session)."""
    if after_decline(code) != RETRY or failures >= policy.max_failures:
        return None
    return today + timedelta(days=policy.retry_after_days)


def defaults_after(policy: PlanPolicy, failures: int) -> bool:
    """True once the plan's failed collections reach the policy's limit."""
    return failures >= policy.max_failures
