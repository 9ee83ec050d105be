"""The queue's Redis must not evict (issue 24, point 2): a Redis whose maxmemory-policy is anything
but noeviction drops queued jobs, HTTP sessions and rate limits under memory pressure, silently.
`tremplin serve`, the ASGI app's start-up and `tremplin worker` refuse to start on one, saying what to
set; on a noeviction Redis they start. Real redis-servers of the test's own, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest

from app import queue
from app.jobs.worker import build_worker
from tests import processes
from tests.conftest import ROOT, free_port

ADVICE = "Set maxmemory-policy noeviction on it"


@pytest.fixture
def redis_server():
    """``redis_server(*args)``: a redis-server started with those arguments, stopped after the test."""
    started = []

    def start(*args: str) -> processes.RedisServer:
        server = processes.RedisServer(*args)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _run(command: list[str], redis_url: str) -> subprocess.CompletedProcess:
    """A command run to its end (it must stop by itself: it refuses to start)."""
    return subprocess.run(command, cwd=ROOT, env={**os.environ, "REDIS_URL": redis_url}, capture_output=True,
                          text=True, timeout=60)


def test_serve_and_worker_refuse_a_queue_redis_that_evicts(database, redis_server):
    server = redis_server("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    for command in (["serve", "--host", "127.0.0.1", "--port", str(free_port())], ["worker"]):
        done = _run([sys.executable, "-m", "app.cli", *command], server.url)
        assert done.returncode != 0, (command, done.stdout, done.stderr)
        said = done.stdout + done.stderr
        assert "has maxmemory-policy allkeys-lru" in said and ADVICE in said, said
        assert "CACHE_REDIS_URL" in said, said


def test_the_asgi_app_refuses_it_too_when_served_by_another_server(database, redis_server):
    """uvicorn (or any ASGI server) run on create_app directly: the app's lifespan refuses to start,
    the server exits with the same reason in its log."""
    server = redis_server("--maxmemory-policy", "volatile-lru")
    done = _run([sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--port", str(free_port())],
                server.url)
    assert done.returncode != 0, done.stderr
    assert "has maxmemory-policy volatile-lru" in done.stderr and ADVICE in done.stderr, done.stderr


async def test_a_managed_redis_without_config_is_read_through_info(redis_server):
    """A managed Redis often forbids CONFIG: the policy comes from INFO memory."""
    server = redis_server("--rename-command", "CONFIG", "", "--maxmemory-policy", "allkeys-random")
    redis = await server.pool()
    try:
        assert await queue.eviction_policy(redis) == "allkeys-random"
        with pytest.raises(queue.EvictingRedis, match="has maxmemory-policy allkeys-random"):
            await queue.refuse_eviction(redis)
    finally:
        await redis.aclose()


async def test_a_redis_that_answers_neither_config_nor_info_is_let_through_with_a_warning(redis_server, caplog):
    """A hardened ACL (-@dangerous) refuses CONFIG and INFO: nothing tells the policy, so Tremplin
    starts and logs a warning (it crashed with NoPermissionError before the review of issue 24)."""
    server = redis_server("--rename-command", "CONFIG", "", "--rename-command", "INFO", "",
                          "--maxmemory-policy", "allkeys-lru")
    redis = await server.pool()
    try:
        assert await queue.eviction_policy(redis) is None
        await queue.refuse_eviction(redis)
    finally:
        await redis.aclose()


async def test_an_arq_worker_of_tremplin_refuses_it_at_its_start_up(database, redis_server, monkeypatch,
                                                                    settings_env):
    """The worker's own start-up checks too (arq's command, the embedded worker, a restart after an
    outage), not only `tremplin worker`'s first step."""
    server = redis_server("--maxmemory-policy", "allkeys-lfu")
    monkeypatch.setenv("REDIS_URL", server.url)
    settings_env(REDIS_URL=server.url)
    worker = build_worker(burst=True)
    try:
        with pytest.raises(queue.EvictingRedis, match="allkeys-lfu"):
            await worker.main()
    finally:
        await worker.close()


async def test_serve_and_worker_start_on_a_noeviction_redis(database, redis_server):
    server = redis_server("--maxmemory", "64mb", "--maxmemory-policy", "noeviction")
    port = free_port()
    env = {"REDIS_URL": server.url}
    web = processes.start([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                          "noeviction-serve.log", **env)
    worker = processes.start(processes.WORKER, "noeviction-worker.log", **env)
    redis = await server.pool()
    try:
        async def answers():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False

        await processes.until(answers, "tremplin serve on a noeviction Redis", "noeviction-serve.log")
        health = f"{queue.get_settings().redis.queue_name}:health-check"
        await processes.until(lambda: redis.exists(health), "tremplin worker on a noeviction Redis",
                              "noeviction-worker.log")
    finally:
        await redis.aclose()
        processes.stop(*worker)
        processes.stop(*web)
