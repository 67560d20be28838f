"""The pay form (`POST /pay`), parsed before any lock, query or arithmetic (SECURITY.md P4, P16).

Only the fields named here are read: whatever else the browser sends (status, company, total,
currency) is ignored by construction. Amounts are checked as bounded text here, with at most
the largest number of decimals any currency has; `Money.parse` applies the invoice's own
currency under the lock, and is itself safe for any text. The form's refusals are in the
customer's language; the example amount is written the way the field reads it ("1,234.50")
whatever the language, as the amount fields are (README, "Languages").
"""

from __future__ import annotations

import dataclasses
import re

from flask_babel import gettext, lazy_gettext as _, ngettext
from werkzeug.datastructures import MultiDict
from wtforms import StringField
from wtforms.validators import ValidationError

from portal.domain.core.money import (
    _AMOUNT_TEXT, CURRENCY_EXPONENTS, MAX_AMOUNT_TEXT, MAX_WHOLE_DIGITS, Money, MoneyError,
)
from portal.domain.payments.queries import PaySelection
from portal.domain.payments.policy import (
    MAX_INVOICES_PER_PAYMENT, MAX_MEMO_LENGTH, MAX_PO_LENGTH, MAX_REASON_LENGTH, AllocationRequest,
    CardPaymentForm,
)
from portal.forms import InvalidInput
from portal.forms.fields import PortalForm, first_value, line_field

PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,22}", re.ASCII)
MAX_TOKEN_LENGTH = 255
# The currency with the most decimals decides what the form lets through to the domain.
_WIDEST = max(CURRENCY_EXPONENTS, key=CURRENCY_EXPONENTS.__getitem__)


AMOUNT_EXAMPLE = "1,234.50"


def amount_refusal(text: str, decimals: int) -> str:
    """What is wrong with an amount `Money.parse` refused, in the request's language: the same
    rules in the same order (`_AMOUNT_TEXT` is the pattern it reads), said for the customer."""
    text = text.strip()
    if not text:
        return gettext("Enter an amount.")
    if len(text) > MAX_AMOUNT_TEXT:
        return gettext("That amount is too long: at most %(count)s characters.", count=MAX_AMOUNT_TEXT)
    match = _AMOUNT_TEXT.fullmatch(text)
    if match is None:
        return gettext("Enter the amount as digits, for example %(example)s.", example=AMOUNT_EXAMPLE)
    if len(match.group("decimals") or "") > decimals:
        return ngettext("An amount has at most %(num)s decimal place.",
                        "An amount has at most %(num)s decimal places.", decimals)
    return gettext("That amount is too large: at most %(count)s digits before the decimal point.",
                   count=MAX_WHOLE_DIGITS)


class AmountText:
    """Validator: the amount as bounded text (digits, thousands separators, one decimal point,
    no sign or exponent), checked without building any number from it."""

    def __call__(self, form, field) -> None:
        try:
            Money.parse(field.data or "", _WIDEST)
        except MoneyError:
            raise ValidationError(amount_refusal(field.data or "", CURRENCY_EXPONENTS[_WIDEST])) from None


class AllocationForm(PortalForm):
    """One invoice's part of the payment: `amount-<id>` and `reason-<id>` of the pay form."""

    amount = StringField(_("The amount"), validators=[AmountText()])  # text: never a number here
    reason = line_field(_("A reason"), MAX_REASON_LENGTH)


class PayForm(PortalForm):
    nonce = line_field(_("The form's token"), 64)
    card_token = line_field(_("The card token"), MAX_TOKEN_LENGTH)
    confirmation_token = line_field(_("The card token"), MAX_TOKEN_LENGTH)
    po_number = line_field(_("The payment reference"), MAX_PO_LENGTH)
    memo = line_field(_("The memo"), MAX_MEMO_LENGTH)
    method = line_field(_("The payment method"), 20)
    mandate_accepted = line_field(_("The debit authorization"), 8)


def invoice_ids(values: list[str], limit: int) -> list[str]:
    """The invoice ids the form names: each one a public id, at most `limit` of them."""
    ids = [value.strip() for value in values if isinstance(value, str) and value.strip()]
    if len(ids) > limit:
        raise InvalidInput(ngettext("Choose at most %(num)s invoice at once.", "Choose at most %(num)s invoices at once.",
                                    limit))
    for public_id in ids:
        if not PUBLIC_ID.fullmatch(public_id):
            raise InvalidInput(gettext("One of these invoices is not part of your account."))
    return ids


def _bounded(data: MultiDict, names: dict[str, int]) -> MultiDict:
    return MultiDict({name: first_value(data, name, limit) for name, limit in names.items()})


def card_payment_form(data: MultiDict) -> CardPaymentForm:
    """The domain's `CardPaymentForm` from the posted form, or `InvalidInput` (400)."""
    limits = {"nonce": 64, "card_token": MAX_TOKEN_LENGTH, "confirmation_token": MAX_TOKEN_LENGTH,
              "po_number": MAX_PO_LENGTH, "memo": MAX_MEMO_LENGTH, "method": 20, "mandate_accepted": 8}
    form = PayForm(_bounded(data, limits)).checked()
    allocations = []
    for public_id in invoice_ids(data.getlist("invoice"), MAX_INVOICES_PER_PAYMENT):
        part = AllocationForm(MultiDict({
            "amount": first_value(data, f"amount-{public_id}", MAX_AMOUNT_TEXT),
            "reason": first_value(data, f"reason-{public_id}", MAX_REASON_LENGTH),
        })).checked()
        allocations.append(AllocationRequest(
            invoice_public_id=public_id, amount_text=(part.amount.data or "").strip(), reason=part.reason.data,
        ))
    values = {"nonce": form.nonce.data, "allocations": tuple(allocations), "card_token": form.card_token.data,
              "po_number": form.po_number.data, "memo": form.memo.data,
              "method": (form.method.data or "card").strip() or "card",
              "mandate_accepted": (form.mandate_accepted.data or "").strip() in ("1", "yes", "on", "true")}
    # The domain's dataclass decides which token fields exist (card token, confirmation token).
    accepted = {field.name for field in dataclasses.fields(CardPaymentForm)}
    if "confirmation_token" in accepted:
        values["confirmation_token"] = form.confirmation_token.data
    return CardPaymentForm(**values)



def pay_selection(args: MultiDict) -> PaySelection | None:
    """`GET /pay?select=overdue|due&currency=USD` (the overview's "Pay all overdue" and "Pay all
    due"), or None when the pay page is asked for named invoices (`invoice=...`) instead. An
    unknown `select` or a currency that is not three letters is a 400."""
    choice = first_value(args, "select", 16).strip()
    if not choice:
        return None
    currency = first_value(args, "currency", 8).strip().upper()
    if choice not in ("overdue", "due") or not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise InvalidInput(gettext("Choose the invoices to pay from the list."))
    return PaySelection(currency=currency, overdue_only=choice == "overdue")
