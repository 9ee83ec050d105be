"""The cache Redis, and the one way to cache figures computed on a miss (``cached``).

What goes here may be lost at any time: the analytics dashboard (app/services/analytics.py), the
published indicators (app/services/indicators.py) and the operations dashboard's per-kind
statistics (app/services/ops/runs.py) — each recomputed from PostgreSQL on a miss. They go to
``CACHE_REDIS_URL`` when it is set, a Redis that may evict (allkeys-lru and a maxmemory suit it);
otherwise to the queue's. What must not be lost stays on the queue's Redis (REDIS_URL, noeviction,
checked at start by app/queue.py): the arq queue and its job keys, HTTP sessions, rate limits, job
progress and its claims, the cron notes.

Single flight: on a miss, one process computes (it holds ``<key>:computing``, a lock with a TTL)
and the others — other requests, other web processes, other hosts — poll the key until the figures
are there, instead of all running the same heavy query at once. If the one computing dies, its lock
expires after ``lock_ttl`` and a waiting process takes over; a waiter that has waited ``lock_ttl``
twice over computes itself (late figures rather than a page that never answers).

A cache Redis that is down or full is not an error of the page: the figures are computed and shown,
not cached.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.queue import timeouts
from app.settings import get_settings

log = logging.getLogger(__name__)

LOCK_TTL = 30  # seconds: longer than any compute of these figures (analytics at 10x: ~2 s)
# A waiter polls the key soon, then every 100 ms (a GET, cheap): the figures reach it 100 ms late at most.
FIRST_POLL, LAST_POLL = 0.02, 0.1

# Deletes the lock only if it is still ours (it may have expired and been taken by another).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


async def connect(queue_redis):
    """The cache's client: a client of CACHE_REDIS_URL, or the queue's own when it is not set."""
    url = get_settings().redis.cache_url
    if not url:
        return queue_redis
    return Redis.from_url(url, **timeouts())


async def close(cache, queue_redis) -> None:
    if cache is not None and cache is not queue_redis:
        await cache.aclose()


async def _read(redis, key: str):
    try:
        raw = await redis.get(key)
    except RedisError as error:
        log.warning("cache unavailable, computing %s: %s", key, error)
        return None
    return json.loads(raw) if raw else None


async def _write(redis, key: str, value, ttl: int) -> None:
    try:
        await redis.set(key, json.dumps(value), ex=ttl)
    except RedisError as error:  # down, or full under noeviction: the figures are shown anyway
        log.warning("cache unavailable, %s not kept: %s", key, error)


async def _lock(redis, lock: str, token: str, ttl: int) -> bool | None:
    """True when taken, False when another holds it, None when the cache does not answer."""
    try:
        return bool(await redis.set(lock, token, nx=True, ex=ttl))
    except RedisError:
        return None


async def _release(redis, lock: str, token: str) -> None:
    try:
        await redis.eval(_RELEASE, 1, lock, token)
    except RedisError:
        pass  # it expires


async def _computed_by_us(redis, key, lock, token, ttl, compute, fresh: bool) -> tuple[object, bool]:
    try:
        if not fresh:  # another may have finished between our miss and our lock
            hit = await _read(redis, key)
            if hit is not None:
                return hit, True
        value = await compute()
        await _write(redis, key, value, ttl)
        return value, False
    finally:
        await _release(redis, lock, token)


async def _waited(redis, key: str, lock: str, fresh: bool):
    """What another process computed: the key (fresh: once its lock is released, the key then
    written), or None while it still computes."""
    if not fresh:
        return await _read(redis, key)
    try:
        if await redis.exists(lock):
            return None
    except RedisError:
        return None
    return await _read(redis, key)


async def cached(redis, key: str, ttl: int, compute: Callable[[], Awaitable], *, fresh: bool = False,
                 lock_ttl: int = LOCK_TTL) -> tuple[object, bool]:
    """(value, from_cache): the JSON value at ``key``, or ``await compute()`` kept there for ``ttl``
    seconds — computed by one process at a time (see the module). ``fresh``: compute again even on a
    hit (a refresh job); a request missing meanwhile waits for it."""
    if redis is None:
        return await compute(), False
    if not fresh:
        hit = await _read(redis, key)
        if hit is not None:
            return hit, True
    lock, token = f"{key}:computing", secrets.token_hex(8)
    deadline, pause = time.monotonic() + 2 * lock_ttl, FIRST_POLL
    while time.monotonic() < deadline:
        taken = await _lock(redis, lock, token, lock_ttl)
        if taken is None:  # the cache does not answer: compute, keep nothing
            return await compute(), False
        if taken:
            return await _computed_by_us(redis, key, lock, token, ttl, compute, fresh)
        await asyncio.sleep(pause)
        pause = min(pause * 2, LAST_POLL)
        hit = await _waited(redis, key, lock, fresh)
        if hit is not None:
            return hit, True
    log.warning("waited %s s for %s computed elsewhere: computing it here", 2 * lock_ttl, key)
    value = await compute()
    await _write(redis, key, value, ttl)
    return value, False
