"""Bench harness: a fresh PostgreSQL database with the migrations, the demo organisation,
real Redis. Import this module first: it sets the environment before the app reads it.

BENCH_SMOKE=1 runs a bench at a tiny scale (a few rows, one or two runs, a few seconds): its figures
mean nothing, but it still does what it measures and fails (an exception, a non-zero exit) when that
does not work. tests/test_benches.py runs every bench/*.py that way in the PostgreSQL suite, so none
rots unseen. A bench takes its sizes from ``scale(full, smoke)`` and states what must hold with
``check(condition, message)`` (unlike ``assert``, not skipped under ``python -O``).

BENCH_SCALE=10 runs a bench on ten times the data (issue 24: 1,000,000 users, 3,000,000 enrolments,
10,000,000 completion rows, a session of 20,000 learners x 50 activities): a bench takes its data sizes
from ``size(full, smoke)`` (multiplied; the run counts, from ``scale``, are not). A bench that measures
memory runs the job in a fresh process and reads its peak with its children: ``in_fresh_process``.
"""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# A bench's fresh process (in_fresh_process) works on its parent's database: the name is inherited.
# BENCH_KEEP_DB=<name>: work on that database, made if missing, migrated (new migrations applied) and
# kept afterwards: a bench that seeds asks ``seeded()`` and skips its seed when the data is there
# (seeding ten times the data takes many minutes). Drop it by hand when done.
KEEP_DB = os.environ.get("BENCH_KEEP_DB", "")
DB_NAME = KEEP_DB or os.environ.get("BENCH_DB_NAME") or f"tremplin_bench_{uuid.uuid4().hex[:6]}"
os.environ.update({
    "TREMPLIN_MODE": "test",
    "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + f"/{DB_NAME}",
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
    "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
    "TREMPLIN_VAR_DIR": f"/tmp/{DB_NAME}",
    "QUEUE_NAME": f"tremplin:bench:{DB_NAME}",
    "IMPORT_MAX_MB": "20",
    "BENCH_DB_NAME": DB_NAME,
})


SMOKE = os.environ.get("BENCH_SMOKE", "") == "1"


SCALE = int(os.environ.get("BENCH_SCALE", "1"))


def scale(full, smoke):
    """``full`` for a real run, ``smoke`` under BENCH_SMOKE=1 (run counts: BENCH_SCALE leaves them alone)."""
    return smoke if SMOKE else full


def size(full, smoke, tenfold=None):
    """A data size (or a tuple of them): ``full`` x BENCH_SCALE, ``smoke`` under BENCH_SMOKE=1.
    ``tenfold``: the size at BENCH_SCALE=10 where the issue names one that is not ten times ``full``
    (a session of 20,000 learners x 50 activities, not 50,000 x 300)."""
    if SMOKE:
        return smoke
    if SCALE == 10 and tenfold is not None:
        return tenfold
    return tuple(v * SCALE for v in full) if isinstance(full, tuple) else full * SCALE


def load() -> str:
    """The machine's load, stated with every figure: it is shared (2 cores, other work running)."""
    return f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}, {os.cpu_count()} cores"


class BenchFailed(Exception):
    """What the bench measures did not work: the run exits non-zero."""


def check(condition, message: str) -> None:
    if not condition:
        raise BenchFailed(message)


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _exists(name: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def seeded(table: str = "app_user", where: str = "username LIKE 'bench.%'") -> bool:
    """A kept database (BENCH_KEEP_DB) holding the bench's data already: its seed is skipped."""
    from app import db

    if not KEEP_DB:
        return False
    async with db.engine().pool.acquire() as conn:
        return bool(await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {where})"))


def create_database() -> None:
    if KEEP_DB:
        if not asyncio.run(_exists(DB_NAME)):
            asyncio.run(_admin(f'CREATE DATABASE "{DB_NAME}"'))
        subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, check=True, capture_output=True)
        return
    # BENCH_TEMPLATE_DB: a database already migrated, copied rather than migrated again (the smoke
    # runs of tests/test_benches.py make one for all the benches).
    template = os.environ.get("BENCH_TEMPLATE_DB")
    if template:
        asyncio.run(_admin(f'CREATE DATABASE "{DB_NAME}" TEMPLATE "{template}"'))
        return
    asyncio.run(_admin(f'CREATE DATABASE "{DB_NAME}"'))
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, check=True, capture_output=True)


def drop_database() -> None:
    if KEEP_DB:
        print(f"(database {DB_NAME} kept: BENCH_KEEP_DB)")
        return
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))


class Work:
    """The CPU a request costs, in ms: this process's (every thread) plus the bench database's
    PostgreSQL backends' (/proc/<pid>/schedstat, nanoseconds). On a shared machine at a load of 10 the
    wall time mostly measures the wait for a core; this does not. On an idle machine a request takes
    about this plus its round trips. ``start()`` before, ``stop()`` after (returns the ms)."""

    def __init__(self):
        self._pids: list[str] = []
        self._pg0 = self._cpu0 = 0.0

    @staticmethod
    def _backends() -> list[str]:
        marker = f" {DB_NAME} ".encode()
        pids = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                        command = handle.read()
                except OSError:
                    continue
                if command.startswith(b"postgres:") and marker in command:
                    pids.append(entry.name)
        return pids

    def _pg(self) -> float:
        total = 0
        for pid in self._pids:
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/schedstat") as handle:
                    total += int(handle.read().split()[0])
        return total / 1e9

    @classmethod
    def cpu_of_backends(cls) -> dict[str, float]:
        """CPU seconds of each PostgreSQL backend of the bench database now, by pid."""
        cpu = {}
        for pid in cls._backends():
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/schedstat") as handle:
                    cpu[pid] = int(handle.read().split()[0]) / 1e9
        return cpu

    def start(self) -> None:
        self._pids = self._backends()
        self._pg0 = self._pg()
        self._cpu0 = time.process_time()

    def stop(self) -> float:
        cpu = time.process_time() - self._cpu0
        return (cpu + max(0.0, self._pg() - self._pg0)) * 1000


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(main) -> None:
    """Run the bench coroutine function on a fresh database, dropped afterwards (a SIGTERM too: a
    database of millions of rows left behind fills the disk)."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    create_database()
    try:
        asyncio.run(main())
    finally:
        drop_database()


@contextlib.asynccontextmanager
async def indexes_dropped(*tables: str):
    """Bulk seeding without the tables' secondary indexes, made again afterwards from their own
    definitions: a million rows COPYed into a table with five trigram GIN indexes take many minutes,
    one CREATE INDEX each takes seconds (the indexes are the migrations', built in one pass as a
    REINDEX would). Unique indexes stay: a seed's ON CONFLICT may rely on them."""
    from app import db

    async with db.engine().pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "JOIN pg_index x ON x.indexrelid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass "
            "WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[]) AND NOT x.indisunique", list(tables))
        for row in rows:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
    try:
        yield
    finally:
        async with db.engine().pool.acquire() as conn:
            await conn.execute("SET maintenance_work_mem = '256MB'")
            for row in rows:
                await conn.execute(row["indexdef"])
            await conn.execute("RESET maintenance_work_mem")


FIRST_NAMES = ["Élodie", "Léa", "Hugo", "Chloé", "Théo", "Inès", "Noé", "Zoé", "Camille", "Louis", "Anaïs", "Jérôme"]
SYLLABLES = ["le", "fè", "vre", "gi", "rard", "bé", "nard", "mer", "cier", "an", "dré", "no", "ël", "mo", "rel",
             "roux", "fau", "re", "per", "rin", "du", "pont", "mar", "tin", "ber", "ge", "ron", "cha", "vin", "lac"]


def random_names(seed: int, syllables: int = 15, lengths=(2, 3, 4)):
    """names(i) -> (first, last): French-looking names, accents included, repeatable with ``seed``."""
    import random

    rng = random.Random(seed)
    pool = SYLLABLES[:syllables]
    return lambda i: (rng.choice(FIRST_NAMES), "".join(rng.choice(pool) for _ in range(rng.choice(lengths))).capitalize())


async def seed_learners(count: int, names, prefix: str = "bench.", demo_sessions: bool = False) -> tuple[int, list[int]]:
    """The demo organisation, then ``count`` users of ALP001 bulk-inserted (COPY), ``names(i)`` giving
    each one's (first, last) name; usernames ``<prefix><i>``. Returns (ALP001's id, the users' ids
    in creation order)."""
    from app.bulk import bulk_insert
    from app.dates import now
    from app.demo import load_demo
    from app.services.imports import USER_COLUMNS
    from app.services.text import user_text_fields
    from app.tables.accounts import User
    from app.tables.org import Establishment

    await load_demo(with_sessions=demo_sessions)
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    t = now()
    rows = []
    for i in range(count):
        first, last = names(i)
        username, email = f"{prefix}{i}", f"{prefix.rstrip('.')}{i}@example.org"
        keys = user_text_fields(first, last, username, email)
        rows.append((username, "x", first, last, email, alp001, "Agent FPH", f"000{i}", False, False,
                     keys["search_text"], keys["last_name_key"], keys["first_name_key"], t))
    await bulk_insert(User, USER_COLUMNS, rows)
    ids = await User.select(User.id).where(User.username.like(prefix + "%")).order_by(User.id)
    return alp001, [r["id"] for r in ids]


@contextlib.asynccontextmanager
async def serving():
    """The app with its lifespan running in a task of its own (pools, Redis; no worker), and a maker of
    HTTP clients on it: ``async with _setup.serving() as (application, client): async with client() as c``."""
    import httpx

    from app.asgi import create_app

    application = create_app(run_worker=False)
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan():
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    await started.wait()
    transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 5000))
    try:
        yield application, lambda: httpx.AsyncClient(transport=transport, base_url="http://bench.local")
    finally:
        stop.set()
        await task


class Measured:
    """One job run in a fresh process: its result, the job's time (``seconds``; ``wall`` adds the
    process's start, imports and connections), and memory. ``peak_mb``: the highest RSS of the process
    and its children summed, sampled every 20 ms (the render pool's children count, nothing the bench
    did before does; pages a forked child shares are counted twice: an upper bound); ``self_mb``: the
    process's own high-water mark (VmHWM); ``children_mb``: getrusage's of its largest finished child.
    ``cpu``, ``children_cpu``: CPU seconds of the process (imports included) and of its finished children;
    ``job_cpu``: the process's CPU during the job only; ``pg_cpu``: of the bench database's PostgreSQL
    backends during the job."""

    def __init__(self, result, seconds: float, wall: float, peak_mb: float, report: dict):
        self.result, self.seconds, self.wall, self.peak_mb = result, seconds, wall, peak_mb
        self.self_mb, self.children_mb = report["self_kb"] / 1024, report["children_kb"] / 1024
        self.cpu, self.children_cpu = report["cpu"], report["children_cpu"]
        self.pg_cpu, self.job_cpu = report.get("pg_cpu", 0.0), report.get("job_cpu", 0.0)

    def __str__(self) -> str:
        return (f"{self.seconds:.1f} s ({self.wall:.1f} s with the process's start; CPU {self.job_cpu:.1f} s in the job, "
                f"{self.cpu:.1f} s with the start, its children "
                f"{self.children_cpu:.1f} s, PostgreSQL's backends {self.pg_cpu:.1f} s), peak RSS {self.peak_mb:.0f} MB with its children (the process alone "
                f"{self.self_mb:.0f} MB, largest child {self.children_mb:.0f} MB)")


def in_fresh_process(target: str, *args) -> Measured:
    """Run the job ``target`` ("package.module:function", called as ``await function(ctx, *args)``,
    ctx holding a Redis connection as arq's does) in a new Python process on this bench's database
    (bench/_job.py), and measure it: a high-water mark of the bench's own process would hold the seed
    and whatever ran before, and would miss the pool's children (issue 24, point 10)."""
    import json

    import psutil

    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_job.py"), target, json.dumps(args)],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    process, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            family = [process, *process.children(recursive=True)]
            total = 0
            for p in family:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            peak = max(peak, total)
        except psutil.Error:
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    output = child.stdout.read()
    child.stdout.close()
    check(child.returncode == 0, f"{target} failed in its own process (exit {child.returncode})")
    report = json.loads(output.strip().splitlines()[-1])
    return Measured(report["result"], report["seconds"], seconds, max(peak / 1_048_576, report["self_kb"] / 1024), report)
