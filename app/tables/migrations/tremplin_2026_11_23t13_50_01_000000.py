"""Existing activities get the completion rule their kind implies (the column came in the previous
migration with the default "manual"): quizzes complete on passing, forums are not tracked."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T13:50:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Completion rule of existing activities from their kind"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.accounts import User

        for table in ("template_activity", "session_activity"):
            await User.raw(f"UPDATE {table} SET completion = 'quiz' WHERE kind = 'quiz'")
            await User.raw(f"UPDATE {table} SET completion = 'none' WHERE kind = 'forum'")

    manager.add_raw(run)
    return manager
