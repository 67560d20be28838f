"""What a link and a signed-in customer may do: purposes and lifetimes of links, the scope of
a session (the whole account, or only the invoices a link named), and safe landing paths.

Every customer-side query goes through `invoice_scope` so another company's invoice, or an
invoice outside a forwarded link's scope, is simply not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from sqlalchemy import ColumnElement, and_, bindparam, true

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


def invoice_scope(access: Access) -> ColumnElement[bool]:
    """A WHERE clause limiting invoices to what this access may see."""
    same_company = Invoice.customer_id == access.customer_id
    if access.whole_account:
        return and_(same_company, true())
    return and_(same_company, Invoice.id.in_(sorted(access.invoice_ids)))


def named_invoices(access: Access, public_ids: list[str]) -> ColumnElement[bool]:
    """A WHERE clause for looking invoices up by public id within what this access may see.

    The public-id index must lead: the company check is written as an expression that no index
    serves (`customer_id + 0`), because a planner without statistics (SQLite's, unless someone
    runs ANALYZE) otherwise picks the company's index and reads every invoice of the account.
    """
    same_company = (Invoice.customer_id + 0) == access.customer_id
    clauses = [Invoice.public_id.in_(public_ids), same_company]
    if not access.whole_account:
        clauses.append(Invoice.id.in_(sorted(access.invoice_ids)))
    return and_(*clauses)


# The same two clauses with bind parameters in place of the access's values, for statements a
# read model builds once per shape (`core.database.read`); `scope_params` gives the values.
def bound_invoice_scope(whole_account: bool) -> ColumnElement[bool]:
    """`invoice_scope` for an access of this kind, its values left to `scope_params`."""
    same_company = Invoice.customer_id == bindparam("scope_customer_id")
    if whole_account:
        return and_(same_company, true())
    return and_(same_company, Invoice.id.in_(bindparam("scope_invoice_ids", expanding=True)))


def bound_named_invoices(whole_account: bool) -> ColumnElement[bool]:
    """`named_invoices` for an access of this kind; the public ids go in `named_public_ids`."""
    clauses = [Invoice.public_id.in_(bindparam("named_public_ids", expanding=True)),
               (Invoice.customer_id + 0) == bindparam("scope_customer_id")]
    if not whole_account:
        clauses.append(Invoice.id.in_(bindparam("scope_invoice_ids", expanding=True)))
    return and_(*clauses)


def scope_params(access: Access) -> dict[str, object]:
    """The values of `bound_invoice_scope` / `bound_named_invoices` for this access."""
    if access.whole_account:
        return {"scope_customer_id": access.customer_id}
    return {"scope_customer_id": access.customer_id, "scope_invoice_ids": sorted(access.invoice_ids)}


class LinkPurpose(StrEnum):
    INVOICE = "invoice"  # what reminders carry: view and pay the invoices named, reusable
    SIGN_IN = "sign_in"  # the whole account: single use, short-lived, sent to the contact only


INVOICE = LinkPurpose.INVOICE
SIGN_IN = LinkPurpose.SIGN_IN

# The path segment each purpose uses in its URL (`/link/<segment>/<token>`). The route and the
# link builder both read this table, so the two can never disagree.
URL_SEGMENTS = {INVOICE: "invoices", SIGN_IN: "sign-in"}
PURPOSE_BY_SEGMENT = {segment: purpose for purpose, segment in URL_SEGMENTS.items()}

SIGN_IN_LINK_LIFETIME = timedelta(minutes=15)
INVOICE_LINK_GRACE = timedelta(days=30)
INVOICE_LINK_MAX_LIFETIME = timedelta(days=120)



_UNSAFE_RAW = re.compile(r"[\x00-\x20\x7f\\]")
_UNSAFE_DECODED = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next_path(value: str | None) -> str | None:
    """`value` when it is a path on this site (`/invoices/abc?page=2`), else None (A6).

    Browsers forgive a lot: they treat `\\` as `/`, drop tabs and newlines, and follow
    `//host` to another site. So the path must start with exactly one `/` (also once
    percent-decoded), contain no backslash or control character (raw or percent-encoded) nor a
    raw space, and parse with neither a scheme nor a host.
    """
    if not value or not isinstance(value, str) or len(value) > 2000:
        return None
    decoded = unquote(value)
    if _UNSAFE_RAW.search(value) or _UNSAFE_DECODED.search(decoded):
        return None
    if not value.startswith("/") or value.startswith("//") or decoded.startswith("//"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value
