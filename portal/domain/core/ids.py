"""Random public identifiers: URLs never expose sequential database ids."""

import secrets


def new_public_id() -> str:
    # 96 random bits, URL-safe, 16 characters.
    return secrets.token_urlsafe(12)
