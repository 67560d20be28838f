"""The rows of the invoice list (`account/invoices.html`), written in Python.

The one piece of a customer page's markup that is not in a template, and why: a row of this
table has about forty values and words, and Jinja spends on each an escape, a lookup and a
yield through three generator frames, about 470 Python calls a row; the 25 rows of a default
page cost twice the rest of the page together (docs/benchmarks.md). Written here, with each
value escaped once and the words the rows repeat looked up once per page, a row costs about
a fifth of that. The markup is what the template wrote before (`tests/web/account/test_invoice_rows.py` checks
each shape a row can take); the table around the rows stays in the template.

Values are escaped with `portal.web.rows.text`. Words are the template's: the request's
catalogue (`current_catalogue`), so Babel's extractor finds them here as in any module (`_`
below is gettext's usual name for it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup

from portal.domain.core.locales import format_day, format_day_month, format_money
from portal.domain.ledger.queries import Standing
from portal.web.i18n import current_catalogue, current_language
from portal.web.rows import text


# A PO number up to this long stays on one line ("ACME-PO-8327", not "ACME-/PO-/8327"); a
# longer one may break at its hyphens, so that it never widens the table past the page.
PO_KEPT_WHOLE = 16


def po_class(po_number: str | None) -> str:
    return ' class="nowrap"' if po_number and len(po_number) <= PO_KEPT_WHOLE else ""


def invoice_rows(standings: Sequence[Standing], *, invoice_url: str, exponents: Mapping[str, int],
                 promised: Mapping[int, date], reported: frozenset[int] | set[int]) -> Markup:
    """The `<tr>` of each standing, in order."""
    catalogue = current_catalogue()
    _ = catalogue.gettext
    language = current_language()
    # As the templates' words are: the translation is trusted markup, the values put into it are escaped.
    words = {
        "pay": _("Pay"),
        "invoice": _("Invoice"),
        "po": _("PO number"),
        "issued": _("Issued"),
        "due": _("Due"),
        "currency": _("Currency"),
        "total": _("Total"),
        "balance": _("Balance due"),
        "status": _("Status"),
        "due_today": _("due today"),
        "partly_paid": _("Partly paid"),
        "disputed": _("Disputed"),
        "reported": _("Payment reported, being matched"),
        "open": _("Open"),
        "overdue": _("Overdue"),
        "paid": _("Paid"),
        "processing": _("Processing"),
    }
    select_label, processing = _("Select invoice %(number)s"), _("%(amount)s processing")
    left_to_pay, disputed_note = _("%(amount)s left to pay"), _("%(amount)s disputed")
    promised_note = _("Promised for %(day)s")
    url = text(invoice_url)
    parts: list[str] = []
    add = parts.append
    for standing in standings:
        invoice = standing.invoice
        payable = standing.payable
        payable_minor = payable.minor
        status = standing.status
        is_paid = standing.is_paid
        public_id = text(invoice.public_id)
        currency = text(invoice.currency)
        number = text(invoice.number)
        add(f'<tr class="status-{status}">\n')
        if payable_minor > 0:
            add(f'<td class="select-col" data-label="{words["pay"]}">\n'
                f'<input type="checkbox" name="invoice" value="{public_id}" id="select-{public_id}"'
                f' data-currency="{currency}" data-payable-minor="{payable_minor}"'
                f' data-exponent="{exponents[invoice.currency]}"'
                f' aria-label="{select_label % {"number": number}}">\n</td>\n')
        else:
            add('<td class="select-col"></td>\n')
        add(f'<td data-label="{words["invoice"]}" class="nowrap"><a href="{url}{public_id}">{number}</a></td>\n'
            f'<td data-label="{words["po"]}"{po_class(invoice.po_number)}>{text(invoice.po_number or "—")}</td>\n'
            f'<td data-label="{words["issued"]}" class="stack-hide nowrap">{format_day(invoice.issue_date, language)}</td>\n'
            f'<td data-label="{words["due"]}" class="nowrap"><span>{format_day(invoice.due_date, language)}')
        if standing.is_overdue:
            days = standing.days_overdue
            overdue = catalogue.ngettext("%(num)d day overdue", "%(num)d days overdue", days) % {"num": days}
            add(f' <span class="row-note overdue-note">{overdue}</span>')
        elif status != "paid" and invoice.due_date == standing.today:
            add(f' <span class="row-note">{words["due_today"]}</span>')
        add(f'</span></td>\n<td data-label="{words["currency"]}" class="card-only">{currency}</td>\n'
            f'<td class="num stack-hide" data-label="{words["total"]}">{format_money(standing.total, language)}</td>\n'
            f'<td class="num" data-label="{words["balance"]}">\n<span>{format_money(standing.balance, language)}\n')
        if standing.in_flight.minor > 0 and not is_paid:
            note = processing % {"amount": format_money(standing.in_flight, language)}
            if payable_minor > 0:
                note += " · " + left_to_pay % {"amount": format_money(payable, language)}
            add(f'<span class="row-note">{note}</span>\n')
        disputed = standing.disputed
        if disputed.minor > 0 and not is_paid:
            add(f'<span class="row-note">{disputed_note % {"amount": format_money(disputed, language)}}</span>\n')
        add(f'</span>\n</td>\n<td data-label="{words["status"]}"><span><span class="badge badge-{status}">'
            f'{words[status]}</span>')
        if status != "paid" and standing.is_partly_paid:
            add(f' <span class="badge badge-partial">{words["partly_paid"]}</span>')
        if status != "paid" and disputed.minor > 0:
            add(f' <span class="badge badge-disputed">{words["disputed"]}</span>')
        if invoice.id in promised:
            day = format_day_month(promised[invoice.id], language)
            add(f' <span class="row-note promised-note">{promised_note % {"day": day}}</span>')
        if invoice.id in reported:
            add(f' <span class="row-note reported-note">{words["reported"]}</span>')
        add("</span></td>\n</tr>\n")
    return Markup("".join(parts))
