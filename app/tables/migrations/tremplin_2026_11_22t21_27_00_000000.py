"""Composite and partial unique indexes (app/tables/constraints.py) for cohorts and enrolments."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T21:27:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique indexes for cohorts, cohort sync and enrolments"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.accounts import User
        from app.tables.constraints import UNIQUE_INDEXES

        for statement in UNIQUE_INDEXES:
            await User.raw(statement)

    manager.add_raw(run)
    return manager
