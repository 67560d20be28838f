"""The language switcher's form: a language of the portal and the page to go back to."""

from __future__ import annotations

from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from portal.domain.access.policy import safe_next_path
from portal.domain.core.locales import LANGUAGES, MAX_LANGUAGE_LENGTH
from portal.forms import InvalidInput
from portal.forms.auth import MAX_NEXT_LENGTH
from portal.forms.fields import first_value



class LanguageChoice:
    """`language` exactly one of the portal's codes, and `next_path` a same-site path or None
    (SECURITY.md A6: a foreign or odd target is dropped, the visitor lands on the start page)."""

    def __init__(self, formdata: MultiDict) -> None:
        language = first_value(formdata, "language", MAX_LANGUAGE_LENGTH)
        if language not in LANGUAGES:
            raise InvalidInput(gettext("Choose one of the languages offered: %(languages)s.",
                                       languages=", ".join(LANGUAGES.values())))
        self.language = language
        self.next_path = safe_next_path(first_value(formdata, "back", MAX_NEXT_LENGTH))
