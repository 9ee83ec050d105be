"""A PostgreSQL database of a test's own, and the migrations run on it in a process of their own
(as `tremplin migrate` does), up to a given migration or to the last."""

import os
import subprocess
import sys
import uuid
from contextlib import asynccontextmanager

import asyncpg

from tests.conftest import PG_ADMIN_URL, ROOT


@asynccontextmanager
async def scratch_database(prefix: str = "tremplin_mig"):
    """The URL of a new empty database, dropped afterwards whatever happened."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def migrate(url: str, *target: str) -> None:
    """Piccolo's migrations forwards on ``url``, up to ``target`` (a migration id) or all of them."""
    result = subprocess.run([sys.executable, "-m", "piccolo.main", "migrations", "forwards", "tremplin", *target],
                            cwd=ROOT, env={**os.environ, "DATABASE_URL": url, "PICCOLO_CONF": "piccolo_conf"},
                            capture_output=True, text=True)
    assert result.returncode == 0, f"migrations forwards {target} failed:\n{result.stdout}\n{result.stderr}"
