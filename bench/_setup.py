"""Bench harness: a fresh PostgreSQL database with the migrations, the demo organisation,
real Redis. Import this module first: it sets the environment before the app reads it."""

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_NAME = f"tremplin_bench_{uuid.uuid4().hex[:6]}"
os.environ.update({
    "TREMPLIN_MODE": "test",
    "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + f"/{DB_NAME}",
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
    "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
    "TREMPLIN_VAR_DIR": f"/tmp/{DB_NAME}",
    "QUEUE_NAME": f"tremplin:bench:{DB_NAME}",
    "IMPORT_MAX_MB": "20",
})


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database() -> None:
    asyncio.run(_admin(f'CREATE DATABASE "{DB_NAME}"'))
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, check=True, capture_output=True)


def drop_database() -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(main) -> None:
    """Run the bench coroutine function on a fresh database, dropped afterwards."""
    create_database()
    try:
        asyncio.run(main())
    finally:
        drop_database()
