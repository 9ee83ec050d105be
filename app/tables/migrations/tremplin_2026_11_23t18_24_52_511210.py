from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Text
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T18:24:52:511210"
VERSION = "1.38.0"
DESCRIPTION = "Convocation notices: attempts and last_error (a bounded number of builds, then failed)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="tremplin", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="ConvocationNotice",
        tablename="convocation_notice",
        column_name="attempts",
        db_column_name="attempts",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
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
        table_class_name="ConvocationNotice",
        tablename="convocation_notice",
        column_name="last_error",
        db_column_name="last_error",
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

    manager.alter_column(
        table_class_name="ConvocationNotice",
        tablename="convocation_notice",
        column_name="status",
        db_column_name="status",
        params={
            "choices": Enum(
                "NoticeStatus",
                {
                    "pending": "pending",
                    "building": "building",
                    "sent": "sent",
                    "skipped": "skipped",
                    "failed": "failed",
                },
            )
        },
        old_params={
            "choices": Enum(
                "NoticeStatus",
                {
                    "pending": "pending",
                    "building": "building",
                    "sent": "sent",
                    "skipped": "skipped",
                },
            )
        },
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
