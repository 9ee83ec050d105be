"""The production layout on one machine, for the benches (bench/multi_host.py): PostgreSQL through a
PgBouncer in transaction mode (tests/pgbouncer.py), several `tremplin serve` processes each on its
own port, several `tremplin worker` processes, Redis, and a real SMTP server (aiosmtpd) that keeps
every message it receives — and an operator's moves on it: SIGKILL a worker, restart a web process.

The processes get the bench's environment (bench/_setup.py: its database, Redis, queue) with the
database URL through PgBouncer (DB_PGBOUNCER=1: no named prepared statements) and a small pool per
process (DB_POOL_MAX), as README « Running at scale » sizes it. Their output goes to logs under the
bench's var folder, whose end is shown when one of them fails to start.

The HTTP client a bench uses goes through ``Balancer``: requests alternate between the web processes,
and a request whose connection is refused (a process restarting) goes to the next one — what a load
balancer does with a host that is down. Nothing else is retried: a 5xx or a connection lost after a
request was sent is an error the bench counts.
"""

from __future__ import annotations

import asyncio
import ctypes
import email
import email.policy
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import _setup

from tests.pgbouncer import start_pgbouncer


def _die_with_parent() -> None:
    # A bench killed (a test's timeout) must not leave its servers and workers running.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailSink:
    """A real SMTP server on 127.0.0.1 that keeps what it receives: how many times each outbox row
    (its X-Tremplin-Mail-Id header) arrived, and each recipient's bodies (the links a person follows).

    It runs in a thread of the bench's own process, which also plays every visitor: on its thread only
    the headers are read (email's full parse with the default policy took 3 ms of CPU a message, under
    the GIL, 20 s of a full run's 7,000 mails); a recipient's text bodies are read when asked for."""

    def __init__(self, port: int):
        self.port = port
        self.received: Counter = Counter()  # outbox row id -> deliveries
        self._raw: dict[str, list[bytes]] = defaultdict(list)  # recipient -> messages, in order
        self._bodies: dict[str, list[str]] = {}  # recipient -> text bodies, of the messages read so far
        self._lock = threading.Lock()
        self._controller = None

    def start(self) -> None:
        from email.parser import BytesHeaderParser

        from aiosmtpd.controller import Controller

        sink = self
        headers = BytesHeaderParser()

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                raw = envelope.original_content or envelope.content
                mail_id = headers.parsebytes(raw)["X-Tremplin-Mail-Id"]
                with sink._lock:
                    sink.received[int(mail_id or 0)] += 1
                    for address in envelope.rcpt_tos:
                        sink._raw[address.lower()].append(raw)
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def bodies_of(self, address: str) -> list[str]:
        address = address.lower()
        with self._lock:
            raw = list(self._raw.get(address, ()))
        bodies = self._bodies.setdefault(address, [])
        for message in raw[len(bodies):]:
            parsed = email.message_from_bytes(message, policy=email.policy.default)
            body = parsed.get_body(("plain",))
            bodies.append(body.get_content() if body is not None else "")
        return list(bodies)

    def deliveries(self) -> Counter:
        with self._lock:
            return Counter(self.received)

    def messages_to(self) -> dict[str, int]:
        """How many messages each recipient received."""
        with self._lock:
            return {address: len(messages) for address, messages in self._raw.items()}


_SSL_CONTEXT = None


def http_client(**options):
    """An httpx.AsyncClient sharing one SSL context: httpx makes one per client otherwise (the
    certificates loaded again), 45 ms of CPU each on this machine — 45 s of the bench's own process
    for a thousand visitors, on the cores the servers need."""
    import ssl

    import httpx

    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context()
    return httpx.AsyncClient(verify=_SSL_CONTEXT, **options)


class Cluster:
    """``web`` × `tremplin serve` (one HTTP process each, on ``ports``), ``workers`` × `tremplin worker`,
    PgBouncer, the SMTP sink. ``env``: settings for every process (on top of the bench's own)."""

    def __init__(self, folder: Path, web: int = 2, workers: int = 2, ports: list[int] | None = None,
                 smtp_port: int | None = None, env: dict | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ports = ports or [free_port() for _ in range(web)]
        self.mail = MailSink(smtp_port or free_port())
        self.extra_env = env or {}
        self.bouncer = None
        self.web: list[subprocess.Popen | None] = [None] * len(self.ports)
        self.workers: list[subprocess.Popen | None] = [None] * workers
        self._logs: list = []

    # -- the processes -----------------------------------------------------------------------------
    def env(self) -> dict:
        return {
            **os.environ,
            "DATABASE_URL": self.bouncer.url, "DB_PGBOUNCER": "1", "DB_POOL_MAX": "5",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.mail.port),
            "BASE_URL": f"http://127.0.0.1:{self.ports[0]}",
            # Every visitor's own address through the proxy header, as behind the load balancer.
            "FORWARDED_ALLOW_IPS": "127.0.0.1", "LOGIN_MAX_FAILURES_IP": "100000",
            **{k: str(v) for k, v in self.extra_env.items()},
        }

    def _start(self, command: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.folder / log_name, "a")
        self._logs.append(log)
        return subprocess.Popen(command, cwd=_setup.ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)

    def start_web(self, i: int) -> None:
        self.web[i] = self._start([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port",
                                   str(self.ports[i]), "--workers", "1"], f"web{i}.log")

    def start_worker(self, i: int) -> None:
        self.workers[i] = self._start([sys.executable, "-m", "app.cli", "worker"], f"worker{i}.log")

    def log_tail(self, log_name: str, size: int = 3000) -> str:
        path = self.folder / log_name
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    async def start(self) -> None:
        self.bouncer = start_pgbouncer(self.folder / "pgbouncer", os.environ["DATABASE_URL"])
        self.mail.start()
        for i in range(len(self.web)):
            self.start_web(i)
        for i in range(len(self.workers)):
            self.start_worker(i)
        for i in range(len(self.web)):
            await self.wait_healthy(i)

    async def wait_healthy(self, i: int, timeout: float = 600) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        last = "no answer"
        async with httpx.AsyncClient(timeout=10) as probe:
            while time.monotonic() < deadline:
                if self.web[i].poll() is not None:
                    last = f"exited with {self.web[i].returncode}"
                    break
                try:
                    response = await probe.get(f"http://127.0.0.1:{self.ports[i]}/healthz")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code} {response.text[:300]}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__} {exc}"
                await asyncio.sleep(0.2)
        raise _setup.BenchFailed(f"tremplin serve on port {self.ports[i]} did not answer /healthz ({last}):\n"
                                 f"{self.log_tail(f'web{i}.log')}")

    def kill_worker(self, i: int) -> int:
        """SIGKILL: the worker dies at once, whatever it holds (a job half done, a mail being sent)."""
        process = self.workers[i]
        process.send_signal(signal.SIGKILL)
        process.wait()
        return process.pid

    async def restart_web(self, i: int) -> tuple[float, float]:
        """Stop a web process as a deployment does (SIGTERM: uvicorn finishes the requests under way),
        start it again on its port; returns how long it took to stop, and to answer again."""
        t0 = time.perf_counter()
        process = self.web[i]
        process.terminate()
        await asyncio.to_thread(process.wait, 60)
        stopped = time.perf_counter()
        self.start_web(i)
        await self.wait_healthy(i)
        return stopped - t0, time.perf_counter() - stopped

    def memory_mb(self) -> dict[str, float]:
        """Resident memory of each live web and worker process, with its children (a worker's render
        pool), in MB."""
        import psutil

        figures = {}
        for kind, processes in (("web", self.web), ("worker", self.workers)):
            for i, process in enumerate(processes):
                if process is None or process.poll() is not None:
                    continue
                total = 0
                try:
                    root = psutil.Process(process.pid)
                    for p in [root, *root.children(recursive=True)]:
                        try:
                            total += p.memory_info().rss
                        except psutil.Error:
                            pass
                except psutil.Error:
                    continue
                figures[f"{kind}{i}"] = total / 1_048_576
        return figures

    def workers_alive(self) -> list[int]:
        return [p.pid for p in self.workers if p is not None and p.poll() is None]

    def stop(self) -> None:
        for process in [*self.web, *self.workers]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT if process in self.workers else signal.SIGTERM)
        for process in [*self.web, *self.workers]:
            if process is not None:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.mail.stop()
        if self.bouncer is not None:
            self.bouncer.stop()
        for log in self._logs:
            log.close()


class Unexpected(Exception):
    """An answer the bench did not expect, already in ``Balancer.errors``."""


class Balancer:
    """The base URLs of the web processes, taken in turn; ``request`` sends to the next one and moves on
    to the following when the connection is refused (that process is restarting). ``latencies``: the
    seconds of each request by route; ``errors``: what went wrong (a 5xx, an unexpected status, a
    connection lost after the request was sent)."""

    def __init__(self, ports: list[int]):
        self.bases = [f"http://127.0.0.1:{port}" for port in ports]
        self._turn = itertools.count()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.rerouted = 0
        self.drained: set[str] = set()  # taken out of the rotation (a deployment restarting them)

    async def request(self, client, method: str, path: str, route: str | None, expect=(200,), **kwargs):
        """``route`` None: not timed; ``expect`` None: any status (the caller checks)."""
        import httpx

        start = next(self._turn)
        for attempt in range(len(self.bases) * 10):
            base = self.bases[(start + attempt) % len(self.bases)]
            if base in self.drained and len(self.drained) < len(self.bases):
                continue
            t0 = time.perf_counter()
            try:
                response = await client.request(method, base + path, **kwargs)
            except httpx.ConnectError:
                self.rerouted += 1
                if attempt % len(self.bases) == len(self.bases) - 1:
                    await asyncio.sleep(0.5)  # every process refused: wait for one to be back
                continue
            except httpx.HTTPError as exc:
                self.errors.append(f"{route}: {type(exc).__name__} {exc}")
                raise Unexpected(self.errors[-1]) from exc
            if route is not None:
                self.latencies[route].append(time.perf_counter() - t0)
            if expect is not None and response.status_code not in expect:
                self.errors.append(f"{route}: HTTP {response.status_code} {response.text[:300]!r}")
                raise Unexpected(self.errors[-1])
            return response
        self.errors.append(f"{route}: no web process accepted the connection")
        raise Unexpected(self.errors[-1])

    def report(self, elapsed: float) -> list[str]:
        lines = []
        for route, values in sorted(self.latencies.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"  {route:<44} {len(values):>6} req  {len(values) / elapsed:>6.1f}/s  "
                         f"p50 {_setup.percentile(values, 50) * 1000:>5.0f} ms  "
                         f"p95 {_setup.percentile(values, 95) * 1000:>5.0f} ms  max {max(values) * 1000:>5.0f} ms")
        return lines


class BalancedClient:
    """One visitor (their cookies) whose requests go through the balancer: what bench code written
    for an ``httpx.AsyncClient(base_url=…)`` calls (``get``, ``post``, ``cookies``) — it checks the
    statuses and times the requests itself."""

    def __init__(self, balancer: Balancer, **client_options):
        import httpx

        self.balancer = balancer
        # A connection per request: on a loaded machine the bench's own loop may take longer than
        # uvicorn's keep-alive (5 s) to send a visitor's next request, and a request written on a
        # connection the server is closing fails (ReadError) — the bench's artefact, not the app's.
        self.client = http_client(timeout=120, limits=httpx.Limits(max_keepalive_connections=0), **client_options)
        self.cookies = self.client.cookies

    async def get(self, path: str, **kwargs):
        return await self.balancer.request(self.client, "GET", path, None, None, **kwargs)

    async def post(self, path: str, **kwargs):
        return await self.balancer.request(self.client, "POST", path, None, None, **kwargs)

    async def aclose(self) -> None:
        await self.client.aclose()
