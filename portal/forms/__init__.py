"""Customer-side input, parsed by form classes before any query, lock or arithmetic.

One module per blueprint: `auth` (sign-in requests), `payments` (the pay form), `account`
(the invoice list's query arguments). Each form bounds every field's length, refuses control
characters in every single-line field (SECURITY.md A14), and hands the domain typed values.

A form that does not validate raises `InvalidInput`, a `DomainError`: `portal.web.errors`
turns it into a 400 with the message, so views carry no try/except.

CSRF: these are plain `wtforms.Form`s with WTForms' own CSRF off. Flask-WTF's `CSRFProtect`
already guards every POST of the app (its one exemption is the Stripe webhook, and
tests/web/test_security_csrf.py sweeps every route), so a second per-form check would only
duplicate it. Query-argument forms (the invoice list) must not carry a token anyway.
"""

from __future__ import annotations

from portal.domain.core.errors import DomainError


class InvalidInput(DomainError):
    """Input refused before it reached the domain; nothing was changed (answered with 400)."""
