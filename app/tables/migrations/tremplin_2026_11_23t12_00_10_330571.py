from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T12:00:10:330571"
VERSION = "1.38.0"
DESCRIPTION = "Folded search text for delegations, establishments, templates and sessions; account statuses as keys"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="tremplin", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Delegation",
        tablename="delegation",
        column_name="search_text",
        db_column_name="search_text",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Establishment",
        tablename="establishment",
        column_name="search_text",
        db_column_name="search_text",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="CourseTemplate",
        tablename="course_template",
        column_name="search_text",
        db_column_name="search_text",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="TrainingSession",
        tablename="training_session",
        column_name="search_text",
        db_column_name="search_text",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

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
