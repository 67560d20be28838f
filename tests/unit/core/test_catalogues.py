"""Every word marked for translation in the portal's templates and Python has a French and a
German translation in the compiled catalogues, with the same placeholders; money and dates
are written the way each language writes them, and French punctuation keeps to its word."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from portal.domain.core.locales import (
    LANGUAGES, CatalogueMissing, catalogue_path, check_catalogues, format_day, format_money, translations,
)
from portal.domain.core.money import Money

ROOT = Path(__file__).resolve().parents[3]
TRANSLATED = [code for code in LANGUAGES if code != "en"]
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|\{(\w+)\}")


# What the portal marks words with, as Babel's keyword specifications: `pgettext("payment",
# "Paid")` is the word "Paid" in the context "payment" (French "Payé", where an invoice is "Payée").
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None,
            "pgettext": ((1, "c"), 2), "npgettext": ((1, "c"), 2, 3)}


def _extracted() -> list[tuple[str | None, tuple[str, ...]]]:
    """(context, (singular[, plural])) of every marked word."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = []
    for _filename, _line, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found.append((context, message if isinstance(message, tuple) else (message,)))
    return found


EXTRACTED = _extracted()


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in _PLACEHOLDER.findall(text)}


def _has_words(text: str) -> bool:
    """Whether `text` has anything to translate besides its placeholders and punctuation
    ("%(what)s: %(problem)s." is written the same in German)."""
    return any(c.isalpha() for c in _PLACEHOLDER.sub("", text))


def test_the_extraction_finds_the_marked_words():
    ids = {message[0] for context, message in EXTRACTED if context is None}
    assert {"Pay %(amount)s", "Invoices to settle", "Invoices due soon", "Change language"} <= ids
    in_context = {(context, message[0]) for context, message in EXTRACTED if context is not None}
    assert {("payment", "Paid"), ("aging", "Current"), ("button", "Dispute")} <= in_context


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_language_has_its_compiled_catalogue(language):
    assert catalogue_path(language).is_file()
    check_catalogues()


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_marked_word_is_translated_with_the_same_placeholders(language):
    catalogue = translations(language)
    problems = []
    for context, message in EXTRACTED:
        if len(message) == 2 and context is not None:
            forms = [(message[0], catalogue.npgettext(context, message[0], message[1], 1)),
                     (message[1], catalogue.npgettext(context, message[0], message[1], 5))]
        elif len(message) == 2:
            forms = [(message[0], catalogue.ngettext(message[0], message[1], 1)),
                     (message[1], catalogue.ngettext(message[0], message[1], 5))]
        elif context is not None:
            forms = [(message[0], catalogue.pgettext(context, message[0]))]
        else:
            forms = [(message[0], catalogue.gettext(message[0]))]
        for source, translated in forms:
            if not translated.strip() or (translated == source and len(source) > 12 and _has_words(source)):
                problems.append(f"{language}: not translated: {source!r}")
            elif _placeholders(translated) != _placeholders(source):
                problems.append(f"{language}: placeholders differ: {source!r} -> {translated!r}")
    assert problems == []


def test_a_missing_catalogue_is_an_error_not_english(monkeypatch, tmp_path):
    monkeypatch.setattr("portal.domain.core.locales.TRANSLATIONS_DIRECTORY", tmp_path)
    translations.cache_clear()
    try:
        with pytest.raises(CatalogueMissing, match="pybabel compile"):
            check_catalogues()
        with pytest.raises(CatalogueMissing):
            translations("fr")
    finally:
        translations.cache_clear()


NBSP, NNBSP = "\u00a0", "\u202f"


# French puts a space before : ; ! ? and inside « », and that space does not break, so that a
# line never starts with the punctuation mark: U+00A0, or the narrow U+202F. A mark counts as
# punctuation when it ends the text or is followed by a space, a tag or closing punctuation, so
# "mailto:%(email)s", "https://" and "10:30" are not punctuation; a mark right after another one
# ("?!") needs no space of its own.
_NO_BREAK = NBSP + NNBSP
_FRENCH_MARK = re.compile(r"(?<![:;!?])(?P<before>\s?)[:;!?](?=$|[\s<)».,])")
_GUILLEMET_ALONE = re.compile(rf"«(?![{_NO_BREAK}])|(?<![{_NO_BREAK}])»")


def _french_punctuation_problems(po_path: Path) -> list[str]:
    """Every French translated string of the catalogue at `po_path` whose : ; ! ? or « » are
    not held to their word by a no-break space, with the place marked by ⟦…⟧."""
    with po_path.open("rb") as handle:
        catalogue = read_po(handle, locale="fr")
    problems = []
    for message in catalogue:
        if not message.id:
            continue  # the catalogue's header
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        for text in strings:
            places = [found.span() for found in _FRENCH_MARK.finditer(text)
                      if not found["before"] or found["before"] not in _NO_BREAK]
            places += [found.span() for found in _GUILLEMET_ALONE.finditer(text)]
            source = message.id[0] if isinstance(message.id, tuple) else message.id
            for start, end in sorted(places):
                where = f"{text[max(0, start - 20):start]}⟦{text[start:end]}⟧{text[end:end + 20]}"
                problems.append(f"{source[:40]!r}: {where!r}")
    return problems


def test_french_punctuation_is_never_left_alone_at_the_start_of_a_line():
    problems = _french_punctuation_problems(ROOT / "portal" / "translations" / "fr" / "LC_MESSAGES" / "messages.po")
    assert problems == []


@pytest.mark.parametrize(("minor", "currency", "language", "expected"), [
    (123456, "USD", "en", "$1,234.56"),
    (123456, "USD", "fr", f"1{NNBSP}234,56{NBSP}$US"),
    (123456, "USD", "de", f"1.234,56{NBSP}$"),
    (123456, "EUR", "en", "€1,234.56"),
    (123456, "EUR", "fr", f"1{NNBSP}234,56{NBSP}€"),
    (123456, "EUR", "de", f"1.234,56{NBSP}€"),
    (123456, "JPY", "en", "¥123,456"),
    (123456, "JPY", "fr", f"123{NNBSP}456{NBSP}JPY"),
    (123456, "JPY", "de", f"123.456{NBSP}¥"),
    (1234567, "KWD", "en", "KWD1,234.567"),
    (1234567, "KWD", "fr", f"1{NNBSP}234,567{NBSP}KWD"),
    (1234567, "KWD", "de", f"1.234,567{NBSP}KWD"),
    (-500, "EUR", "de", f"-5,00{NBSP}€"),
])
def test_money_is_written_the_way_each_language_writes_it(minor, currency, language, expected):
    assert format_money(Money(minor, currency), language) == expected


@pytest.mark.parametrize(("language", "expected"), [("en", "05 Mar 2026"), ("fr", "5 mars 2026"), ("de", "05.03.2026")])
def test_dates_are_written_the_way_each_language_writes_them(language, expected):
    assert format_day(date(2026, 3, 5), language) == expected
    assert format_day(None, language) == ""
