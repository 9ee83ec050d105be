"""Point 9 of issue 24: a cron's « prochaine exécution » does not depend on the web host's own time
zone. Two real processes whose TZ differ from each other and from TIMEZONE (Europe/Paris) — one
on UTC, one on UTC+14, where the date is often not Paris's — compute the same next runs, the daily
purge at 03:17 on Paris's wall clock, as arq's worker plans it (``timezone=`` TIMEZONE)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.conftest import ROOT

NEXT_RUNS = """
import asyncio, json
from app import queue
from app.jobs.worker import cron_status

async def main():
    redis = await queue.connect()
    try:
        print(json.dumps({s["name"]: s["next_run"].isoformat() for s in await cron_status(redis)}))
    finally:
        await redis.aclose()

asyncio.run(main())
"""


def _next_runs(tz: str) -> dict[str, datetime]:
    done = subprocess.run([sys.executable, "-c", NEXT_RUNS], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TZ": tz, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return {name: datetime.fromisoformat(at) for name, at in json.loads(done.stdout).items()}


def test_next_runs_are_the_same_whatever_the_web_hosts_time_zone(redis_client):
    on_utc, on_kiribati = _next_runs("UTC"), _next_runs("Pacific/Kiritimati")
    assert on_utc.keys() == on_kiribati.keys() and "cron:purge_job_runs" in on_utc
    hourly = {name for name in on_utc if name != "cron:purge_job_runs"}
    # The same instants (those that fire every few seconds may have ticked between the two processes).
    assert on_utc["cron:purge_job_runs"] == on_kiribati["cron:purge_job_runs"]
    purge = on_utc["cron:purge_job_runs"].astimezone(ZoneInfo("Europe/Paris"))
    assert (purge.hour, purge.minute) == (3, 17)
    for name in hourly:
        assert abs((on_utc[name] - on_kiribati[name]).total_seconds()) <= 3600, name
