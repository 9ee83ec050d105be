"""DB_POOL_MIN / DB_POOL_MAX (README « Running at scale »: sizing): what one process may open."""

import os
import subprocess
import sys

from tests.conftest import ROOT

# Six queries at once, each a third of a second long, in a process that opens the pool as
# `tremplin serve` and `tremplin worker` do: the distinct server backends that answered them.
SCRIPT = """
import asyncio
from app import db
from app.tables.accounts import User

async def main():
    await db.open_pool()
    rows = await asyncio.gather(*(User.raw("SELECT pg_backend_pid() AS pid, pg_sleep(0.3)") for _ in range(6)))
    print(len({r[0]["pid"] for r in rows}), db.engine().pool.get_min_size(), db.engine().pool.get_max_size())
    await db.close_pool()

asyncio.run(main())
"""


def _backends(**env) -> list[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("DB_POOL_")}
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True,
                            env={**inherited, "PYTHONPATH": str(ROOT), **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_process_opens_at_most_db_pool_max_connections():
    assert _backends(DB_POOL_MIN="1", DB_POOL_MAX="2") == ["2", "1", "2"]
    # The default, 10: the six queries ran side by side.
    assert _backends() == ["6", "1", "10"]
    # A minimum above the maximum is held to it rather than refused.
    assert _backends(DB_POOL_MIN="5", DB_POOL_MAX="3") == ["3", "3", "3"]
