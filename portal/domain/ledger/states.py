"""The kinds of ledger entry and the sign each amount must have.

`issued` opens an invoice, a settled `payment` and a `credit_note` reduce what is owed, and
reversals, refunds and chargebacks reopen it. The database CHECK on `invoice_entries` and the
labels people read are both derived from this one table.
"""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.locales import N_


class EntryKind(StrEnum):
    ISSUED = "issued"
    PAYMENT = "payment"
    PAYMENT_REVERSAL = "payment_reversal"
    CREDIT_NOTE = "credit_note"
    REFUND = "refund"
    CHARGEBACK = "chargeback"
    CHARGEBACK_REVERSAL = "chargeback_reversal"
    # A refund Stripe reported failed or canceled after it was posted: the money stayed with
    # the supplier, so the refund's entry is undone (the invoice's balance falls back).
    REFUND_REVERSAL = "refund_reversal"

    @property
    def sign(self) -> int:
        """+1: the amount adds to the open balance; -1: it reduces it."""
        return ENTRY_SIGNS[self]

    @property
    def label(self) -> str:
        return ENTRY_LABELS[self]

    def accepts(self, amount_minor: int) -> bool:
        """Whether `amount_minor` has this kind's sign (zero never does)."""
        return amount_minor * self.sign > 0


# The kinds that move money on an invoice once it exists: every kind but `issued`. Each is a row
# of the cash export, an ERP event type and a kind the API's cash rows may have.
CASH_KINDS: tuple[EntryKind, ...] = tuple(kind for kind in EntryKind if kind is not EntryKind.ISSUED)

ENTRY_SIGNS: dict[EntryKind, int] = {
    EntryKind.ISSUED: +1,
    EntryKind.PAYMENT: -1,
    EntryKind.PAYMENT_REVERSAL: +1,
    EntryKind.CREDIT_NOTE: -1,
    EntryKind.REFUND: +1,
    EntryKind.CHARGEBACK: +1,
    EntryKind.CHARGEBACK_REVERSAL: -1,
    EntryKind.REFUND_REVERSAL: -1,
}

ENTRY_LABELS: dict[EntryKind, str] = {
    EntryKind.ISSUED: N_("Invoice issued"),
    EntryKind.PAYMENT: N_("Payment received"),
    EntryKind.PAYMENT_REVERSAL: N_("Payment reversed"),
    EntryKind.CREDIT_NOTE: N_("Credit note"),
    EntryKind.REFUND: N_("Refund"),
    EntryKind.CHARGEBACK: N_("Chargeback"),
    EntryKind.CHARGEBACK_REVERSAL: N_("Chargeback reversed"),
    EntryKind.REFUND_REVERSAL: N_("Refund reversed"),
}


def _quoted(kinds: list[EntryKind]) -> str:
    return ",".join(f"'{kind.value}'" for kind in kinds)


def kind_sign_check_sql() -> str:
    """The CHECK on `invoice_entries`: each kind with its sign, in declaration order.

    The text is the one the newest migration that sets it wrote (0029, after 0001), so the
    models and the schema stay equal: a new kind needs a migration that writes the new text.
    """
    positive = [kind for kind in EntryKind if kind.sign > 0]
    negative = [kind for kind in EntryKind if kind.sign < 0]
    return (f"(kind IN ({_quoted(positive)}) AND amount_minor > 0)"
            f" OR (kind IN ({_quoted(negative)}) AND amount_minor < 0)")
