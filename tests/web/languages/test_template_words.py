"""The templates' `_()`, `ngettext()`, `pgettext()` and `{% trans %}` follow Jinja's "newstyle"
rules with the portal's own lookup: the request's catalogue, named values escaped, `num` and
`context` filled in, the request's language chosen once."""

from __future__ import annotations

import pytest
from flask import render_template_string

from portal.web.i18n import current_language

CASES = [
    ('{{ _("Pay %(amount)s", amount="<b>5</b>") }}', {"en": "Pay &lt;b&gt;5&lt;/b&gt;", "fr": "Payer &lt;b&gt;5&lt;/b&gt;"}),
    ('{{ ngettext("%(num)d day overdue", "%(num)d days overdue", 3) }}',
     {"en": "3 days overdue", "fr": "3 jours de retard"}),
    # A value named `num` may be passed besides the count (the list's script fills "{count}").
    ('{{ ngettext("%(num)s invoice selected.", "%(num)s invoices selected.", 2, num="{count}") }}',
     {"en": "{count} invoices selected.", "fr": "{count} factures sélectionnées."}),
    ('{{ pgettext("button", "Dispute") }}', {"en": "Dispute", "fr": "Contester"}),
    ('{% trans amount="<i>" %}Pay {{ amount }}{% endtrans %}', {"en": "Pay &lt;i&gt;", "fr": "Payer &lt;i&gt;"}),
    ('{% for n in [1, 2] %}{{ _("Invoices") }} {% endfor %}', {"en": "Invoices Invoices ", "fr": "Factures Factures "}),
]


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize(("source", "expected"), CASES, ids=[case[0][:40] for case in CASES])
def test_template_words(app, language, source, expected):
    with app.test_request_context(f"/sign-in?lang={language}"):
        assert render_template_string(source) == expected[language]


def test_the_language_is_chosen_once_per_request(app):
    with app.test_request_context("/sign-in?lang=de") as context:
        assert current_language() == "de"
        context.request.args = {"lang": "fr"}  # what changes afterwards is not read again
        assert current_language() == "de"
    with app.test_request_context("/sign-in?lang=fr"):
        assert current_language() == "fr"
