"""The language switcher on every customer page (`POST /language`).

Signed in, the choice is stored on the contact (their emails and PDFs follow it); in any case
the `lang` cookie remembers it for this browser. Then back to the page it was made on, when
that is a path of this site (SECURITY.md A6), else the start page.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, request, url_for

from portal.domain.customers.service import set_contact_language
from portal.forms.language import LanguageChoice
from portal.web.context import db, services
from portal.web.customer_session import current_access
from portal.web.i18n import COOKIE_LIFETIME, LANGUAGE_COOKIE

bp = Blueprint("language", __name__)


@bp.post("/language")
def switch():
    choice = LanguageChoice(request.form)
    if current_access() is not None:
        set_contact_language(db(), g.contact.id, choice.language)
    response = redirect(choice.next_path or url_for("auth.index"), code=303)
    response.set_cookie(
        LANGUAGE_COOKIE, choice.language, max_age=int(COOKIE_LIFETIME.total_seconds()), path="/",
        secure=services().settings.session_cookie_secure, httponly=True, samesite="Lax",
    )
    return response
