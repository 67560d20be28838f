"""Random public identifiers (URLs never expose sequential database ids) and the session
tokens that cookies carry, kept on the server only as their hash."""

import hashlib
import secrets


def new_public_id() -> str:
    # 96 random bits, URL-safe, 16 characters.
    return secrets.token_urlsafe(12)


def new_session_token() -> str:
    # 256 random bits: what a session cookie names its server-side row by.
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the server keeps of a session token: its SHA-256, so a leaked table opens nothing."""
    return hashlib.sha256(token.encode()).hexdigest()
