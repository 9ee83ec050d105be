"""Every benchmark (bench/*.py) runs at a tiny scale (BENCH_SMOKE=1: a few rows, a few seconds) in
the PostgreSQL suite, and fails the suite when what it measures no longer works — a bench nobody
runs rots unseen (bench/registration_load.py did, twice). Each bench makes its own database from
the migrations (bench/_setup.py) on the suite's PostgreSQL, and a Redis database of the benches'
own (TEST_REDIS_DB + 2), emptied before and after each: arq's job keys are per database, not per
queue, and a bench's « mail:1:0 » left behind would make a later test's mail a duplicate. The migrations are applied once, to a template database each
bench's database is copied from. A new bench file is picked up by its name."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from tests.conftest import _REDIS_DB, BACKEND, PG_ADMIN_URL, REDIS_BASE, ROOT, RUN_ID

BENCH_REDIS_URL = f"{REDIS_BASE}/{_REDIS_DB + 2}"

BENCHES = sorted(p for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def migrated_template():
    """A database with the migrations applied, nobody connected to it: the benches copy it."""
    name = f"tremplin_bench_template_{RUN_ID}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "DATABASE_URL": url})
        yield name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def bench_redis():
    import redis

    client = redis.Redis.from_url(BENCH_REDIS_URL)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


def test_the_benches_are_found():
    assert len(BENCHES) >= 14 and ROOT / "bench" / "registration_load.py" in BENCHES


@pytest.mark.bench
@pytest.mark.timeout(600)
@pytest.mark.skipif(BACKEND != "postgres", reason="the benches run on PostgreSQL")
@pytest.mark.parametrize("bench", BENCHES, ids=[p.stem for p in BENCHES])
def test_bench_runs_at_a_tiny_scale(bench, migrated_template, bench_redis):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env.update({"BENCH_SMOKE": "1", "BENCH_PG_ADMIN_URL": PG_ADMIN_URL, "BENCH_REDIS_URL": BENCH_REDIS_URL,
                "BENCH_TEMPLATE_DB": migrated_template})
    result = subprocess.run([sys.executable, str(bench)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=540)
    assert result.returncode == 0, f"{bench.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    assert result.stdout.strip(), f"{bench.name} printed no figure"
