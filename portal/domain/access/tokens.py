"""Link tokens: an itsdangerous signature (one salt per purpose, so an invoice token is refused
where a sign-in token is expected) over 256 random bits. The database keeps only a SHA-256 of
those bits, so a stolen database yields no usable link.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from itsdangerous import BadSignature, URLSafeSerializer

from portal.domain.access.policy import INVOICE, SIGN_IN, URL_SEGMENTS, safe_next_path
from portal.domain.core.errors import DomainError
from portal.domain.core.locales import N_

# Random bits inside every token (SECURITY.md A4 asks for at least 128).
TOKEN_RANDOM_BYTES = 32

_SALTS = {INVOICE: "portal.link.invoice", SIGN_IN: "portal.link.sign-in"}


class LinkError(DomainError):
    """A link that cannot be used. `link` is the row when the token itself was genuine."""

    reason = "invalid"

    def __init__(self, message: str, link=None, **params) -> None:
        super().__init__(message, **params)
        self.link = link


class InvalidLink(LinkError):
    reason = "invalid"

    def __init__(self, link=None) -> None:
        super().__init__(N_("This link is not valid. Check that it was copied completely."), link)


@dataclass(frozen=True)
class LinkSigner:
    """The keys tokens are signed with and the public address links are built on.

    `secret_keys` is oldest first, newest last (itsdangerous' rotation order): new tokens are
    signed with the last key, and tokens signed with an older key still verify until that key
    is dropped from `SECRET_KEY_FALLBACKS`.
    """

    secret_keys: tuple[str, ...]
    public_url: str

    @classmethod
    def from_settings(cls, settings) -> LinkSigner:
        """Build from `portal.config.Settings` (duck-typed so the domain does not need it)."""
        keys = (*settings.secret_key_fallbacks, settings.secret_key)
        return cls(secret_keys=tuple(keys), public_url=settings.public_url.rstrip("/"))

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        return URLSafeSerializer(list(self.secret_keys), salt=_SALTS[purpose])

    def new_token(self, purpose: str) -> tuple[str, str]:
        """A fresh token for `purpose` and the hash to store for it."""
        nonce = secrets.token_urlsafe(TOKEN_RANDOM_BYTES)
        return self._serializer(purpose).dumps(nonce), token_hash(purpose, nonce)

    def hash_of(self, purpose: str, token: str) -> str:
        """The stored hash for `token`; `InvalidLink` when the signature does not verify."""
        if purpose not in _SALTS or not isinstance(token, str) or len(token) > 512:
            raise InvalidLink()
        try:
            nonce = self._serializer(purpose).loads(token)
        except BadSignature:
            raise InvalidLink() from None
        if not isinstance(nonce, str) or len(nonce) < 22:  # 22 base64 chars = 128 bits
            raise InvalidLink()
        return token_hash(purpose, nonce)

    def url_for(self, purpose: str, token: str, next_path: str | None = None) -> str:
        """The absolute URL of the confirm page for `token`."""
        url = f"{self.public_url}/link/{URL_SEGMENTS[purpose]}/{quote(token, safe='')}"
        safe = safe_next_path(next_path)
        return f"{url}?{urlencode({'next': safe})}" if safe else url


def token_hash(purpose: str, nonce: str) -> str:
    """SHA-256 over the purpose and the random part: what the database keeps instead."""
    return hashlib.sha256(f"{purpose}:{nonce}".encode()).hexdigest()


