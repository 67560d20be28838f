"""API keys without the database: their format, scopes, hashing and the constant-time check."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from portal.domain.apikeys.models import PREFIX_LENGTH

KEY_MARK = "erpk"
# What each scope lets a key do; a key holds one or more.
SCOPES = {
    "customers:write": "create and update customers and contacts",
    "customers:read": "read customers and contacts",
    "invoices:write": "issue and correct invoices, credit notes and voids",
    "invoices:read": "read invoices and their balances",
    "cash:read": "read the cash rows (payments, credits, refunds) for cash application",
}
MAX_PRESENTED_LENGTH = 120
_KEY = re.compile(rf"{KEY_MARK}_([0-9a-f]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{43}})", re.ASCII)
# Compared against when the prefix is unknown, so a guess takes as long either way.
_NO_KEY_HASH = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True)
class NewSecret:
    prefix: str
    secret_sha256: str
    plaintext: str  # shown once to whoever made it, never stored


def new_key_secret() -> NewSecret:
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    secret = secrets.token_urlsafe(32)  # 256 bits, 43 characters
    return NewSecret(prefix, hash_secret(secret), f"{KEY_MARK}_{prefix}_{secret}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(presented: str) -> tuple[str, str] | None:
    """(prefix, secret) of a key in the right shape; None for anything else. Bounded before
    the pattern runs."""
    if len(presented) > MAX_PRESENTED_LENGTH:
        return None
    match = _KEY.fullmatch(presented)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_sha256: str | None) -> bool:
    """Constant-time comparison of the presented secret's hash with the stored one."""
    expected = stored_sha256 or _NO_KEY_HASH
    matched = hmac.compare_digest(hash_secret(secret).encode(), expected.encode())
    return matched and stored_sha256 is not None


def clean_scopes(scopes: list[str]) -> list[str]:
    """The known scopes among `scopes`, in the table's order."""
    return [scope for scope in SCOPES if scope in set(scopes)]
