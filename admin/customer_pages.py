"""Customers as staff see them (VIEW_DISPUTES: every role): a bounded search by name or account
number, and one customer's whole history on one read-only timeline."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, redirect, render_template, request, url_for

from portal.domain.staff.policy import Permission
from portal.domain.timeline.queries import (
    MAX_PAGE, MAX_SEARCH, CustomerNotFound, customer_public_id_by_account, customer_timeline, search_customers,
)
from portal.forms.fields import first_value, has_control_characters, small_number
from portal.web.context import db

from . import bp
from .permissions import requires
from .session import current_staff

# Where each kind of entry links to, by the public id it carries.
ENTRY_PAGES = {
    "payment": "admin.payment", "refund": "admin.payment", "chargeback": "admin.payment",
    "dispute_raised": "admin.dispute", "dispute_decided": "admin.dispute",
    "plan": "admin.plan", "installment": "admin.plan",
}


def entry_url(entry) -> str | None:
    if entry.kind in ENTRY_PAGES and entry.public_id:
        return url_for(ENTRY_PAGES[entry.kind], public_id=entry.public_id)
    if entry.kind.startswith("promise"):
        return url_for("admin.promises")
    return None


@bp.get("/customers")
@requires(Permission.VIEW_DISPUTES)
def customers():
    query = first_value(request.args, "q", MAX_SEARCH).strip()
    if len(query) > MAX_SEARCH or has_control_characters(query):
        return render_template("admin/customers.html", result=None,
                               error=f"Search with at most {MAX_SEARCH} plain characters."), 400
    page = small_number(request.args.get("page"), 1, MAX_PAGE)
    return render_template("admin/customers.html", result=search_customers(db(), query, page), error=None)


@bp.get("/customers/<public_id>")
@requires(Permission.VIEW_DISPUTES)
def customer(public_id: str):
    page = small_number(request.args.get("page"), 1, MAX_PAGE)
    try:
        timeline = customer_timeline(db(), public_id, page)
    except CustomerNotFound:
        abort(404)
    try:
        zone = ZoneInfo(current_staff().staff.timezone or "UTC")
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return render_template("admin/customer.html", t=timeline, entry_url=entry_url, staff_zone=zone)


@bp.get("/customers/account/<account_number>")
@requires(Permission.VIEW_DISPUTES)
def customer_by_account(account_number: str):
    """The pages that show an account number link here."""
    try:
        public_id = customer_public_id_by_account(db(), account_number)
    except CustomerNotFound:
        abort(404)
    return redirect(url_for("admin.customer", public_id=public_id))
