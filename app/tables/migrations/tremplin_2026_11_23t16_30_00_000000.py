"""PostgreSQL: the operations dashboard reads 100,000 recorded job runs within its 200 ms (issue 11,
bench/bench_ops_dashboard.py).

- ``job_run_kind_finished``: the per-kind runs, failure rate and p50/p95 durations of 24 hours and
  30 days, one index-only scan in kind order (no heap, no sort to group);
- ``job_run_status_finished``: failures of the last hour / day, the failed list sorted by end, the
  failures by kind of /ops/metrics (``kind`` included: read from the index alone);
- no index for the runs list by status, newest first: the primary key read backwards finds any page
  the list reaches (1,000 rows counted) in about 10 ms, and each index more slows the UPDATE of a
  retry of 10,000 runs;
- ``job_run_started``: the workers that started a run in the last hour.

SQLite needs none of this (the embedded mode's history is small).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T16:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Job runs: indexes of the operations dashboard (PostgreSQL)"

STATEMENTS = [
    # Replaces a plain (kind, finished_at) of the same name if the job layer's migration made one first.
    "DROP INDEX IF EXISTS job_run_kind_finished",
    "CREATE INDEX job_run_kind_finished ON job_run (kind, finished_at) INCLUDE (status, started_at)",
    "CREATE INDEX IF NOT EXISTS job_run_status_finished ON job_run (status, finished_at, id) INCLUDE (kind)",
    "CREATE INDEX IF NOT EXISTS job_run_started ON job_run (started_at) INCLUDE (worker)",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS job_run_kind_finished",
    "DROP INDEX IF EXISTS job_run_status_finished",
    "DROP INDEX IF EXISTS job_run_started",
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
