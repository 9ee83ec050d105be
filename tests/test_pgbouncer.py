"""The production layout behind PgBouncer in transaction mode (README « Running at scale »):
`tremplin migrate`, `tremplin serve` and `tremplin worker` with their DATABASE_URL through a PgBouncer
of ONE server connection, DB_PGBOUNCER=1 and a small pool per process, under concurrent requests and
jobs. Every process shares that connection, one transaction at a time: whatever relies on a server
session's state (named prepared statements, a session-level SET or advisory lock, a cursor outside
its transaction) fails here, and a task that holds a transaction while it waits for a second
connection (the pool's or PgBouncer's) hangs everyone."""

import asyncio
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import httpx
import pytest
from openpyxl import load_workbook

from app.tables.registration import RegistrationRequest
from app.tables.outbox import Mail
from tests import processes
from tests.conftest import PG_ADMIN_URL, PG_DB, ROOT, TMP
from tests.controllers.test_registration import _answers, _session
from tests.helpers import login, post_form, text
from tests.pgbouncer import start_pgbouncer

REGISTRANTS = 8
# Who browses at once, and the lists each reads (with a word each must show).
STAFF = [("admin", {"/utilisateurs?last_name=gestionnaire": "alp001.get", "/gestion-inscriptions/demandes": "Demandes"}),
         ("inscriptions", {"/gestion-inscriptions/demandes": "Demandes"})] * 2


@pytest.fixture(scope="module")
def bouncer(database):
    # Its own folder in /tmp: run as root, PgBouncer runs as postgres, who cannot enter TMP (0700).
    folder = Path(tempfile.mkdtemp(prefix="tremplin-pgbouncer-"))
    bouncer = start_pgbouncer(folder, os.environ["DATABASE_URL"], pool_size=1)
    yield bouncer
    bouncer.stop()
    shutil.rmtree(folder, ignore_errors=True)


def bounced(bouncer, **env) -> dict:
    """A process's environment through ``bouncer``: the setting PgBouncer needs, a pool of 3."""
    return {"DATABASE_URL": bouncer.url, "DB_PGBOUNCER": 1, "DB_POOL_MIN": 1, "DB_POOL_MAX": 3, **env}


def test_tremplin_migrate_runs_through_pgbouncer(bouncer):
    """A new database migrated from nothing through PgBouncer has the test database's tables and
    migrations (made without it); a second run has nothing left to do."""
    name = f"{PG_DB}_bounced"
    url = bouncer.url.rsplit("/", 1)[0] + f"/{name}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        for _ in range(2):
            result = subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, capture_output=True,
                                    text=True, env={**os.environ, **_str(bounced(bouncer, DATABASE_URL=url))})
            assert result.returncode == 0, result.stdout + result.stderr
        assert _schema(name) == _schema(PG_DB)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_serve_and_workers_behind_pgbouncer_under_concurrent_use(bouncer, demo, smtp):
    """Staff browsing lists and people registering at once, on a `tremplin serve`; their mails sent
    by a `tremplin worker`; then a large export as a job, twice, each in a new worker process. Before
    db.batches, the export's cursor held the server connection while its enrich waited for another
    (every process hung), and the statement it left there failed the next process's export."""
    session_id = await _session(seats=5)
    answers = await _answers()
    web, web_log, url = await processes.serve("pgb_serve.log", **bounced(bouncer, EXPORT_INLINE_MAX_ROWS=0))
    worker, worker_log = processes.start(processes.WORKER, "pgb_worker.log", **bounced(bouncer))
    try:
        results = await asyncio.gather(*(_register(url, answers, n) for n in range(REGISTRANTS)),
                                       *(_browse(url, *staff) for staff in STAFF))
        assert results == [True] * (REGISTRANTS + len(STAFF))
        emails = {f"inscrit{n}@example.org" for n in range(REGISTRANTS)}
        rows = await RegistrationRequest.select(RegistrationRequest.email).where(
            RegistrationRequest.session == session_id)
        assert sorted(r["email"] for r in rows) == sorted(emails)

        def confirming():
            return [rcpt[0] for rcpt, m in smtp.messages if m["Subject"].startswith("Confirmez votre adresse")]

        async def confirmations_sent():
            return len(confirming()) >= REGISTRANTS and not await Mail.exists().where(Mail.status != "sent")

        await processes.until(confirmations_sent, "the confirmation mails", "pgb_worker.log")
        assert sorted(confirming()) == sorted(emails)  # each once

        for attempt in ("pgb_worker.log", "pgb_worker2.log"):
            if attempt != "pgb_worker.log":  # a new process: asyncpg numbers its statements from 1 again
                processes.stop(worker, worker_log)
                worker, worker_log = processes.start(processes.WORKER, attempt, **bounced(bouncer))
            sheet = await _export_users(url, attempt)
            assert "alp001.get" in sheet and "inscriptions" in sheet
    finally:
        processes.stop(worker, worker_log)
        processes.stop(web, web_log)


async def _register(url: str, answers: dict, n: int) -> bool:
    """One person through the public wizard to « demande envoyée »."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
        assert response.status_code == 303, text(response.text)
        email = f"inscrit{n}@example.org"
        for step, data in answers.items():
            if step == 4:
                data = {**data, "email": email, "email_confirm": email, "last_name": f"Inscrit{n}"}
            response = await post_form(client, f"/inscription/etape/{step}", {**data, "go": "next"})
            assert response.status_code == 303, (step, text(response.text))
        assert response.headers["location"] == "/inscription/envoyee"
    return True


async def _browse(url: str, username: str, pages: dict) -> bool:
    """A staff member logs in and reads lists, three times each."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await login(client, username)
        for _ in range(3):
            for path, shown in pages.items():
                page = await client.get(path)
                assert page.status_code == 200 and shown in text(page.text), (path, page.status_code)
    return True


async def _export_users(url: str, worker_log: str) -> str:
    """The accounts list exported as a job (EXPORT_INLINE_MAX_ROWS=0): its progress page until the
    download link, then the workbook's cells as text."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await login(client, "admin")
        started = await client.get("/utilisateurs?export=xlsx")
        assert started.status_code == 303, started.text
        progress_page = started.headers["location"]

        async def finished():
            page = text((await client.get(progress_page)).text)
            assert "L'export a échoué" not in page, page + (TMP / worker_log).read_text()[-4000:]
            return "Télécharger" in page

        await processes.until(finished, "the export job", worker_log)
        download = await client.get(progress_page.replace("/taches/", "/exports/"))
        assert download.status_code == 200
    workbook = load_workbook(io.BytesIO(download.content), read_only=True)
    return " ".join(str(v) for row in workbook.active.iter_rows(values_only=True) for v in row if v is not None)


def _str(env: dict) -> dict:
    return {k: str(v) for k, v in env.items()}


def _admin(sql: str) -> None:
    asyncio.run(_admin_value(sql))


async def _admin_value(sql: str, *args):
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()


def _schema(name: str) -> tuple[list, list]:
    """A database's tables with their columns, and its applied migrations."""
    async def run():
        connection = await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        try:
            columns = await connection.fetch("SELECT table_name, column_name, data_type FROM information_schema.columns "
                                             "WHERE table_schema = 'public' ORDER BY 1, 2")
            migrations = await connection.fetch("SELECT name FROM migration ORDER BY name")
            return [tuple(r) for r in columns], [r["name"] for r in migrations]
        finally:
            await connection.close()

    return asyncio.run(run())


# Queries one after the other through PgBouncer, then the server connection's statistics flushed.
QUERIES = 200
ONE_BY_ONE = f"""
import asyncio
from app import db
from app.tables.accounts import User

async def main():
    await db.open_pool()
    for _ in range({QUERIES}):
        await User.raw("SELECT 1")
    await User.raw("SELECT pg_stat_force_next_flush()")
    await db.close_pool()

asyncio.run(main())
"""


def test_a_query_through_pgbouncer_is_two_server_transactions_not_four(bouncer):
    """A query is two server transactions behind PgBouncer (statement_cache_size=0: asyncpg
    describes the statement, then runs it); asyncpg's reset of a connection given back to its pool
    (RESET ALL…) made it four."""
    count = "SELECT xact_commit FROM pg_stat_database WHERE datname = $1"
    before = asyncio.run(_admin_value(count, PG_DB))
    result = subprocess.run([sys.executable, "-c", ONE_BY_ONE], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **_str(bounced(bouncer))})
    assert result.returncode == 0, result.stderr
    transactions = asyncio.run(_admin_value(count, PG_DB)) - before
    assert 2 * QUERIES <= transactions < 2.5 * QUERIES
