"""What the saved payment methods pages read from a request beyond the CSRF token: the
browser's user agent, kept with the consent (bounded, one line)."""

from __future__ import annotations

from portal.forms.fields import has_control_characters

MAX_USER_AGENT = 500


def consenting_user_agent(header: str | None) -> str:
    """The User-Agent header as stored with a consent: cut to its column's length, without
    control characters (a header is the client's to write)."""
    text = (header or "")[:MAX_USER_AGENT]
    return "".join(c for c in text if not has_control_characters(c))
