"""Admin-side forms: staff sign-in, second factor, staff accounts, teams and routing rules.

Like the customer forms, each bounds every field and refuses control characters in single-line
ones; CSRF is Flask-WTF's app-wide `CSRFProtect`. `checked()` raises `InvalidInput` with the
first problem; views that redisplay a form read `first_error` instead.
"""

from __future__ import annotations

import re

from wtforms import BooleanField, IntegerField, PasswordField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from portal.domain.followups.states import QUEUE_LABELS
from portal.domain.routing.policy import DEFAULT_DISPUTE_REASONS
from portal.domain.routing.states import STRATEGY_LABELS, Priority
from portal.domain.staff.policy import MAX_PASSWORD_LENGTH
from portal.domain.staff.states import ROLE_LABELS, StaffStatus
from portal.forms.fields import PortalForm, SingleLine, line_field

MAX_EMAIL_LENGTH = 254
MAX_NEXT_LENGTH = 2000


def _password(label: str) -> PasswordField:
    return PasswordField(label, validators=[
        InputRequired(f"Enter {label.lower()}."),
        Length(max=MAX_PASSWORD_LENGTH, message=f"{label} can be at most {MAX_PASSWORD_LENGTH} characters."),
        SingleLine(label),
    ])


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms' choice objects."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def _code() -> StringField:
    return line_field("The code", 12)


class AdminForm(PortalForm):
    @property
    def first_error(self) -> str:
        for errors in self.errors.values():
            for error in errors:
                return error if isinstance(error, str) else str(error)
        return "Check the form and try again."


class StaffSignInForm(AdminForm):
    email = line_field("The email address", MAX_EMAIL_LENGTH)
    password = _password("The password")
    code = _code()
    next = line_field("next", MAX_NEXT_LENGTH)


class ConfirmIdentityForm(AdminForm):
    password = _password("Your password")
    code = _code()
    next = line_field("next", MAX_NEXT_LENGTH)


class TotpEnrolmentForm(AdminForm):
    secret = line_field("The secret", 64)
    code = line_field("The code", 12)


class PasswordChangeForm(AdminForm):
    current = _password("Your current password")
    new = _password("The new password")


class AwayForm(AdminForm):
    away = BooleanField()


TIMEZONE_FIELD_LENGTH = 64


class StaffForm(AdminForm):
    email = line_field("The email address", MAX_EMAIL_LENGTH)
    name = line_field("The name", 200)
    role = SelectField("Role", choices=choices(ROLE_LABELS.items()))
    timezone = line_field("The time zone", TIMEZONE_FIELD_LENGTH)
    away = BooleanField("Away")
    status = SelectField("Status", choices=choices((status, status.capitalize()) for status in StaffStatus))
    password = PasswordField("Password", validators=[Optional(), Length(max=MAX_PASSWORD_LENGTH), SingleLine("Password")])


FOLLOWUP_QUEUE_CHOICES = [(queue.value, label) for queue, label in QUEUE_LABELS.items()]
WEEKDAY_CHOICES = [("1", "Mon"), ("2", "Tue"), ("3", "Wed"), ("4", "Thu"), ("5", "Fri"), ("6", "Sat"), ("7", "Sun")]
_CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00", re.ASCII)


def minutes_of(text: str) -> int | None:
    """"09:30" → 570; "24:00" → 1440; anything else None."""
    text = (text or "").strip()
    if not _CLOCK_TIME.fullmatch(text):
        return None
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def clock_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class TeamForm(AdminForm):
    name = line_field("The team name", 100)
    timezone = line_field("The time zone", TIMEZONE_FIELD_LENGTH)
    business_days = SelectMultipleField("Business days", choices=choices(WEEKDAY_CHOICES))
    opens = line_field("Opening time", 5)
    closes = line_field("Closing time", 5)
    is_fallback = BooleanField("Fallback team")
    followup_queues = SelectMultipleField("Follow-up queues", choices=choices(FOLLOWUP_QUEUE_CHOICES))
    members = SelectMultipleField("Members", choices=[])  # choices set by the view


REASON_LABELS = {"po_missing": "PO missing or wrong", "not_received": "Not received", "quantity_short": "Quantity short",
                 "duplicate_billing": "Duplicate billing", "service_quality": "Service quality"}


class RuleForm(AdminForm):
    name = line_field("The rule name", 100)
    active = BooleanField("Active")
    team = SelectField("Team", choices=[])  # choices set by the view
    strategy = SelectField("Assignment", choices=choices(STRATEGY_LABELS.items()))
    priority = SelectField("Priority", choices=choices((p, p.capitalize()) for p in Priority))
    first_response_hours = IntegerField("Hours to first response", validators=[
        InputRequired("Enter the hours to first response."), NumberRange(1, 24 * 30)])
    resolution_days = IntegerField("Business days to resolution", validators=[
        InputRequired("Enter the business days to resolution."), NumberRange(1, 120)])
    reasons = SelectMultipleField("Reasons", choices=choices(
        (reason, REASON_LABELS.get(reason, reason.replace("_", " ").capitalize())) for reason in DEFAULT_DISPUTE_REASONS))
    currency = line_field("Currency", 3)
    min_amount = line_field("Smallest amount", 32)
    max_amount = line_field("Largest amount", 32)
    customer = line_field("Customer account number", 40)
    tags = line_field("Customer tags", 450)
