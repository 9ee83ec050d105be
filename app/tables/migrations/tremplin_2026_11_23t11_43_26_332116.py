from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T11:43:26:332116"
VERSION = "1.38.0"
DESCRIPTION = "Mail secret, erased once sent"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="tremplin", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Mail",
        tablename="mail",
        column_name="secret",
        db_column_name="secret",
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
