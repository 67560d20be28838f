"""Rate limits for "send me a sign-in link" (A5), on the database and on Redis."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest

import redis
from sqlalchemy import func, select

from portal.domain.access.models import RateLimitHit
from portal.domain.access.rate_limits import (
    DatabaseRateLimiter, Limit, RedisRateLimiter, allow_all, build_rate_limiter, hashed_bucket, sign_in_link_limits,
)

WINDOW = timedelta(minutes=15)


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client):
    prefix = f"portal-test:{uuid.uuid4().hex}:"
    yield prefix
    for key in redis_client.scan_iter(match=prefix + "*"):
        redis_client.delete(key)


@pytest.fixture(params=["database", "redis"])
def limiter(request, session_factory, clock):
    if request.param == "database":
        return DatabaseRateLimiter(session_factory, clock)
    client = request.getfixturevalue("redis_client")
    return RedisRateLimiter(client, clock, key_prefix=request.getfixturevalue("redis_prefix"))


def test_three_per_window_then_refused_until_the_window_slides(limiter, clock):
    assert [limiter.allow("b", limit=3, window=WINDOW) for _ in range(4)] == [True, True, True, False]
    clock.advance(minutes=14, seconds=59)
    assert limiter.allow("b", limit=3, window=WINDOW) is False
    clock.advance(seconds=1)  # the first three hits are exactly 15 minutes old now
    assert [limiter.allow("b", limit=3, window=WINDOW) for _ in range(4)] == [True, True, True, False]


def test_refused_attempts_are_not_counted(limiter, clock):
    for _ in range(3):
        limiter.allow("b", limit=3, window=WINDOW)
    clock.advance(minutes=5)
    for _ in range(10):
        assert limiter.allow("b", limit=3, window=WINDOW) is False
    clock.advance(minutes=10)  # only the three allowed hits were counted, and they expired
    assert limiter.allow("b", limit=3, window=WINDOW) is True


def test_buckets_are_independent(limiter):
    for _ in range(3):
        assert limiter.allow("one", limit=3, window=WINDOW)
    assert limiter.allow("one", limit=3, window=WINDOW) is False
    assert limiter.allow("two", limit=3, window=WINDOW) is True


def test_allow_all_stops_at_the_first_refusal(limiter):
    tight, loose = Limit("tight", 1, WINDOW), Limit("loose", 5, WINDOW)
    assert allow_all(limiter, [tight, loose]) is True
    assert allow_all(limiter, [tight, loose]) is False
    # The refused attempt did not count against `loose`: 4 remain of 5.
    assert [limiter.allow("loose", limit=5, window=WINDOW) for _ in range(5)] == [True] * 4 + [False]


def test_sign_in_link_limits_are_per_address_and_per_ip(settings):
    limits = sign_in_link_limits(settings, email="ap@acme.example", ip="203.0.113.7")
    assert [(item.limit, item.window) for item in limits] == [(20, WINDOW), (3, WINDOW)]
    assert limits[0].bucket == "sign-in-link:ip:203.0.113.7"
    assert limits[1].bucket == hashed_bucket("sign-in-link:email", "ap@acme.example")
    assert "acme" not in limits[1].bucket  # no address stored in the table or in Redis


def test_the_database_limiter_prunes_a_buckets_old_hits(session_factory, clock, db):
    limiter = DatabaseRateLimiter(session_factory, clock)
    for _ in range(3):
        limiter.allow("b", limit=3, window=WINDOW)
    clock.advance(minutes=20)
    limiter.allow("b", limit=3, window=WINDOW)
    assert db.scalar(select(func.count()).select_from(RateLimitHit)) == 1


def test_concurrent_requests_never_exceed_the_limit(session_factory, clock):
    """Ten requests at once for the same bucket: exactly three pass (advisory lock on
    PostgreSQL, the database write lock on SQLite)."""
    limiter = DatabaseRateLimiter(session_factory, clock)
    barrier = threading.Barrier(10)
    results: list[bool] = []

    def attempt():
        barrier.wait()
        results.append(limiter.allow("race", limit=3, window=WINDOW))

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True] * 3


def test_build_rate_limiter_uses_redis_when_configured(settings, session_factory, clock, redis_client, redis_url):
    assert isinstance(build_rate_limiter(settings, session_factory, clock), DatabaseRateLimiter)
    with_redis = settings.with_changes(redis_url=redis_url)
    limiter = build_rate_limiter(with_redis, session_factory, clock)
    assert isinstance(limiter, RedisRateLimiter)
    bucket = f"build-test:{uuid.uuid4().hex}"
    try:
        assert limiter.allow(bucket, limit=1, window=WINDOW) is True
        assert limiter.allow(bucket, limit=1, window=WINDOW) is False
        assert redis_client.ttl(limiter.key(bucket)) == 15 * 60
    finally:
        redis_client.delete(limiter.key(bucket))
