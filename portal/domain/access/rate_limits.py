"""Sliding-window rate limits, shared by every web process (SECURITY.md A5).

Two stores behind one interface: Redis when `REDIS_URL` is set (many machines), otherwise the
`rate_limit_hits` table (one machine, or a few sharing PostgreSQL). Both count only allowed
attempts, so a flood never locks an address out for longer than the window itself.

Time comes from the injected clock, so tests can move through a window without sleeping.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.core.clock import Clock
from portal.domain.access.models import RateLimitHit


class RateLimiter(Protocol):
    def allow(self, bucket: str, *, limit: int, window: timedelta) -> bool:
        """Count one attempt in `bucket` and say whether it is within `limit` per `window`.

        A refused attempt is not counted.
        """


@dataclass(frozen=True)
class Limit:
    """`limit` attempts per `window` in one bucket."""

    bucket: str
    limit: int
    window: timedelta


def allow_all(limiter: RateLimiter, limits: list[Limit]) -> bool:
    """True when every limit allows the attempt. Stops at the first refusal, so an attempt
    refused by the first limit is not counted against the later ones."""
    return all(limiter.allow(item.bucket, limit=item.limit, window=item.window) for item in limits)


def hashed_bucket(kind: str, value: str) -> str:
    """A bucket name that does not store the value itself (an email address is PII)."""
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def sign_in_link_limits(settings, *, email: str, ip: str) -> list[Limit]:
    """Requests for a sign-in link: 3 per 15 minutes per address, and a looser cap per IP
    so one client cannot walk through many addresses. The IP is checked first."""
    window = timedelta(seconds=settings.link_request_window_seconds)
    return [
        Limit(f"sign-in-link:ip:{ip or 'unknown'}", settings.ip_requests_per_window, window),
        Limit(hashed_bucket("sign-in-link:email", email), settings.link_requests_per_window, window),
    ]


class DatabaseRateLimiter:
    """Hits as rows in `rate_limit_hits`, in a transaction of their own.

    The check and the insert must not interleave between two requests for the same bucket,
    or both could see "2 of 3" and both pass. PostgreSQL: a transaction-scoped advisory lock
    on the bucket. SQLite: the first statement is a DELETE (pruning the bucket's old hits),
    which takes the database write lock before the count.
    """

    def __init__(self, session_factory: sessionmaker[Session], clock: Clock) -> None:
        self._session_factory = session_factory
        self._clock = clock

    def allow(self, bucket: str, *, limit: int, window: timedelta) -> bool:
        now = self._clock.now()
        with self._session_factory() as db, db.begin():
            if db.get_bind().dialect.name == "postgresql":
                key = int.from_bytes(hashlib.sha256(bucket.encode()).digest()[:8], "big", signed=True)
                db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            db.execute(delete(RateLimitHit).where(RateLimitHit.bucket == bucket, RateLimitHit.at <= now - window))
            count = db.scalar(select(func.count()).select_from(RateLimitHit).where(RateLimitHit.bucket == bucket))
            if count >= limit:
                return False
            db.add(RateLimitHit(bucket=bucket, at=now))
        return True


# Atomic in Redis: drop hits older than the window, count, add this one if under the limit.
_SLIDING_WINDOW_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
    return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class RedisRateLimiter:
    """Hits as members of a sorted set per bucket, scored by time in milliseconds."""

    def __init__(self, client, clock: Clock, key_prefix: str = "portal:rate:") -> None:
        self._client = client
        self._clock = clock
        self._prefix = key_prefix
        self._script = client.register_script(_SLIDING_WINDOW_SCRIPT)

    @classmethod
    def from_url(cls, url: str, clock: Clock, key_prefix: str = "portal:rate:") -> RedisRateLimiter:
        import redis

        return cls(redis.Redis.from_url(url), clock, key_prefix)

    def key(self, bucket: str) -> str:
        return self._prefix + bucket

    def allow(self, bucket: str, *, limit: int, window: timedelta) -> bool:
        now_ms = int(self._clock.now().timestamp() * 1000)
        window_ms = int(window.total_seconds() * 1000)
        member = f"{now_ms}:{secrets.token_hex(6)}"
        return bool(self._script(keys=[self.key(bucket)], args=[now_ms, window_ms, limit, member]))


def build_rate_limiter(settings, session_factory: sessionmaker[Session], clock: Clock) -> RateLimiter:
    """Redis when `settings.redis_url` is set, else the database."""
    if settings.redis_url:
        return RedisRateLimiter.from_url(settings.redis_url, clock)
    return DatabaseRateLimiter(session_factory, clock)
