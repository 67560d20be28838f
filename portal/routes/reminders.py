"""Where a reminder email's link lands: its invoices, already selected, with "Pay <total>",
"Dispute" and "Promise to pay" side by side.

parse (at most as many invoice ids as one payment takes) → authorize (`require_customer` for
the whole blueprint; the invoices are read through the session's `Access`, so a forwarded
link's holder sees its own invoices only and another company's id is a 404) → one read
(`payments.queries.pay_page`, the pay page's own figures) → respond.

URLs:
- `reminders.act`  GET /reminders/act?invoice=<public_id>&invoice=...   the reminder's invoices
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from portal.domain.payments import queries
from portal.domain.payments.policy import MAX_INVOICES_PER_PAYMENT
from portal.forms.payments import invoice_ids
from portal.web.context import db
from portal.web.customer_session import current_access, customer_today, require_customer

bp = Blueprint("reminders", __name__)
bp.before_request(require_customer)


@bp.get("/reminders/act")
def act():
    public_ids = invoice_ids(request.args.getlist("invoice"), MAX_INVOICES_PER_PAYMENT)
    page = queries.pay_page(db(), customer_today(), current_access(), public_ids)
    return render_template("reminders/act.html", page=page,
                           selected=[standing.invoice.public_id for standing in page.standings])
