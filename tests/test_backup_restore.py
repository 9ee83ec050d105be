"""Backups as README « Running at scale » tells them: `pg_dump -Fc` of the running database, restored
with `pg_restore` into a new database, `tremplin migrate` on it (nothing to do), then a `tremplin
serve` on it serves what was saved to a logged-in user and takes new records (its sequences came
back with it)."""

import asyncio
import os
import subprocess
import sys

import asyncpg
import httpx

from app.services import analytics_rollup
from app.tables.accounts import User
from app.tables.registration import RegistrationRequest
from tests import processes
from tests.conftest import PG_ADMIN_URL, PG_DB, ROOT, TMP
from tests.controllers.test_registration import _answers, _session
from tests.helpers import login, text
from tests.test_pgbouncer import _register


async def test_a_dump_restored_into_a_new_database_is_served(demo):
    await User.update({User.last_name: "Sauvegardée", User.email: "sauvegarde@example.org"}).where(
        User.username == "alp001.get")
    session_id = await _session(seats=5)
    answers = await _answers()
    restored = f"{PG_DB}_restored"
    restored_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{restored}"
    dump = TMP / "tremplin.dump"
    # The analytics rollup as the running app keeps it (`tremplin migrate` brings it up to date: on a
    # restored dump of a running database it has nothing more to do).
    await analytics_rollup.refresh()
    _run(["pg_dump", "--format=custom", f"--file={dump}", os.environ["DATABASE_URL"]])
    await _admin(f'CREATE DATABASE "{restored}"')
    try:
        _run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored_url}", str(dump)])
        _run([sys.executable, "-m", "app.cli", "migrate"], DATABASE_URL=restored_url)
        assert await _counts(restored) == await _counts(PG_DB)
        web, log, url = await processes.serve("restored_serve.log", DATABASE_URL=restored_url)
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                await login(client, "admin")
                page = await client.get("/utilisateurs?email=sauvegarde")
                assert page.status_code == 200
                assert "alp001.get" in text(page.text) and "Sauvegardée" in text(page.text)
            assert await _register(url, answers, 1)
        finally:
            processes.stop(web, log)
        # The request went to the restored database, not to the one dumped.
        assert not await RegistrationRequest.exists().where(RegistrationRequest.session == session_id)
        assert await _fetch(restored, "SELECT email FROM registration_request") == [("inscrit1@example.org",)]
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')


def _run(command: list[str], **env) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env})
    assert result.returncode == 0, f"{command[0]}: {result.stdout}\n{result.stderr}"


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _fetch(database: str, sql: str) -> list[tuple]:
    connection = await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}")
    try:
        return [tuple(r) for r in await connection.fetch(sql)]
    finally:
        await connection.close()


async def _counts(database: str) -> dict[str, int]:
    """Rows per table of the public schema (each counted: the statistics' estimates lag)."""
    tables = [r[0] for r in await _fetch(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    counts = await _fetch(database, " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables))
    return dict(counts)
