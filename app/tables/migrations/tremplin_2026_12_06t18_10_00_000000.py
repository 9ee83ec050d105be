from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Text, Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T18:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Certificates: render_attempts, render_error, render_retry_at (« échec de génération », bounded retries)"


def _params(default, null=False):
    return {
        "default": default, "null": null, "primary_key": False, "unique": False, "index": False,
        "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)
    for name, column_class, params in (
        ("render_attempts", Integer, _params(0)),
        ("render_error", Text, _params("")),
        ("render_retry_at", Timestamptz, _params(None, null=True)),
    ):
        manager.add_column(
            table_class_name="Certificate", tablename="certificate", column_name=name, db_column_name=name,
            column_class_name=column_class.__name__, column_class=column_class, params=params, schema=None,
        )
    return manager
