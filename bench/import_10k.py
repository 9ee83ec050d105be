"""CSV import of 10,000 accounts (or ``--rows N``: 20,000 for issue 24) on PostgreSQL, through the web
app and a separate `tremplin worker` process as in production: upload -> the analysis job -> preview ->
confirm -> the import job -> committed accounts (target: 20,000 rows <= 8 s). Meanwhile another
logged-in client loads a page again and again: its p95 while the file is uploaded and analysed, against
its p95 with nothing else running (issue 24 point 4: the analysis must not stall the web process),
and against the old way — the rows analysed in the request, on the web process's event loop.

Run: .venv/bin/python bench/import_10k.py [--rows 20000]   (BENCH_SMOKE=1: 50 rows)
"""

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import unicodedata

import _setup

PARSER = argparse.ArgumentParser()
PARSER.add_argument("--rows", type=int, default=10_000)
ROWS = _setup.size(PARSER.parse_known_args()[0].rows, 50)
PAGE = "/etablissements/{}/import/"  # a light page (scope, a template): a stalled event loop shows on it at once
LOG = os.environ.get("BENCH_WORKER_LOG")
logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per page load otherwise


def csv_content(rows: int, prefix: str = "Nöm") -> bytes:
    """An import file of ``rows`` accounts (Windows-1252, as Excel saves it), last names ``prefix<i>``."""
    lines = ["firstname;lastname;password;email;profile_field_matricule;cohort1"]
    # The addresses ASCII: a mail server without SMTPUTF8 (most) refuses « nöm1@… », and half of them are mailed.
    local = unicodedata.normalize("NFKD", prefix).encode("ascii", "ignore").decode().lower()
    for i in range(rows):
        # Half with their own password, half generated and mailed; every tenth in a cohort.
        password = f"Anfh_{i:05d}!" if i % 2 else ""
        lines.append(f"Prénom{i};{prefix}{i};{password};{local}{i}@example.org;{prefix[:1]}{500000 + i};"
                     f"{'Cohorte_Ex25' if i % 10 == 0 else ''}")
    return ("\r\n".join(lines) + "\r\n").encode("windows-1252")


async def _login(client) -> None:
    await client.get("/connexion")
    response = await client.post("/connexion", data={"username": "alp001.get", "password": "Demo-2026!",
                                                    "_csrf_token": client.cookies.get("csrftoken")})
    _setup.check(response.status_code == 303, f"login: {response.status_code}")


class Pinger:
    """A client loading PAGE in a loop; the latencies of each phase kept apart."""

    def __init__(self, client, establishment_id: int):
        self.client, self.page, self.phase, self.times, self.errors = client, PAGE.format(establishment_id), None, {}, 0

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            response = await self.client.get(self.page)
            if response.status_code != 200:
                self.errors += 1
            if self.phase:
                self.times.setdefault(self.phase, []).append(time.perf_counter() - started)
            await asyncio.sleep(0.01)

    def report(self, phase: str) -> str:
        values = self.times.get(phase, [])
        if not values:
            return f"{phase}: no page loaded"
        return (f"{phase}: {len(values)} page loads, p50 {_setup.percentile(values, 50) * 1000:.0f} ms, "
                f"p95 {_setup.percentile(values, 95) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms")


async def _status_until(batch_id: int, wanted: str, timeout: float) -> None:
    from app.tables.imports import ImportBatch

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        batch = await ImportBatch.select(ImportBatch.status, ImportBatch.error).where(ImportBatch.id == batch_id).first()
        if batch["status"] == wanted:
            return
        _setup.check(batch["status"] not in ("refused", "failed"), f"batch {batch_id}: {batch}")
        await asyncio.sleep(0.05)
    raise _setup.BenchFailed(f"batch {batch_id} not {wanted} after {timeout} s")


def _process_cpu(pid: int) -> float:
    """The CPU seconds (user + system, every thread) a process has used."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _through_the_worker(client, pinger, establishment_id: int, content: bytes,
                              worker_pid: int) -> tuple[int, dict]:
    """Upload, analysis (worker), confirm, import (worker): the figures of each step (wall), and the
    CPU the worker process and the database used from upload to commit: on a shared machine the
    wall time mostly measures the wait for a core."""
    from app.tables.imports import ImportBatch

    figures = {}
    database, worker_cpu = _setup.Work(), _process_cpu(worker_pid)
    database.start()  # PostgreSQL's backends only (below): this process also serves the pages and loads them
    t0 = time.perf_counter()
    pinger.phase = "upload + analysis in the worker"
    response = await client.post(f"/etablissements/{establishment_id}/import/",
                                 files={"file": ("bench.csv", content, "text/csv")},
                                 data={"_csrf_token": client.cookies.get("csrftoken")})
    _setup.check(response.status_code == 303, f"upload: {response.status_code} {response.text[:300]}")
    figures["upload request"] = time.perf_counter() - t0
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    await _status_until(batch_id, "preview", 600)
    figures["upload -> preview ready"] = time.perf_counter() - t0
    pinger.phase = "import in the worker"
    t1 = time.perf_counter()
    response = await client.post(f"/imports/{batch_id}/confirmer", data={"_csrf_token": client.cookies.get("csrftoken")})
    _setup.check(response.status_code == 303, f"confirm: {response.status_code}")
    await _status_until(batch_id, "done", 600)
    pinger.phase = None
    figures["confirm -> committed"] = time.perf_counter() - t1
    figures["upload -> committed"] = time.perf_counter() - t0
    figures["CPU of the worker (both jobs, and its crons)"] = _process_cpu(worker_pid) - worker_cpu
    figures["CPU of PostgreSQL (its connections open at the upload)"] = database._pg() - database._pg0
    batch = await ImportBatch.select().where(ImportBatch.id == batch_id).first()
    return batch["created_count"], figures


async def _in_the_request(pinger, establishment_id: int, content: bytes) -> float:
    """The way before issue 24: the rows analysed by the upload's request, on the event loop the
    pages are served from (``create_batch``, the whole path in one call)."""
    from app.services import imports
    from app.services.auth import load_current_user
    from app.tables.accounts import User

    get = await User.select(User.id).where(User.username == "alp001.get").first()
    user = await load_current_user(get["id"])
    pinger.phase = "analysis in the request (before)"
    t0 = time.perf_counter()
    await imports.create_batch(user, establishment_id, "bench-before.csv", content)
    pinger.phase = None
    return time.perf_counter() - t0


async def main() -> None:
    from app import db, queue
    from app.demo import load_demo
    from app.tables.accounts import User
    from app.tables.org import Establishment

    await db.open_pool()
    redis = await queue.connect()
    await redis.flushdb()
    await load_demo()
    await redis.aclose()
    establishment = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=_setup.ROOT, env=os.environ.copy(),
                              stdout=subprocess.DEVNULL, stderr=open(LOG, "w") if LOG else subprocess.DEVNULL)
    try:
        async with _setup.serving() as (_, make_client), make_client() as client, make_client() as browsing:
            await _login(client)
            await _login(browsing)
            pinger = Pinger(browsing, establishment)
            pinging = asyncio.create_task(pinger.run())
            await asyncio.sleep(_setup.scale(2, 0.5))  # warm
            pinger.phase = "nothing else running"
            await asyncio.sleep(_setup.scale(5, 1))
            created, figures = await _through_the_worker(client, pinger, establishment, csv_content(ROWS, "Nöm"),
                                                         worker.pid)
            before = await _in_the_request(pinger, establishment, csv_content(ROWS, "Avant"))
            pinging.cancel()
    finally:
        # SIGINT lets it finish its jobs (the credentials mails of the import may still be going out).
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    accounts = await User.count().where(User.username.like("alp001.p.nom%"))
    await db.close_pool()
    print(f"file: {len(csv_content(ROWS, 'Nöm')) / 1e6:.2f} MB, {ROWS} rows; web app in this process, one `tremplin worker`; "
          f"{_setup.load()}")
    for name, seconds in figures.items():
        print(f"{name}: {seconds:.2f} s")
    print(f"analysis in the request, as before (for comparison): {before:.2f} s")
    for phase in ("nothing else running", "upload + analysis in the worker", "import in the worker",
                  "analysis in the request (before)"):
        print(pinger.report(phase))
    _setup.check(pinger.errors == 0, f"{pinger.errors} page loads failed")
    _setup.check(created == ROWS == accounts, f"{ROWS} rows imported, {created} created, {accounts} in the database")


if __name__ == "__main__":
    _setup.run(main)
