"""Data migration of 2026-12-06T19:10:00 (separate: Piccolo runs a migration's raw steps before its
column changes): the accounts the registration back office created in the session's establishment
become external trainees of their organisation. Safe to run again (only accounts not yet external move)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-06T19:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Accounts created by registration requests become external trainees"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def move():
        from app.tables.registration import MOVE_REGISTERED_ACCOUNTS, RegistrationRequest

        for statement in MOVE_REGISTERED_ACCOUNTS:
            await RegistrationRequest.raw(statement)
        # The few external trainees, found without a scan of every account (analytics' « Public »).
        await RegistrationRequest.raw("CREATE INDEX IF NOT EXISTS app_user_external ON app_user (id) WHERE external")

    manager.add_raw(move)
    return manager
