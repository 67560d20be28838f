"""The languages customers read the portal, its emails and its PDFs in (no Flask needed).

A language is a short code from `LANGUAGES`; the message catalogues live in
`portal/translations/<code>/LC_MESSAGES/messages.mo`, compiled from the `.po` files by the
set-up (`pybabel compile -d portal/translations`). English is the source language and needs
no catalogue. A catalogue that is missing is an error, never a quiet fall-back to English:
`check_catalogues` runs when the app is built.

Money and dates are formatted for the language's Babel locale, with the parsed patterns
cached, so a page of a few dozen amounts costs microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.support import NullTranslations, Translations

from portal.domain.core.money import Money

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


@dataclass(frozen=True)
class Phrase:
    """A sentence the domain builds for a customer's page: its text, marked with `N_` and with
    named placeholders, and the values that fill them. It is translated where it is read
    (`translate`), with dates and money written the reader's way; `str()` gives the English."""

    text: str
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, text: str, **values) -> Phrase:
        return cls(text, tuple(sorted(values.items())))

    def __str__(self) -> str:
        return translate(self, DEFAULT_LANGUAGE)


def translate(value, language: str | None):
    """`value` as a reader of `language` reads it: a label marked with `N_` or a `Phrase`
    translated, money and dates written the language's way. A text the catalogue does not know
    (a reason the admins named themselves) is shown as written; anything else is unchanged."""
    language = language_or_default(language)
    if isinstance(value, Phrase):
        return translations(language).gettext(value.text) % {
            name: translate(shown, language) for name, shown in value.values}
    if isinstance(value, str):
        return translations(language).gettext(value) if value else value
    if isinstance(value, Money):
        return format_money(value, language)
    if isinstance(value, date):
        return format_day(value, language)
    return value


class CatalogueMissing(RuntimeError):
    """A supported language has no compiled catalogue (`pybabel compile` did not run)."""


def normalize_language(value) -> str | None:
    """The supported code `value` names ("fr", " FR ", "fr-CA" -> "fr"), else None."""
    if not isinstance(value, str) or len(value) > MAX_LANGUAGE_LENGTH * 2:
        return None
    code = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else None


def language_or_default(value) -> str:
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
    if not isinstance(value, Money):
        return value
    return value.format(BABEL_LOCALES.get(language or DEFAULT_LANGUAGE, BABEL_LOCALES[DEFAULT_LANGUAGE]))


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
