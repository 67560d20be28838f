"""What a signed-in customer may see: the whole account, or only the invoices a link named.

Every customer-side query goes through `invoice_scope` so another company's invoice, or an
invoice outside a forwarded link's scope, is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, true

from portal.domain.invoicing.models import Invoice

ACCOUNT = "account"
INVOICES = "invoices"


@dataclass(frozen=True)
class Access:
    customer_id: int
    contact_id: int
    scope: str
    invoice_ids: frozenset[int] = field(default_factory=frozenset)
    link_id: int | None = None

    def __post_init__(self) -> None:
        if self.scope not in (ACCOUNT, INVOICES):
            raise ValueError(f"unknown access scope {self.scope!r}")

    @property
    def whole_account(self) -> bool:
        return self.scope == ACCOUNT

    def allows_invoice(self, invoice: Invoice) -> bool:
        if invoice.customer_id != self.customer_id:
            return False
        return self.whole_account or invoice.id in self.invoice_ids


def invoice_scope(access: Access) -> ColumnElement[bool]:
    """A WHERE clause limiting invoices to what this access may see."""
    same_company = Invoice.customer_id == access.customer_id
    if access.whole_account:
        return and_(same_company, true())
    return and_(same_company, Invoice.id.in_(sorted(access.invoice_ids)))
