"""Pure refund decisions: what may be refunded, and how a refund (or a chargeback) is split over
the invoices a payment settled.

The split rule: money given back on a payment reopens its invoices in the order the payment
allocated them (its allocation order: the order the clerk's form listed them), each up to what
this payment still pays on it (its allocation less what earlier refunds already gave back
there). A full refund therefore reopens every invoice by exactly what the payment paid on it.
A chargeback's amount is split the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from portal.domain.core.errors import DomainError
from portal.domain.refunds.models import MAX_REASON_LENGTH

# The refund form's token (`service.new_refund_token`): URL-safe base64, as made.
FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RefundRefused(DomainError):
    """The refund cannot be given as asked; nothing changed."""


@dataclass(frozen=True)
class RefundForm:
    """What the staff refund form posts, still as text."""

    form_token: str
    amount_text: str
    reason: str


def check_refund_form(form: RefundForm) -> str:
    """Refuse a malformed form before anything is read; returns the reason, stripped."""
    if not FORM_TOKEN.fullmatch(form.form_token or ""):
        raise RefundRefused("This form has expired: open the payment again and refund from there.")
    reason = (form.reason or "").strip()
    if not reason:
        raise RefundRefused("Give the reason for the refund.")
    if len(reason) > MAX_REASON_LENGTH:
        raise RefundRefused(f"The reason has at most {MAX_REASON_LENGTH} characters.")
    if _CONTROL.search(reason) or _CONTROL.search(form.amount_text or ""):
        raise RefundRefused("The reason and the amount must be plain text on one line.")
    return reason


def split_in_allocation_order(amount: int, still_paid: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """(invoice id, minor) parts of `amount` over `still_paid` ((invoice id, minor) in allocation
    order): each invoice takes up to what is still paid on it, first ones first. Raises
    ValueError when the amount is more than everything still paid."""
    if amount <= 0:
        raise ValueError("split a positive amount")
    parts: list[tuple[int, int]] = []
    left = amount
    for invoice_id, paid in still_paid:
        if left == 0:
            break
        take = min(left, paid)
        if take > 0:
            parts.append((invoice_id, take))
            left -= take
    if left:
        raise ValueError(f"{left} more than what is still paid")
    return parts
