"""Which language a request is answered in, and the template filters that follow it.

Customer pages are in the signed-in contact's language (`contacts.language`; on a link's
confirm page, the language of the contact the link was sent to); without one, the
language the visitor picked (`?lang=` on this request, else the `lang` cookie the switcher
sets), else the best match of the browser's Accept-Language among the portal's languages, else
English. Staff pages (`/admin`) stay in English. Flask-Babel asks `select_language` once per
request, the first time a page needs a word or a format.
"""

from __future__ import annotations

import weakref
from datetime import timedelta
from gettext import NullTranslations
from urllib.parse import urlencode

from flask import Flask, g, has_request_context, request
from flask.templating import Environment as FlaskEnvironment
from flask_babel import Babel, get_locale
from jinja2 import nodes
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from portal.domain.core.locales import (
    DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS_DIRECTORY, check_catalogues, format_day, format_day_month,
    format_money, normalize_language, translate, translations,
)
from portal.forms.auth import MAX_NEXT_LENGTH

LANGUAGE_COOKIE = "lang"
LANGUAGE_PARAMETER = "lang"
COOKIE_LIFETIME = timedelta(days=365)
STAFF_PREFIX = "/admin"
_LANGUAGE_KEY = "portal.language"  # where a request keeps its language once chosen (its WSGI environ)


def is_staff_request() -> bool:
    return request.blueprint == "admin" or request.path == STAFF_PREFIX or request.path.startswith(STAFF_PREFIX + "/")


def visitor_language() -> str | None:
    """What this browser asked for without a signed-in contact: the parameter, the cookie,
    then Accept-Language; None when none of them names a language of the portal."""
    for value in (request.args.get(LANGUAGE_PARAMETER), request.cookies.get(LANGUAGE_COOKIE)):
        code = normalize_language(value)
        if code is not None:
            return code
    return request.accept_languages.best_match(tuple(LANGUAGES))


def select_language() -> str:
    # Outside a request (a PDF rendered by a job or the command line) nobody is reading a page.
    if not has_request_context() or is_staff_request():
        return DEFAULT_LANGUAGE
    # The signed-in contact, else the one a link's confirm page was sent to (`addressee`).
    contact = g.get("contact") or g.get("addressee")
    chosen = normalize_language(getattr(contact, "language", None))
    return chosen or visitor_language() or DEFAULT_LANGUAGE


def current_language() -> str:
    """The request's language code ("en", "fr", "de"), chosen once per request: a list page
    asks for it hundreds of times (every word and amount), and Flask-Babel's own lookup reads
    several context locals each time."""
    if not has_request_context():
        return _babel_language()
    environ = request.environ
    language = environ.get(_LANGUAGE_KEY)
    if language is None:
        language = environ[_LANGUAGE_KEY] = _babel_language()
    return language


def _babel_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def current_catalogue() -> NullTranslations:
    """The request's message catalogue, the one Flask-Babel would use."""
    return translations(current_language())


def refusal_message(error) -> str:
    """What a domain refusal (`DomainError`) says to whoever reads this answer: a customer's
    page (and the pay page's script) in the request's language, staff pages and the ERP's
    API in English."""
    if is_staff_request() or request.path.startswith("/api/"):
        return error.message
    return error.translated(current_language())


def back_path() -> str:
    """Where the switcher returns to: this page with its query, less any `next` (a page never
    carries a `next` it did not check forward, SECURITY.md A6) and `lang` (the switch decides)."""
    kept = [(key, value) for key, value in request.args.items(multi=True) if key not in ("next", LANGUAGE_PARAMETER)]
    path = request.path + ("?" + urlencode(kept) if kept else "")
    # No longer than the switcher's form takes back (a page is never made to repeat a huge query).
    return path if len(path) <= MAX_NEXT_LENGTH else request.path[:MAX_NEXT_LENGTH]


def install_template_words(app: Flask) -> None:
    """The templates' `_()`, `gettext()`, `ngettext()`, `pgettext()` and `{% trans %}`, reading
    the request's catalogue, with Jinja's "newstyle" rules (the result is Markup and always
    %-formatted with the named values, which are escaped).

    Plain functions rather than Jinja's own i18n callables: those take the template context,
    and inside a `{% for %}` Jinja builds a new context for every such call, so a list page
    paid for a context and several Flask-Babel lookups per word. Every template Flask renders
    here is HTML (autoescaped), so the words are always Markup.
    """
    app.jinja_env.newstyle_gettext = True  # {% trans %} blocks pass their values as keywords

    # Positional-only, as in Jinja's own: a template may pass `num` or `context` as a value.
    def gettext(text: str, /, **values) -> Markup:
        return Markup(current_catalogue().gettext(text)) % values

    def ngettext(singular: str, plural: str, count: int, /, **values) -> Markup:
        values.setdefault("num", count)
        return Markup(current_catalogue().ngettext(singular, plural, count)) % values

    def pgettext(context: str, text: str, /, **values) -> Markup:
        values.setdefault("context", context)
        return Markup(current_catalogue().pgettext(context, text)) % values

    def npgettext(context: str, singular: str, plural: str, count: int, /, **values) -> Markup:
        values.setdefault("context", context)
        values.setdefault("num", count)
        return Markup(current_catalogue().npgettext(context, singular, plural, count)) % values

    app.jinja_env.globals.update(_=gettext, gettext=gettext, ngettext=ngettext, pgettext=pgettext, npgettext=npgettext)


WORD_FUNCTIONS = frozenset({"_", "gettext", "ngettext", "pgettext", "npgettext"})


class WordsTranslatedEnvironment(FlaskEnvironment):
    """Flask's template environment, where each template is compiled once per language with its
    constant words already translated.

    `{{ _("Invoices") }}`, a `{% trans %}` block without values, or `_("%(num)s selected",
    num="{count}")` have the same answer every time a page in one language is drawn: compiled
    for that language, they are text of the template, like its markup, and cost nothing when a
    page is drawn (a page's chrome asks for about 90 words). Words with a value only known
    while drawing (`_("Select invoice %(number)s", number=invoice.number)`) are still looked
    up then. The compiled templates are kept per language (the request's, `current_language`),
    so a French page never reuses an English compilation.

    Jinja has no public hook for either step: this overrides `_load_template` (the cache key)
    and `_parse` (the syntax tree, before code is generated) of Jinja 3.1, the version the lock
    pins; `tests/web/languages/test_words_compiled_per_language.py` fails if they stop being
    called.
    """

    def _load_template(self, name, globals):
        if self.loader is None:
            raise TypeError("no loader for this environment specified")
        key = (weakref.ref(self.loader), name, current_language())
        template = self.cache.get(key) if self.cache is not None else None
        if template is not None and (not self.auto_reload or template.is_up_to_date):
            if globals:
                template.globals.update(globals)
            return template
        template = self.loader.load(self, name, self.make_globals(globals))
        if self.cache is not None:
            self.cache[key] = template
        return template

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        if any(found.name in WORD_FUNCTIONS for found in tree.find_all(nodes.Name) if found.ctx != "load"):
            return tree  # the template names a variable `_` (or `gettext`): leave its words alone
        tree = _ConstantWords(self.globals).visit(tree)
        tree.set_environment(self)
        return tree


class _ConstantWords(NodeTransformer):
    """Replaces a call of a word function whose arguments are all constants by its answer."""

    def __init__(self, functions) -> None:
        self.functions = functions

    def visit_Call(self, node: nodes.Call):
        node = self.generic_visit(node)
        function = node.node
        if not (isinstance(function, nodes.Name) and function.name in WORD_FUNCTIONS
                and node.dyn_args is None and node.dyn_kwargs is None
                and all(isinstance(arg, nodes.Const) for arg in node.args)
                and all(isinstance(keyword.value, nodes.Const) for keyword in node.kwargs)):
            return node
        words = self.functions[function.name](
            *(arg.value for arg in node.args), **{keyword.key: keyword.value.value for keyword in node.kwargs})
        return nodes.Const(words, lineno=node.lineno)


def init_app(app: Flask) -> None:
    """Flask-Babel with the portal's catalogues; a catalogue that was not compiled stops the
    app here rather than showing English where French was asked for."""
    check_catalogues()
    Babel(app, locale_selector=select_language, default_locale=DEFAULT_LANGUAGE,
          default_translation_directories=str(TRANSLATIONS_DIRECTORY))
    install_template_words(app)

    @app.template_filter("money")
    def money_filter(value) -> str:
        return format_money(value, current_language())

    @app.template_filter("day")
    def day_filter(value) -> str:
        return format_day(value, current_language())

    @app.template_filter("day_month")
    def day_month_filter(value) -> str:
        return format_day_month(value, current_language())

    @app.template_filter("translated")
    def translated_filter(value) -> str:
        """A label the domain marked with `N_` (or a `Text`) in the page's language, as plain
        text the page escapes (unlike `_()` of a variable, which Jinja would trust as markup)."""
        return translate(value, current_language())

    @app.context_processor
    def languages():
        return {"current_language": current_language(), "languages": LANGUAGES, "language_back_path": back_path}
