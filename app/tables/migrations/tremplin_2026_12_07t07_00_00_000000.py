"""PostgreSQL: the analytics dashboard reads its columns of the active enrolments from one index
(issue 24, ten times the data). A GET's two establishments are 120,000 of 3,000,000 enrolments,
scattered over the whole table: read through the heap they cost a scan of it (seconds); from this
index, an index-only scan of their sessions (~100 ms). Partial (active only), as the dashboard counts.

SQLite needs none of this (the embedded mode's network is small).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Enrolments: a covering index for the analytics dashboard (PostgreSQL)"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS enrolment_analytics ON enrolment (session) "
    "INCLUDE (id, enrolled_at, completed_at, last_visit, required_done, attended_minutes) WHERE active",
    "ANALYZE enrolment",
]
BACKWARDS = ["DROP INDEX IF EXISTS enrolment_analytics"]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.accounts import User

        if User._meta.db.engine_type != "postgres":
            return
        for statement in STATEMENTS:
            await User.raw(statement)

    async def run_backwards():
        from app.tables.accounts import User

        if User._meta.db.engine_type != "postgres":
            return
        for statement in BACKWARDS:
            await User.raw(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
