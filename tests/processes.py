"""Real processes in tests (a `tremplin worker`, arq's own command): started with the test's own
environment (the same DATABASE_URL, REDIS_URL and QUEUE_NAME) plus overrides, their output in a
log under the test run's temporary folder, stopped as an operator would (SIGINT)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
from arq import create_pool
from arq.connections import RedisSettings

from app.settings import get_settings
from tests.conftest import ROOT, TMP, free_port

WORKER = [sys.executable, "-m", "app.cli", "worker"]


def start(command: list[str], log_name: str, **env) -> tuple[subprocess.Popen, object]:
    log = open(TMP / log_name, "w")
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **{k: str(v) for k, v in env.items()}},
                               stdout=log, stderr=subprocess.STDOUT)
    return process, log


def stop(process: subprocess.Popen, log) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log.close()


async def until(check, what: str, log_name: str | None = None, timeout: float = 90):
    """``await check()`` until it gives something true; else fail with the end of the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.2)
    log = (TMP / log_name).read_text()[-4000:] if log_name else ""
    raise AssertionError(f"{what}: not done in {timeout} s\n{log}")


class RedisServer:
    """A redis-server of the test's own, on a free port, without persistence (stopping it loses
    everything it held, as a crashed Redis would), started with ``args`` more (e.g.
    ``"--maxmemory-policy", "allkeys-lru"``)."""

    def __init__(self, *args: str):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.args = args
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(TMP), *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    async def pool(self):
        settings = RedisSettings(host="127.0.0.1", port=self.port, conn_retries=0, conn_timeout=1)
        return await create_pool(settings, default_queue_name=get_settings().redis.queue_name)


SERVE = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]


async def serve(log_name: str, **env) -> tuple[subprocess.Popen, object, str]:
    """A `tremplin serve` on a free port, once its /healthz answers: (process, log, its base URL)."""
    port = free_port()
    process, log = start([*SERVE, "--port", str(port)], log_name, **env)
    url = f"http://127.0.0.1:{port}"

    async def healthy():
        assert process.poll() is None, (TMP / log_name).read_text()[-4000:]
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(url + "/healthz", timeout=1)).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await until(healthy, "tremplin serve answering /healthz", log_name, timeout=60)
    except BaseException:
        stop(process, log)
        raise
    return process, log, url
