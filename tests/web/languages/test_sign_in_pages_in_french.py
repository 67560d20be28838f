"""A visitor with no session reads the sign-in pages in their browser's language."""

from __future__ import annotations

import pytest
from flask import url_for

HEADINGS = {"fr": ("Connectez-vous à votre compte", "Adresse e-mail"),
            "de": ("Bei Ihrem Konto anmelden", "E-Mail-Adresse"),
            "en": ("Sign in to your account", "Email address")}


@pytest.mark.parametrize("language", sorted(HEADINGS))
def test_the_sign_in_page_follows_accept_language(app, client, language):
    with app.test_request_context():
        path = url_for("auth.sign_in_request")
    html = client.get(path, headers={"Accept-Language": f"{language};q=0.9"}).get_data(as_text=True)
    assert f'<html lang="{language}">' in html
    for words in HEADINGS[language]:
        assert words in html
