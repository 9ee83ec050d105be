from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Convocation notices: told (what the mail told the learner: dates, slots, place, link), for the before → after of the next update"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="tremplin", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="ConvocationNotice",
        tablename="convocation_notice",
        column_name="told",
        db_column_name="told",
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

    return manager
