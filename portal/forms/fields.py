"""What every customer form shares: bounded single-line text without control characters.

A field's label is a noun phrase ("The memo"), marked with `lazy_gettext` in the customer
forms; the refusals are read with `gettext` when the form is validated, so a customer reads
them in their language (staff requests are in English, portal.web.i18n).
"""

from __future__ import annotations

import re
import unicodedata

from flask_babel import gettext
from wtforms import Form, StringField
from wtforms.validators import ValidationError

from portal.forms import InvalidInput

# Line and paragraph separators and bidirectional overrides are not in category Cc, but they
# break lines or reorder text just as well (in an email, a log line, a CSV export).
_ALSO_REFUSED = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


def has_control_characters(text: str) -> bool:
    """True when `text` holds a control character (NUL, CR, LF, TAB, DEL, C1, ...), a line or
    paragraph separator, or a bidirectional override."""
    return any(unicodedata.category(c) == "Cc" or c in _ALSO_REFUSED for c in text)


def shown_again(text: str, max_length: int) -> str:
    """A refused form's value to show in its field again: cut to `max_length`, without the
    characters `has_control_characters` finds (the value was not accepted; only retyping is
    spared)."""
    return "".join(c for c in text[:max_length] if not has_control_characters(c))


class SingleLine:
    """Validator: no control characters, so the value cannot start a new line anywhere."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, form, field) -> None:
        if has_control_characters(field.data or ""):
            raise ValidationError(gettext("%(label)s must be one line of plain text.", label=self.label))


class AtMost:
    """Validator: at most `max_length` characters."""

    def __init__(self, label: str, max_length: int) -> None:
        self.label, self.max_length = label, max_length

    def __call__(self, form, field) -> None:
        if len(field.data or "") > self.max_length:
            raise ValidationError(gettext("%(label)s can be at most %(limit)s characters.", label=self.label,
                                          limit=self.max_length))


def line_field(label: str, max_length: int) -> StringField:
    """A single-line text field of at most `max_length` characters, stripped."""
    return StringField(label, validators=[SingleLine(label), AtMost(label, max_length)],
                       filters=[lambda value: value.strip() if isinstance(value, str) else value])


class PortalForm(Form):
    """A WTForms form without its own CSRF (see `portal.forms`) that raises `InvalidInput`."""

    def checked(self):
        """Validate, raising `InvalidInput` with the first error's message; returns self."""
        if not self.validate():
            for errors in self.errors.values():
                for error in errors:
                    raise InvalidInput(error if isinstance(error, str) else str(error))
        return self


def first_value(formdata, name: str, max_length: int) -> str:
    """One raw value, cut far above any legitimate length so a huge value costs nothing; the
    field's own validator then refuses anything above its limit."""
    value = formdata.get(name, "")
    return value[: max_length + 1] if isinstance(value, str) else ""


_SMALL_NUMBER = re.compile(r"[0-9]{1,6}", re.ASCII)


def small_number(text: str | None, default: int, limit: int) -> int:
    """A page number or size read as bounded text: anything else (too long, not digits, out of
    range) is the default, never an error, since list URLs are bookmarked and shared."""
    text = (text or "").strip()
    if not _SMALL_NUMBER.fullmatch(text):
        return default
    number = int(text)
    return number if 0 < number <= limit else default
