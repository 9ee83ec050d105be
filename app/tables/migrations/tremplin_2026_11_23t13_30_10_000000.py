from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T13:30:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "Registration backfill: notified_at of requests already notified; yes/no stored answers; BI copy category"


async def forwards():
    # A migration of its own: Piccolo runs a migration's raw functions before its column changes,
    # so the backfill comes after the migration that adds notified_at.
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def backfill():
        from app.tables.registration import RegistrationRequest

        # Requests already notified keep their date; the others (lost notifications) are the sweep's.
        await RegistrationRequest.raw(
            "UPDATE registration_request SET notified_at = (SELECT MIN(e.at) FROM request_event e "
            "WHERE e.request = registration_request.id AND e.action = 'Notifications envoyées')"
        )
        for column in ("dietary", "consent_carpool", "consent_mailing", "consent_image"):
            await RegistrationRequest.raw(
                f"UPDATE registration_request SET {column} = CASE {column} WHEN 'oui' THEN 'yes' WHEN 'non' THEN 'no' "
                f"ELSE {column} END"
            )
        # The operator's copy of a BI has a category of its own (the instance's BI is the one whose
        # recipients hear of a cancellation).
        await RegistrationRequest.raw(
            "UPDATE mail SET category = 'registration-bi-copy' WHERE category = 'registration-bi' "
            "AND subject LIKE '[Copie]%'"
        )

    manager.add_raw(backfill)
    return manager
