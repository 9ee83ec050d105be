"""Backfill of 2026-11-23T12:00:10 (the search_text columns it adds): separate, because Piccolo runs a
migration's raw steps before its column changes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T12:00:11:000000"
VERSION = "1.38.0"
DESCRIPTION = "Backfill the folded search text; account statuses as keys"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def backfill():
        from app.services.text import search_text
        from app.tables.accounts import User

        for table, columns in (("delegation", ("code", "name")), ("establishment", ("code", "name")),
                               ("course_template", ("code", "title", "short_name")),
                               ("training_session", ("code", "full_name", "short_name"))):
            rows = await User.raw(f"SELECT id, {', '.join(columns)} FROM {table}")
            for row in rows:
                await User.raw(f"UPDATE {table} SET search_text = {{}} WHERE id = {{}}",
                               search_text(*(row[c] for c in columns)), row["id"])
        # Account statuses: stored keys, French labels in the interface.
        await User.raw(
            "UPDATE app_user SET status = CASE status WHEN 'Agent FPH' THEN 'fph_agent' WHEN 'Agent FPT' THEN 'fpt_agent' "
            "WHEN 'Agent FPE' THEN 'fpe_agent' WHEN 'Contractuel' THEN 'contract' WHEN 'Élu' THEN 'elected' "
            "WHEN 'Apprenti' THEN 'apprentice' WHEN 'Personnel' THEN 'staff' WHEN 'Autre' THEN 'other' ELSE status END"
        )

    manager.add_raw(backfill)
    return manager
