"""PostgreSQL: the progress overview's sorts by progress and by last visit are an index scan of the
session's enrolments (issue 10: "the summary on the enrolment makes sort by progress an indexed
ORDER BY"). Ties are broken by id in the sort's direction (app/datatable.py), hence the trailing id.

SQLite needs none of this (the embedded mode's sessions are small).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T15:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Enrolments: indexes for the overview's sorts by progress and by last visit (PostgreSQL)"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS enrolment_session_percent ON enrolment (session, percent, id)",
    "CREATE INDEX IF NOT EXISTS enrolment_session_last_visit ON enrolment (session, last_visit, id)",
    "ANALYZE enrolment",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS enrolment_session_percent",
    "DROP INDEX IF EXISTS enrolment_session_last_visit",
]


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
