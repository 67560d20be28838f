"""The staff's reminder forms, read as bounded text before anything else: the policy (steps and
holidays) and one customer's overrides. `reminders.policy` checks the values themselves."""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from portal.domain.core.money import Money, MoneyError, normalize_currency
from portal.domain.reminders.models import MAX_BODY_LENGTH, MAX_SUBJECT_LENGTH
from portal.domain.reminders.policy import MAX_STEPS
from portal.forms import InvalidInput
from portal.forms.fields import first_value, has_control_characters

MAX_HOLIDAYS_TEXT = 2000
MAX_ACCOUNT_NUMBER = 40


@dataclass(frozen=True)
class PolicyInput:
    steps: list[tuple[str, str, str, str]]  # offset, tone, subject, body as typed
    holidays: str


def policy_form(data: MultiDict) -> PolicyInput:
    """The policy form's step rows (`offset-N`, `tone-N`, `subject-N`, `body-N`; a row left
    empty is dropped) and the holidays."""
    steps = []
    for n in range(MAX_STEPS + 1):
        row = (first_value(data, f"offset-{n}", 8), first_value(data, f"tone-{n}", 20),
               first_value(data, f"subject-{n}", MAX_SUBJECT_LENGTH), first_value(data, f"body-{n}", MAX_BODY_LENGTH))
        if any(row[i].strip() for i in (0, 2, 3)):
            steps.append(row)
    holidays = first_value(data, "holidays", MAX_HOLIDAYS_TEXT)
    if len(holidays) > MAX_HOLIDAYS_TEXT:
        raise InvalidInput("The holidays list is too long.")
    return PolicyInput(steps, holidays)


@dataclass(frozen=True)
class CustomerRemindersInput:
    account_number: str
    paused: bool
    minimum: Money | None


def customer_reminders_form(data: MultiDict) -> CustomerRemindersInput:
    """Account number, "paused" and a minimum amount with its currency (empty: any amount)."""
    account = first_value(data, "account", MAX_ACCOUNT_NUMBER).strip()
    amount = first_value(data, "minimum", 24).strip()
    currency = first_value(data, "currency", 8).strip()
    for value in (account, amount, currency):
        if has_control_characters(value):
            raise InvalidInput("Fields must be one line of plain text.")
    if not account or len(account) > MAX_ACCOUNT_NUMBER:
        raise InvalidInput("Enter the customer's account number.")
    minimum = None
    if amount:
        try:
            minimum = Money.parse(amount, normalize_currency(currency))
        except MoneyError:
            raise InvalidInput("Enter the minimum as an amount and its currency, such as 50.00 and USD.") from None
        if minimum.minor < 0:
            raise InvalidInput("The minimum cannot be negative.")
    return CustomerRemindersInput(account, first_value(data, "paused", 4) == "1", minimum)
