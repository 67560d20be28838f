"""Errors the domain raises on purpose. Each carries a message fit to show the user.

A message is English. A refusal a customer's contact can meet is raised with its template
marked for the message catalogue and its named parameters, never a finished f-string:

    raise PaymentRefused(N_("Invoice %(number)s: at most %(amount)s can be paid now."),
                         number=invoice.number, amount=payable)

`message` is then the English sentence (logs, staff pages, the ERP's API, tests), and
`translated(language)` the same refusal in a contact's language, its Money and dates written
the way that language writes them ("$1,234.56", "1 234,56 $US", "1.234,56 $"). A refusal
raised with a plain string works as before; it is translated only if that string is in the
catalogue, so a staff-only message stays English everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from portal.domain.core.locales import DEFAULT_LANGUAGE, format_day, format_money, language_or_default, translations

Gettext = Callable[[str], str]


class Text:
    """A sentence to show someone: a template (marked with `N_`) and its named parameters,
    put together in the reader's language only when it is read."""

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



class FieldName:
    """A field as a refusal names it, in both places a sentence puts it: as its subject, first
    ("The name can be at most 200 characters.") and inside it ("Enter the name."). Each is a
    template marked with `N_`, so a language that declines nouns (German "Der Name ...",
    "Geben Sie den Namen ein.") writes both right. A label only staff read stays unmarked."""

    __slots__ = ("subject", "object")

    def __init__(self, subject: str, object_: str, /) -> None:
        self.subject = Text(subject)
        self.object = Text(object_)

    def __repr__(self) -> str:
        return f"FieldName({self.subject.template!r}, {self.object.template!r})"

def _written(value, language: str, gettext: Gettext):
    """A parameter as `language` writes it: Money and dates formatted for its locale, a
    nested sentence or refusal translated too; numbers and names as they are."""
    if isinstance(value, Text):
        return value.render(language, gettext)
    if isinstance(value, DomainError):
        return value.translated(language, gettext)
    if isinstance(value, BaseException):
        # A ValueError raised with a Text (core.money's MoneyError) reads like one.
        first = value.args[0] if value.args else None
        return first.render(language, gettext) if isinstance(first, Text) else str(value)
    if isinstance(value, date):
        return format_day(value, language)
    return format_money(value, language)


class DomainError(Exception):
    """A refusal with a clear message; nothing was changed.

    `DomainError("Plain English.")` or `DomainError(N_("At most %(limit)s."), limit=3)`
    (or a ready `Text`): `message` is the English sentence, `translated(language)` the
    reader's."""

    def __init__(self, message: str | Text, /, **params) -> None:
        self.text = message if isinstance(message, Text) else Text(message, **params)
        self.message = self.text.render()
        super().__init__(self.message)

    def translated(self, language: str | None, gettext: Gettext | None = None) -> str:
        """The refusal in `language` ("fr", "de"; English for anything else)."""
        return self.text.render(language, gettext)


class NotFound(DomainError):
    """The object does not exist for this actor (another company's object looks the same)."""

    def __init__(self, message: str | Text = "Not found", /, **params) -> None:
        super().__init__(message, **params)


class InvalidTransition(DomainError):
    """A state machine was asked for a move its table does not allow."""
