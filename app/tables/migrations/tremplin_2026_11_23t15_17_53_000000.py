"""Backfill of 2026-11-23T15:17:52 (the organisation search_text it adds): separate, because Piccolo runs
a migration's raw steps before its column changes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T15:17:53:000000"
VERSION = "1.38.0"
DESCRIPTION = "Backfill the folded search text of organisations"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def backfill():
        from app.tables.registration import backfill_organisation_search_text

        await backfill_organisation_search_text()

    manager.add_raw(backfill)
    return manager
