"""The rows of the payments history (`payments/history.html`), written in Python.

For the reason the invoice list's rows are (`portal.web.rows`): in Jinja a row of the history
cost about 200 Python calls. The markup is what the template wrote before
(`tests/web/payments/test_payment_rows.py` checks each shape a row can take); the table
around the rows stays in the template. Words are the request's catalogue's (`_` below is
gettext's usual name for it, so Babel's extractor finds them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from markupsafe import Markup

from portal.domain.core.locales import format_day, format_moment, format_money
from portal.domain.payments.queries import HistoryRow
from portal.web.i18n import current_catalogue, current_language
from portal.web.rows import text


def payment_rows(rows: Sequence[HistoryRow], *, payment_url: str, zone: tzinfo) -> Markup:
    """The `<tr>` of each history row, in order."""
    catalogue = current_catalogue()
    _ = catalogue.gettext
    language = current_language()
    processing, declined = ("processing", _("Processing")), ("failed", _("Declined"))
    badges = {"new": processing, "requires_action": ("processing", _("Authentication needed")),
              "processing": processing, "succeeded": ("paid", catalogue.pgettext("payment", "Paid")),
              "failed": declined, "canceled": ("failed", _("Canceled"))}
    status_label, moment_label, reference_label = _("Status"), _("Date and time"), _("Reference")
    invoices_label, memo_label, amount_label = _("Invoices"), _("Your reference · memo"), _("Amount")
    url = text(payment_url)
    parts: list[str] = []
    add = parts.append
    for row in rows:
        summary = row.summary
        payment = summary.payment
        failed = row.is_failed
        badge = badges[payment.status]
        if summary.is_bank_account:
            if summary.returned:
                badge = ("failed", _("Returned"))
            elif payment.status == "failed":
                badge = ("failed", _("Not paid"))
            elif summary.verification_url:
                badge = ("processing", _("Verify bank account"))
            elif (expected_by := summary.expected_by) is not None:
                badge = ("processing", _("Processing, expected by %(day)s")
                         % {"day": format_day(expected_by, language)})
        attempts = ""
        if row.attempts > 1:
            attempts = f' <span class="row-note">{_("%(count)s attempts, none charged") % {"count": row.attempts}}</span>'
        po_number, memo = payment.po_number, payment.memo
        if po_number and memo:
            reference = f"{text(po_number)} · {text(memo)}"
        else:
            reference = text(po_number or memo or "—")
        not_charged = f' <span class="row-note">{_("Not charged")}</span>' if failed else ""
        add(f'<tr class="{"attempts-failed" if failed else ""}">\n'
            f'<td data-label="{status_label}"><span><span class="badge badge-{badge[0]}">{badge[1]}</span>{attempts}</span></td>\n'
            f'<td data-label="{moment_label}">{format_moment(payment.settled_at or payment.created_at, zone, language)}</td>\n'
            f'<td data-label="{reference_label}" class="reference"><a href="{url}{text(payment.public_id)}">{text(payment.reference)}</a></td>\n'
            f'<td data-label="{invoices_label}"><span>{text(summary.invoice_numbers)}</span></td>\n'
            f'<td data-label="{memo_label}"><span>{reference}</span></td>\n'
            f'<td class="num" data-label="{amount_label}"><span>{format_money(summary.amount, language)}{not_charged}</span></td>\n'
            "</tr>\n")
    return Markup("".join(parts))
