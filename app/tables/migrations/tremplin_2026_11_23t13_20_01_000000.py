"""One valid certificate per enrolment (a partial unique index; Piccolo runs a migration's raw
statements before its tables, hence this second migration)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T13:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "One valid certificate per enrolment"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.accounts import User

        # Frozen copy of app/tables/constraints.py's certificate index (a migration never changes).
        await User.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS certificate_one_valid ON certificate (enrolment) WHERE status = 'valid'"
        )

    manager.add_raw(run)
    return manager
