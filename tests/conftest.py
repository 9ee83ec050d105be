"""Test set-up: real PostgreSQL (a database made for this run, migrations applied) or SQLite for the
smoke subset (TREMPLIN_TEST_DB=sqlite), real Redis, a real SMTP server (aiosmtpd) on a free port.

The environment is set before anything of the app is imported: settings are read once.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKEND = os.environ.get("TREMPLIN_TEST_DB", "postgres")
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
RUN_ID = uuid.uuid4().hex[:8]
TMP = Path(tempfile.mkdtemp(prefix=f"tremplin-test-{RUN_ID}-"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SMTP_PORT = free_port()
PG_DB = f"tremplin_test_{RUN_ID}"
# A Redis database of its own for each backend, flushed before every test. Two suites running side
# by side (two checkouts) give each its own pair: TEST_REDIS_DB=3 uses 3 (PostgreSQL) and 4 (SQLite).
_REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "13"))
REDIS_URL = f"{REDIS_BASE}/{_REDIS_DB + 1 if BACKEND == 'sqlite' else _REDIS_DB}"

os.environ.update(
    {
        "TREMPLIN_MODE": "test",
        "TREMPLIN_VAR_DIR": str(TMP / "var"),
        "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
        "REDIS_URL": REDIS_URL,
        "QUEUE_NAME": f"tremplin:test:{RUN_ID}",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(SMTP_PORT),
        "SMTP_TIMEOUT": "3",
        "MAIL_RETRY_BASE": "0.2",
        "MAIL_RETRY_CAP": "1",
        "MAIL_MAX_TRIES": "4",
        # argon2id still, with a small cost so the suite stays quick.
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "1024",
        "ARGON2_PARALLELISM": "1",
        "BASE_URL": "http://testserver.local",
    }
)
if BACKEND == "sqlite":
    os.environ["DATABASE_URL"] = f"sqlite:///{TMP / 'test.sqlite'}"
else:
    os.environ["DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"


def pytest_collection_modifyitems(config, items):
    if BACKEND == "sqlite":
        skip = pytest.mark.skip(reason="PostgreSQL-only test (the SQLite run covers the smoke subset)")
        for item in items:
            if "smoke" not in item.keywords:
                item.add_marker(skip)


def _create_database() -> None:
    import asyncpg

    async def run():
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}"')
            await conn.execute(f'CREATE DATABASE "{PG_DB}"')
        finally:
            await conn.close()

    asyncio.run(run())
    # The schema comes from the migrations: a table/migration mismatch fails the whole suite.
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"migrations failed:\n{result.stdout}\n{result.stderr}")


def _drop_database() -> None:
    import asyncpg

    async def run():
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(run())


def pytest_sessionstart(session):
    if BACKEND == "postgres":
        _create_database()


def pytest_sessionfinish(session, exitstatus):
    if BACKEND == "postgres":
        try:
            _drop_database()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture(scope="session")
async def database():
    from app import db

    if db.is_sqlite():
        await db.create_sqlite_tables()
    opened = await db.open_pool()
    yield
    if opened:
        await db.close_pool()


@pytest.fixture
def settings_env():
    """Other settings for one test: ``settings_env(LOGIN_WINDOW_SECONDS=2)`` sets the environment and
    has the settings read again; both come back after the test."""
    from app.settings import get_settings

    saved: dict[str, str | None] = {}

    def apply(**values):
        for name, value in values.items():
            saved.setdefault(name, os.environ.get(name))
            os.environ[name] = str(value)
        get_settings.cache_clear()

    yield apply
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


class Clock:
    """The app's clock (app/dates.py ``now``) set forward: time passes for the app without a sleep."""

    def __init__(self):
        self.ahead = 0.0

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        from app import dates

        self.ahead += seconds
        dates.set_ahead(timedelta(seconds=self.ahead))


@pytest.fixture
def clock():
    """``clock.advance(2.5)``: the app's clock runs 2.5 s ahead of the real one, until the test ends."""
    from datetime import timedelta

    from app import dates

    dates.set_ahead(timedelta(0))  # driven by the test from now on (rate-limit windows end on it)
    yield Clock()
    dates.set_ahead(timedelta(0), controlled=False)


@pytest.fixture(scope="session")
async def redis_client():
    from app import queue

    client = await queue.connect()
    yield client
    await client.aclose()


async def _reset(redis_client) -> None:
    from app import db
    from app.tables.piccolo_app import TABLES

    names = [t._meta.tablename for t in TABLES]
    if db.is_sqlite():
        for name in reversed(names):
            await TABLES[0].raw(f"DELETE FROM {name}")
    else:
        await TABLES[0].raw(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
    await redis_client.flushdb()


@pytest.fixture
async def clean(database, redis_client):
    """An empty database and Redis."""
    await _reset(redis_client)
    yield


@pytest.fixture
async def demo(clean):
    """The demo organisation: 2 delegations, 4 establishments, staff, learners, catalogue, reference
    lists (no sessions: each test makes those it needs)."""
    from app.demo import load_demo

    await load_demo(with_sessions=False)
    yield


class SMTPServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives; can be stopped."""

    def __init__(self, port: int):
        self.port = port
        self.messages = []
        self.controller = None

    def start(self):
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_RCPT(self, srv, session, envelope, address, rcpt_options):
                # A mailbox the relay refuses outright (550), as a real one does for an unknown user.
                if address.split("@")[0].endswith(".refused"):
                    return "550 5.1.1 Mailbox unavailable"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, srv, session, envelope):
                import email
                import email.policy

                server.messages.append((
                    envelope.rcpt_tos,
                    email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default),
                ))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(scope="session")
def smtp_session():
    server = SMTPServer(SMTP_PORT)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_session):
    smtp_session.messages.clear()
    if smtp_session.controller is None:
        smtp_session.start()
    yield smtp_session
    if smtp_session.controller is None:
        smtp_session.start()


@pytest.fixture(scope="session")
async def app(database):
    """The app, started once (lifespan) on the test event loop."""
    from app.asgi import create_app

    application = create_app(run_worker=False)
    started, stop = asyncio.Event(), asyncio.Event()

    # The lifespan's task group must be entered and left by the same task.
    async def run_lifespan():
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await started.wait()
    yield application
    stop.set()
    await task


def _http_client(application):
    import httpx

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application, client=("127.0.0.1", 5000)),
        base_url="http://testserver.local",
        follow_redirects=False,
    )


@pytest.fixture
async def client(app, demo):
    async with _http_client(app) as c:
        yield c


@pytest.fixture
def new_client(app):
    """Another browser: its own cookies."""
    return lambda: _http_client(app)


async def run_burst_worker(**overrides):
    """Run every queued job to the end with a real arq worker (burst mode)."""
    from app.jobs.worker import build_worker

    worker = build_worker(burst=True, poll_delay=0.05, **overrides)
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker


@pytest.fixture
def run_jobs(redis_client):
    """Run every queued job to the end with a real arq worker (burst mode)."""
    return run_burst_worker


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {
        "executable_path": "/usr/bin/chromium",
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def live_server(database):
    """The app served by `tremplin serve` in its own process, on the test database."""
    import time
    import urllib.request

    port = free_port()
    log = open(TMP / "live_server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    break
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("live server did not start: " + (TMP / "live_server.log").read_text())
    yield url
    process.terminate()
    process.wait(timeout=10)
    log.close()
