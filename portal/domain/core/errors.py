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

from portal.domain.core.locales import Gettext, Text


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


__all__ = ["DomainError", "FieldName", "InvalidTransition", "NotFound", "Text"]


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
