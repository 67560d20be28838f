"""A template's constant words are translated when it is compiled, and each language has its
own compilation (`WordsTranslatedEnvironment`): the words are part of the template's text,
looked up once, and a page in one language never shows another's."""

from __future__ import annotations

import pytest
from flask import render_template_string, url_for

from portal.web.i18n import WordsTranslatedEnvironment

SIGN_IN_HEADING = {"fr": "Connectez-vous à votre compte", "de": "Bei Ihrem Konto anmelden",
                   "en": "Sign in to your account"}


def _compiled(app, source: str, language: str) -> str:
    with app.test_request_context(f"/sign-in?lang={language}"):
        return app.jinja_env.compile(source, raw=True)


def test_the_app_draws_pages_with_the_words_translated_environment(app):
    assert isinstance(app.jinja_env, WordsTranslatedEnvironment)


@pytest.mark.parametrize(("source", "french"), [
    ('{{ _("Invoices") }}', "Factures"),
    ('{% trans %}Invoices{% endtrans %}', "Factures"),
    ('{{ pgettext("button", "Dispute") }}', "Contester"),
    ('{{ ngettext("%(num)s invoice selected.", "%(num)s invoices selected.", 2, num="{count}") }}',
     "{count} factures sélectionnées."),
])
def test_a_constant_word_is_text_of_the_compiled_template(app, source, french):
    code = _compiled(app, source, "fr")
    assert french in code
    assert "context.call" not in code  # nothing is looked up while the page is drawn


def test_a_word_with_a_value_known_only_while_drawing_is_still_looked_up_then(app):
    code = _compiled(app, '{{ _("Pay %(amount)s", amount=total) }}', "fr")
    assert "context.call" in code
    with app.test_request_context("/sign-in?lang=fr"):
        assert render_template_string('{{ _("Pay %(amount)s", amount=total) }}', total="<5>") == "Payer &lt;5&gt;"


def test_a_template_that_names_a_variable_underscore_keeps_its_words_looked_up(app):
    source = '{% for n in [1] %}{% set _ = n %}{% endfor %}{{ _("Invoices") }}'
    assert "context.call" in _compiled(app, source, "fr")
    with app.test_request_context("/sign-in?lang=fr"):
        assert render_template_string(source) == "Factures"


def test_each_language_has_its_own_compilation_of_a_page(app, client):
    with app.test_request_context():
        path = url_for("auth.sign_in_request")
    for language in ("fr", "en", "de", "fr", "en"):
        html = client.get(path, headers={"Accept-Language": language}).get_data(as_text=True)
        assert SIGN_IN_HEADING[language] in html
        assert all(heading not in html for other, heading in SIGN_IN_HEADING.items() if other != language)
    cached = {key[2] for key in app.jinja_env.cache.keys() if key[1] == "auth/sign_in_request.html"}
    assert cached == {"fr", "en", "de"}
