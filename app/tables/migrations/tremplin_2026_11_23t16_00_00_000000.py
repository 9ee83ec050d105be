"""PostgreSQL: the job runs' indexes for the job sweep and the operations dashboard (issue 11).

- ``(status, kind, id)``: the dashboard's counts and lists by status and kind (the failed runs of a
  kind, newest first), and ``tremplin jobs failed``.
- ``(kind, finished_at)``: the per-kind durations and failure rates over 24 h and 30 days.
- a partial index of the runs still waiting or running, by ``enqueued_at``: the sweep reads only
  them, however large the 30 days of history.

SQLite (the embedded default) needs none of this: its history is small.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Job runs: indexes by status and kind, kind and finish time, and of the active runs (PostgreSQL)"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS job_run_status_kind ON job_run (status, kind, id)",
    "CREATE INDEX IF NOT EXISTS job_run_kind_finished ON job_run (kind, finished_at)",
    "CREATE INDEX IF NOT EXISTS job_run_active ON job_run (enqueued_at) "
    "WHERE status IN ('queued', 'deferred', 'running')",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS job_run_status_kind",
    "DROP INDEX IF EXISTS job_run_kind_finished",
    "DROP INDEX IF EXISTS job_run_active",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.jobs import JobRun

        if JobRun._meta.db.engine_type != "postgres":
            return
        for statement in STATEMENTS:
            await JobRun.raw(statement)

    async def run_backwards():
        from app.tables.jobs import JobRun

        if JobRun._meta.db.engine_type != "postgres":
            return
        for statement in BACKWARDS:
            await JobRun.raw(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
