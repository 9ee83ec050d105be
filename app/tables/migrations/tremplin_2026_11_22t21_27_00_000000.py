"""Composite and partial unique indexes (app/tables/constraints.py) for cohorts and enrolments."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T21:27:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique indexes for cohorts, cohort sync and enrolments"


# Frozen here: app/tables/constraints.py has changed since (the enrolment ones became a declared
# Unique constraint, migration 2026-11-23T13:10), and a migration must not change with it.
UNIQUE_INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS cohort_name_unique ON cohort (establishment, name)",
    'CREATE UNIQUE INDEX IF NOT EXISTS cohort_member_unique ON cohort_member (cohort, "user")',
    "CREATE UNIQUE INDEX IF NOT EXISTS cohort_sync_unique ON cohort_sync (session, cohort)",
    'CREATE UNIQUE INDEX IF NOT EXISTS enrolment_manual_unique ON enrolment (session, "user") WHERE method = \'manual\'',
    'CREATE UNIQUE INDEX IF NOT EXISTS enrolment_cohort_unique ON enrolment (session, "user", cohort) WHERE method = \'cohort\'',
    "CREATE UNIQUE INDEX IF NOT EXISTS session_activity_source_unique ON session_activity (session, source)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.accounts import User

        for statement in UNIQUE_INDEXES:
            await User.raw(statement)

    manager.add_raw(run)
    return manager
