"""Making, revoking and checking API keys. Every change is audited; checking a key writes only
its `last_used_at`, at most once a minute, in a transaction of its own (`touch_last_used`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.domain.apikeys.models import MAX_NAME_LENGTH, ApiKey
from portal.domain.apikeys.policy import SCOPES, clean_scopes, new_key_secret, secret_matches, split_key
from portal.domain.core.audit import record
from portal.domain.core.context import Context
from portal.domain.core.errors import DomainError, NotFound
from portal.domain.imports.policy import has_control_characters

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyRefused(DomainError):
    """No key, a key in the wrong shape, an unknown or wrong secret, or a revoked key."""


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    plaintext: str  # to show once; it cannot be read again


def create_api_key(ctx: Context, *, staff_id: int, name: str, scopes: list[str]) -> CreatedKey:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or has_control_characters(name):
        raise DomainError(f"Give the key a name of at most {MAX_NAME_LENGTH} characters (one line).")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise DomainError(f"Unknown scope {unknown[0][:40]!r}.")
    chosen = clean_scopes(scopes)
    if not chosen:
        raise DomainError("Choose at least one scope.")
    secret = new_key_secret()
    key = ApiKey(prefix=secret.prefix, name=name, secret_sha256=secret.secret_sha256, scopes=" ".join(chosen),
                 created_by_staff_id=staff_id, created_at=ctx.clock.now())
    ctx.db.add(key)
    ctx.db.flush()
    record(ctx.db, ctx.clock, ctx.actor, "api_key.created", "api_key", key.prefix,
           after={"name": key.name, "scopes": chosen})
    return CreatedKey(key, secret.plaintext)


def revoke_api_key(ctx: Context, prefix: str) -> ApiKey:
    key = ctx.db.scalar(select(ApiKey).where(ApiKey.prefix == prefix[:20]))
    if key is None:
        raise NotFound("No such API key")
    if key.revoked_at is None:
        key.revoked_at = ctx.clock.now()
        record(ctx.db, ctx.clock, ctx.actor, "api_key.revoked", "api_key", key.prefix, before={"name": key.name})
    return key


@dataclass(frozen=True)
class VerifiedKey:
    id: int
    prefix: str
    scopes: frozenset[str]
    last_used_at: datetime | None


def verify_api_key(db: Session, presented: str) -> VerifiedKey:
    """The key `presented` names, when its secret matches and it is not revoked; otherwise
    `ApiKeyRefused`. An unknown prefix costs the same hash and comparison as a known one."""
    parts = split_key(presented)
    if parts is None:
        raise ApiKeyRefused("The Authorization header does not hold an API key (Bearer erpk_...).")
    prefix, secret = parts
    key = db.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if not secret_matches(secret, key.secret_sha256 if key is not None else None) or key is None:
        raise ApiKeyRefused("The API key is not valid.")
    if key.revoked_at is not None:
        raise ApiKeyRefused("The API key was revoked.")
    return VerifiedKey(key.id, key.prefix, key.scope_set, key.last_used_at)


def last_used_is_stale(key: VerifiedKey, now: datetime) -> bool:
    return key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION


def touch_last_used(db: Session, key_id: int, now: datetime) -> None:
    db.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
