"""API keys and requests for the ERP API's tests."""

from __future__ import annotations

from portal.domain.apikeys.policy import SCOPES
from portal.domain.apikeys.service import create_api_key
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.staff.states import StaffRole
from tests.support.factories import make_staff

ALL_SCOPES = tuple(SCOPES)


def make_api_key(db, clock, *, scopes=ALL_SCOPES, name="ERP") -> str:
    """A key (flushed) made by an admin; returns its plaintext, as the admin page shows it once."""
    staff = make_staff(db, clock, role=StaffRole.ADMIN)
    created = create_api_key(Context(db, clock, Actor("staff", staff.public_id)), staff_id=staff.id, name=name,
                             scopes=list(scopes))
    return created.plaintext


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def customer_body(account="ACC-1", name="Acme Ltd", timezone="Europe/London") -> dict:
    return {"account_number": account, "name": name, "timezone": timezone}


def invoice_body(customer="C-1", number="SI-1", currency="USD", total="150.00", issue="2026-11-01",
                 due="2026-12-01", lines=None, **extra) -> dict:
    lines = lines if lines is not None else [{"description": "Widgets", "quantity": "1", "unit_price": "150.00"}]
    return {"customer_erp_id": customer, "number": number, "currency": currency, "issue_date": issue,
            "due_date": due, "total": total, "lines": lines, **extra}
