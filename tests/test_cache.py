"""The cache (issue 24, points 2 and 3): figures computed on a miss by one process while the others
wait for them — across real separate processes, and taken over when the one computing dies; the
caches on a Redis of their own (CACHE_REDIS_URL), which may evict or be down without the pages
failing, while sessions and the queue stay on the queue's Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest
from redis.asyncio import Redis

from app import cache
from app.asgi import create_app
from app.services import analytics
from app.services.scope import Scope
from app.settings import get_settings
from tests import processes
from tests.conftest import REDIS_URL, ROOT, _http_client
from tests.controllers.test_analytics import _dataset, _figures
from tests.helpers import login

KEY, COMPUTED, READY, GO = "test:figures", "test:computed", "test:ready", "test:go"

# One process of the test: says it is ready, waits for the go (so that all miss at once), then asks
# for the figures; its compute counts itself in Redis and takes a while (a heavy query). It prints
# what it got and whether it came from the cache. argv: lock TTL, seconds the compute takes.
PROCESS = f"""
import asyncio, json, os, sys
from redis.asyncio import Redis
from app import cache

async def main():
    redis = Redis.from_url(os.environ["REDIS_URL"])
    async def compute():
        await redis.incr("{COMPUTED}")
        await asyncio.sleep(float(sys.argv[2]))
        return {{"figure": 42, "by": os.getpid()}}
    await redis.incr("{READY}")
    while not await redis.exists("{GO}"):
        await asyncio.sleep(0.01)
    value, hit = await cache.cached(redis, "{KEY}", 60, compute, lock_ttl=int(sys.argv[1]))
    print(json.dumps({{"value": value, "hit": hit}}), flush=True)

asyncio.run(main())
"""


def _spawn(n: int, lock_ttl: int, compute_seconds: float) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", PROCESS, str(lock_ttl), str(compute_seconds)], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
            for _ in range(n)]


async def _all_ready(redis_client, n: int) -> None:
    async def ready():
        return int(await redis_client.get(READY) or 0) == n

    await processes.until(ready, f"{n} processes ready", timeout=60)


async def test_concurrent_misses_in_separate_processes_compute_once(clean, redis_client):
    n = 6
    spawned = _spawn(n, lock_ttl=30, compute_seconds=1.0)
    await _all_ready(redis_client, n)
    await redis_client.set(GO, "1")
    answers = [json.loads(p.communicate(timeout=60)[0]) for p in spawned]
    assert all(p.returncode == 0 for p in spawned)
    assert int(await redis_client.get(COMPUTED)) == 1  # one compute for six misses
    computer = {a["value"]["by"] for a in answers}
    assert len(computer) == 1 and all(a["value"]["figure"] == 42 for a in answers)  # all got its figures
    assert sorted(a["hit"] for a in answers) == [False] + [True] * (n - 1)


async def test_when_the_process_computing_dies_another_takes_over_once(clean, redis_client):
    """The one computing is SIGKILLed in the middle: its lock expires (TTL 1 s) and, of the two that
    wait, one computes and the other gets its figures — not both, not never."""
    dying = _spawn(1, lock_ttl=1, compute_seconds=3600)[0]
    await _all_ready(redis_client, 1)
    await redis_client.set(GO, "1")

    async def computing():
        return await redis_client.get(COMPUTED)

    await processes.until(computing, "the first process computing")
    dying.send_signal(signal.SIGKILL)
    dying.wait(timeout=10)
    waiting = [Redis.from_url(REDIS_URL) for _ in range(2)]
    try:
        async def ask(redis):
            async def compute():
                await redis.incr(COMPUTED)
                return {"figure": 7}
            return await cache.cached(redis, KEY, 60, compute, lock_ttl=1)

        answers = await asyncio.gather(*(ask(r) for r in waiting))
    finally:
        for redis in waiting:
            await redis.aclose()
    assert [value for value, _ in answers] == [{"figure": 7}] * 2
    assert int(await redis_client.get(COMPUTED)) == 2  # the dead one's start, then one take-over
    assert sorted(hit for _, hit in answers) == [False, True]


async def test_the_analytics_dashboard_is_computed_once_for_simultaneous_misses(demo, redis_client):
    """Five requests (each its own connection, as five web processes) miss the network's dashboard at
    once: one computes, the four others show the same figures, computed at the same instant."""
    await _dataset()
    everything = Scope(everything=True, establishment_ids=frozenset(), delegation_ids=frozenset())
    clients = [Redis.from_url(REDIS_URL) for _ in range(5)]
    try:
        results = await asyncio.gather(*(analytics.dashboard(c, everything, analytics.Filters()) for c in clients))
    finally:
        for c in clients:
            await c.aclose()
    assert len({r["computed_at"] for r in results}) == 1
    assert sorted(r["cached"] for r in results) == [False] + [True] * 4
    assert {r["totals"]["enrolled_count"] for r in results} == {9}


@pytest.fixture
async def own_cache_app(database, settings_env):
    """The app started with CACHE_REDIS_URL on a redis-server of the test's own (allkeys-lru: the
    cache's may evict) — and that server, to look into or stop."""
    server = processes.RedisServer("--maxmemory", "32mb", "--maxmemory-policy", "allkeys-lru")
    server.start()
    settings_env(CACHE_REDIS_URL=server.url)
    application = create_app(run_worker=False)
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan():  # entered and left by the same task (its task group)
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await started.wait()
    yield application, server
    stop.set()
    await task
    server.stop()


async def test_caches_go_to_the_cache_redis_and_sessions_stay_on_the_queues(own_cache_app, demo, redis_client):
    application, server = own_cache_app
    await _dataset()
    async with _http_client(application) as client:
        await login(client, "admin")
        assert _figures((await client.get("/analytique")).text)["Inscrits"] == "9"
        assert (await client.get("/ops")).status_code == 200
        assert (await client.get("/indicateurs/T1")).status_code == 200
    cache_redis = Redis.from_url(server.url)
    try:
        in_cache = {k.decode() async for k in cache_redis.scan_iter()}
    finally:
        await cache_redis.aclose()
    in_queue = {k.decode() async for k in redis_client.scan_iter()}
    assert any(k.startswith(analytics.CACHE_PREFIX) for k in in_cache), in_cache
    assert any(k.startswith("indicators:") for k in in_cache), in_cache
    assert f"{get_settings().redis.queue_name}:ops:kind-stats" in in_cache
    assert not any(k.startswith((analytics.CACHE_PREFIX, "indicators:")) or k.endswith(":ops:kind-stats")
                   for k in in_queue), in_queue
    assert any(k.startswith("tremplin:sessions") for k in in_queue), in_queue  # the HTTP session: the queue's Redis
    assert not any(k.startswith("tremplin:sessions") for k in in_cache), in_cache


async def test_pages_still_show_their_figures_when_the_cache_redis_is_down(own_cache_app, demo):
    application, server = own_cache_app
    await _dataset()
    server.stop()
    async with _http_client(application) as client:
        await login(client, "admin")
        for _ in range(2):  # nothing was kept: computed each time
            response = await client.get("/analytique")
            assert response.status_code == 200 and _figures(response.text)["Inscrits"] == "9"
        assert (await client.get("/ops")).status_code == 200
        assert (await client.get("/indicateurs/T1")).status_code == 200


async def test_a_refresh_recomputes_a_hit_and_a_miss_meanwhile_waits_for_it(clean, redis_client):
    """The cron's refresh (``fresh``) computes even over a kept value; a request that misses while it
    computes gets the refreshed figures instead of computing them a second time."""
    await redis_client.set(KEY, json.dumps({"figure": 1}))
    computing, release = asyncio.Event(), asyncio.Event()
    runs = []

    async def compute():
        runs.append(1)
        computing.set()
        await release.wait()
        return {"figure": 2}

    refresh = asyncio.create_task(cache.cached(redis_client, KEY, 60, compute, fresh=True))
    await computing.wait()
    await redis_client.delete(KEY)  # expired meanwhile: the request misses
    other = Redis.from_url(REDIS_URL)
    try:
        request = asyncio.create_task(cache.cached(other, KEY, 60, compute))
        await asyncio.sleep(0.3)  # the request is waiting, not computing
        assert len(runs) == 1 and not request.done()
        release.set()
        assert await refresh == ({"figure": 2}, False)
        assert await request == ({"figure": 2}, True)
    finally:
        await other.aclose()
    assert len(runs) == 1
