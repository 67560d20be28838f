"""The installment plan forms: previewing a proposal (`POST /plans/preview`) and accepting it
(`POST /plans`), the staff decisions (and a new schedule for a running plan, the counter
form's fields), the plan policy admins edit and a customer's hold.

Only the fields named here are read, each bounded before anything else happens: the invoices'
public ids, the number of installments (2-12), the cadence and how they pay (listed codes), the
first date (`YYYY-MM-DD`), the saved card's public id, the form's token and the digest of the
terms shown. The domain checks everything against the account and the policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _
from werkzeug.datastructures import MultiDict

from portal.domain.customers.service import MAX_HOLD_REASON
from portal.domain.plans.policy import MAX_INSTALLMENTS, MAX_REASON_LENGTH, MIN_INSTALLMENTS, POLICY_BOUNDS, POLICY_LABELS
from portal.domain.plans.service import MAX_INVOICES_PER_PLAN, PlanRequest
from portal.domain.plans.states import Cadence, PayBy
from portal.forms import InvalidInput
from portal.forms.fields import PortalForm, first_value, has_control_characters, line_field
from portal.forms.payments import PUBLIC_ID, invoice_ids
from portal.forms.promises import promised_date
from portal.forms.reminders import MAX_ACCOUNT_NUMBER

_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}", re.ASCII)
FORM_EXPIRED = _("This form has expired. Reload the page and try again.")


@dataclass(frozen=True)
class PlanInput:
    request: PlanRequest
    request_key: str
    terms_digest: str


def plan_request_form(data: MultiDict) -> PlanRequest:
    ids = invoice_ids(data.getlist("invoice"), MAX_INVOICES_PER_PLAN)
    if not ids:
        raise InvalidInput(_("Choose at least one invoice for the plan."))
    count_text = first_value(data, "count", 3).strip()
    if not count_text.isdigit() or not MIN_INSTALLMENTS <= int(count_text) <= MAX_INSTALLMENTS:
        raise InvalidInput(_("Choose between %(low)s and %(high)s installments.", low=MIN_INSTALLMENTS,
                              high=MAX_INSTALLMENTS))
    cadence = first_value(data, "cadence", 10).strip()
    pay_by = first_value(data, "pay_by", 10).strip()
    if cadence not in set(Cadence) or pay_by not in set(PayBy):
        raise InvalidInput(_("Choose how often and how you will pay."))
    card = first_value(data, "card", 30).strip() if pay_by == PayBy.AUTOPAY else ""
    if card and not PUBLIC_ID.fullmatch(card):
        raise InvalidInput(_("Choose one of your saved cards."))
    return PlanRequest(tuple(ids), int(count_text), cadence, promised_date(first_value(data, "first", 10)), pay_by,
                       card)


def accept_plan_form(data: MultiDict) -> PlanInput:
    request = plan_request_form(data)
    key = first_value(data, "request_key", 64).strip()
    digest = first_value(data, "terms_digest", 64).strip()
    if not _TOKEN.fullmatch(key) or not _DIGEST.fullmatch(digest):
        raise InvalidInput(FORM_EXPIRED)
    return PlanInput(request, key, digest)


class PlanReasonForm(PortalForm):
    reason = line_field("The reason", MAX_REASON_LENGTH)


def plan_reason_form(data: MultiDict) -> str:
    form = PlanReasonForm(MultiDict({"reason": first_value(data, "reason", MAX_REASON_LENGTH)})).checked()
    return form.reason.data or ""


@dataclass(frozen=True)
class CounterInput:
    count: int
    cadence: str
    first_due_on: object  # date
    reason: str


def counter_plan_form(data: MultiDict) -> CounterInput:
    count_text = first_value(data, "count", 3).strip()
    if not count_text.isdigit() or not MIN_INSTALLMENTS <= int(count_text) <= MAX_INSTALLMENTS:
        raise InvalidInput(f"Choose between {MIN_INSTALLMENTS} and {MAX_INSTALLMENTS} installments.")
    cadence = first_value(data, "cadence", 10).strip()
    if cadence not in set(Cadence):
        raise InvalidInput("Choose how often.")
    return CounterInput(int(count_text), cadence, promised_date(first_value(data, "first", 10)),
                        plan_reason_form(data))


def answer_plan_form(data: MultiDict) -> tuple[bool, str]:
    """(accept?, digest of the terms shown) from the customer's answer to a counter-proposal."""
    answer = first_value(data, "answer", 10).strip()
    digest = first_value(data, "terms_digest", 64).strip()
    if answer not in ("accept", "decline") or (answer == "accept" and not _DIGEST.fullmatch(digest)):
        raise InvalidInput(FORM_EXPIRED)
    return answer == "accept", digest


def plan_policy_form(data: MultiDict) -> dict[str, int]:
    """Every field of the plan policy as a whole number (digits only, at most 13 of them, so
    nothing huge is ever parsed); the domain checks each against its range."""
    values = {}
    for field, label in POLICY_LABELS.items():
        text = first_value(data, field, 13).strip().replace(",", "").replace("_", "")
        if not (text.isascii() and text.isdigit() and len(text) <= 13):
            raise InvalidInput(f"{label}: enter a whole number, such as {POLICY_BOUNDS[field][0]}.")
        values[field] = int(text)
    return values


@dataclass(frozen=True)
class HoldInput:
    account_number: str
    on_hold: bool
    reason: str


def hold_form(data: MultiDict) -> HoldInput:
    """The customer's account number, hold or clear, and the reason (one line)."""
    account = first_value(data, "account", MAX_ACCOUNT_NUMBER).strip()
    action = first_value(data, "hold", 5).strip()
    reason = first_value(data, "reason", MAX_HOLD_REASON)
    if has_control_characters(account) or has_control_characters(reason):
        raise InvalidInput("Fields must be one line of plain text.")
    if not account or len(account) > MAX_ACCOUNT_NUMBER:
        raise InvalidInput("Enter the customer's account number.")
    if action not in ("on", "off"):
        raise InvalidInput("Choose to put the customer on hold or to clear the hold.")
    if len(reason.strip()) > MAX_HOLD_REASON:
        raise InvalidInput(f"Keep the reason under {MAX_HOLD_REASON} characters.")
    return HoldInput(account, action == "on", reason.strip())
