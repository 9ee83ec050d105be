"""The daily retention run in a real `tremplin worker` process (issue 25): submitted as the cron does,
run by the worker, its report kept as the run's result and shown on /ops under its French label."""

import json
from datetime import timedelta

from app.dates import now
from app.jobs import kinds
from app.tables.accounts import User
from app.tables.jobs import JobRun
from tests import factories, processes
from tests.helpers import login, text


async def test_the_retention_run_in_a_worker_process(client, redis_client):
    est = await factories.establishment()
    (gone,) = await factories.learners(est, 1, prefix="retw")
    await User.update({User.last_access: now() - timedelta(days=800),
                       User.retention_warned_at: now() - timedelta(days=40)}).where(User.id == gone)
    worker, log = processes.start(processes.WORKER, "retention-worker.log")
    try:
        run_id = await kinds.RETENTION.submit(redis_client, "2026-12-07")
        assert await kinds.RETENTION.submit(redis_client, "2026-12-07") is None  # once a day

        async def finished():
            row = await JobRun.select(JobRun.status, JobRun.result).where(JobRun.id == run_id).first()
            return row if row["status"] in ("succeeded", "failed") else None

        row = await processes.until(finished, "the retention run", "retention-worker.log")
    finally:
        processes.stop(worker, log)
    assert row["status"] == "succeeded"
    assert json.loads(row["result"])["pseudonymised"] >= 1
    user = await User.select(User.username, User.pseudonymised_at).where(User.id == gone).first()
    assert user["username"] == f"pseudonyme#{gone}" and user["pseudonymised_at"] is not None
    await login(client, "admin")
    assert "Conservation des données : avertissements, pseudonymisation, suppressions" in text(
        (await client.get("/ops")).text)
