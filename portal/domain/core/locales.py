"""The languages customers read the portal, its emails and its PDFs in (no Flask needed).

A language is a short code from `LANGUAGES`; the message catalogues live in
`portal/translations/<code>/LC_MESSAGES/messages.mo`, compiled from the `.po` files by the
set-up (`pybabel compile -d portal/translations`). English is the source language and needs
no catalogue. A catalogue that is missing is an error, never a quiet fall-back to English:
`check_catalogues` runs when the app is built.

Money and dates are formatted for the language's Babel locale, with the parsed patterns
cached, so a page of a few dozen amounts costs microseconds. English keeps the portal's own
forms ("05 Mar 2026", "15 Dec", "05 Mar 2026, 14:05 EST").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.support import NullTranslations, Translations

DEFAULT_LANGUAGE = "en"
# code -> the name shown in the language switcher, in that language.
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "de": "Deutsch"}
# The Babel locale each language formats money and dates with.
BABEL_LOCALES: dict[str, str] = {"en": "en_US", "fr": "fr_FR", "de": "de_DE"}
TRANSLATIONS_DIRECTORY = Path(__file__).resolve().parents[2] / "translations"
DOMAIN = "messages"
MAX_LANGUAGE_LENGTH = 8


def N_(text: str) -> str:
    """Marks `text` for the message catalogue (`pybabel extract`) where it is defined; it is
    translated where it is used, in the reader's language (`translations(...).gettext`)."""
    return text


Gettext = Callable[[str], str]


class Text:
    """A sentence to show someone: its template (marked with `N_`, with named placeholders)
    and the values that fill them, put together in the reader's language only when it is read
    (`render`, `translate`): a refusal the domain raises, a label it builds for a page. Money
    and dates are written the reader's way, a nested Text or refusal translated too; `str()`
    gives the English."""

    __slots__ = ("template", "params")

    def __init__(self, template: str, /, **params) -> None:
        self.template = template
        self.params = params

    def render(self, language: str | None = None, gettext: Gettext | None = None) -> str:
        """The sentence in `language` (English by default), with `gettext` from that
        language's catalogue unless one is given."""
        language = language_or_default(language)
        if gettext is None:
            gettext = translations(language).gettext
        # gettext("") is the catalogue's header, never a message.
        template = gettext(self.template) if self.template else self.template
        if not self.params:
            return template
        try:
            return template % {name: _written(value, language, gettext) for name, value in self.params.items()}
        except (KeyError, TypeError, ValueError):
            # A translation whose placeholders do not fit (test_catalogues.py guards
            # against it): the English sentence rather than no answer at all.
            if language == DEFAULT_LANGUAGE and template is self.template:
                raise
            return self.render(DEFAULT_LANGUAGE)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Text({self.template!r}, **{self.params!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Text) and (self.template, self.params) == (other.template, other.params)

    def __hash__(self) -> int:
        return hash(self.template)


def _written(value, language: str, gettext: Gettext):
    """A value as `language` writes it: Money and dates formatted for its locale, a nested
    Text or refusal (anything with `translated`) translated too; numbers and names as they are."""
    if isinstance(value, Text):
        return value.render(language, gettext)
    translated = getattr(value, "translated", None)
    if callable(translated):  # a DomainError
        return translated(language, gettext)
    if isinstance(value, BaseException):
        # A ValueError raised with a Text (core.money's MoneyError) reads like one.
        first = value.args[0] if value.args else None
        return first.render(language, gettext) if isinstance(first, Text) else str(value)
    if isinstance(value, date):
        return format_day(value, language)
    return format_money(value, language)


def translate(value, language: str | None):
    """`value` as a reader of `language` reads it: a label marked with `N_` or a `Text`
    translated, money and dates written the language's way. A text the catalogue does not know
    (a reason the admins named themselves) is shown as written; anything else is unchanged."""
    language = language_or_default(language)
    if isinstance(value, Text):
        return value.render(language)
    if isinstance(value, str):
        return translations(language).gettext(value) if value else value
    if isinstance(value, date):
        return format_day(value, language)
    return format_money(value, language)


class CatalogueMissing(RuntimeError):
    """A supported language has no compiled catalogue (`pybabel compile` did not run)."""


def normalize_language(value) -> str | None:
    """The supported code `value` names ("fr", " FR ", "fr-CA" -> "fr"), else None."""
    if not isinstance(value, str) or len(value) > MAX_LANGUAGE_LENGTH * 2:
        return None
    code = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else None


def language_or_default(value) -> str:
    if value.__class__ is str and value in LANGUAGES:  # already a code: every date and amount of a page asks
        return value
    return normalize_language(value) or DEFAULT_LANGUAGE


def catalogue_path(language: str) -> Path:
    return TRANSLATIONS_DIRECTORY / language / "LC_MESSAGES" / f"{DOMAIN}.mo"


def check_catalogues() -> None:
    """Raise `CatalogueMissing` unless every language but English has its compiled catalogue."""
    missing = [code for code in LANGUAGES if code != DEFAULT_LANGUAGE and not catalogue_path(code).is_file()]
    if missing:
        raise CatalogueMissing(
            f"no compiled message catalogue for {', '.join(missing)}: run "
            f"`pybabel compile -d portal/translations` (scripts/_setup.sh does it)"
        )


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> NullTranslations:
    """The gettext catalogue for `language` (English: none, the source strings are English)."""
    language = language_or_default(language)
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    path = catalogue_path(language)
    if not path.is_file():
        raise CatalogueMissing(f"no compiled message catalogue for {language}: run "
                               "`pybabel compile -d portal/translations`")
    with path.open("rb") as handle:
        return Translations(handle, domain=DOMAIN)


@lru_cache(maxsize=len(LANGUAGES))
def babel_locale(language: str) -> Locale:
    return Locale.parse(BABEL_LOCALES[language_or_default(language)])


def format_money(value, language: str | None) -> str:
    """`value` (Money) as the language's locale writes it: "$1,234.56", "1 234,56 $US",
    "1.234,56 $". Anything that is not Money is returned unchanged."""
    if not isinstance(value, _money_type()):
        return value
    return value.format(BABEL_LOCALES.get(language or DEFAULT_LANGUAGE, BABEL_LOCALES[DEFAULT_LANGUAGE]))


@cache
def _money_type() -> type:
    # Imported on first use, once (a page formats fifty amounts): money marks its refusals
    # with `N_` from this module.
    from portal.domain.core.money import Money

    return Money


@lru_cache(maxsize=8192)
def _day(value: date, language: str) -> str:
    if language == DEFAULT_LANGUAGE:
        return value.strftime("%d %b %Y")
    return format_date(value, "medium", locale=babel_locale(language))


def format_day(value: date | None, language: str | None) -> str:
    """A date as the language writes it: "05 Mar 2026", "5 mars 2026", "05.03.2026"."""
    if not value:
        return ""
    if not isinstance(value, date):
        return str(value)
    return _day(value, language_or_default(language))


@lru_cache(maxsize=4096)
def _day_month(value: date, language: str) -> str:
    if language == DEFAULT_LANGUAGE:
        return value.strftime("%d %b")
    return format_skeleton("dMMM", value, locale=babel_locale(language))


def format_day_month(value: date | None, language: str | None) -> str:
    """A day of the year without its year, for a date that is near: "15 Dec", "15 déc.",
    "15. Dez."."""
    if not value:
        return ""
    if not isinstance(value, date):
        return str(value)
    return _day_month(value, language_or_default(language))


def format_moment(value: datetime | None, zone: tzinfo, language: str | None) -> str:
    """A moment as the clock in `zone` showed it, with the zone's abbreviation:
    "05 Mar 2026, 14:05 EST", "5 mars 2026, 14:05 EST", "05.03.2026, 14:05 EST"."""
    if value is None:
        return ""
    local = value.astimezone(zone)
    language = language_or_default(language)
    if language == DEFAULT_LANGUAGE:
        return local.strftime("%d %b %Y, %H:%M %Z")
    locale = babel_locale(language)
    when = locale.datetime_formats["medium"].format(format_time(local, "HH:mm", locale=locale),
                                                    _day(local.date(), language))
    return f"{when} {local.strftime('%Z')}"


# Any run of whitespace but the no-break spaces (U+00A0, and the narrow U+202F of French
# money), which hold "Votre reçu\u00a0:" and "1\u202f234,56\u00a0€" together.
NO_BREAK_SPACES = "\u00a0\u202f"
_BREAKING_SPACES = re.compile(f"[^\\S{NO_BREAK_SPACES}]+")


def one_line(text: str) -> str:
    """`text` on one line (an email's subject): each run of breaking whitespace, newlines
    included, becomes one space; no-break spaces stay as they are."""
    return _BREAKING_SPACES.sub(" ", text).strip()
