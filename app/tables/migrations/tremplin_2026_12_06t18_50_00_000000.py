"""Job runs: ``heartbeat_at``, when the worker running the run last said it was alive (issue 19).

A worker refreshes it every few seconds for the runs it holds; the job sweep hands a running run
whose heartbeat stopped over to another worker within about a minute, instead of waiting for the
kind's timeout (an hour for an import)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T18:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Job runs: heartbeat_at (a dead worker's runs are handed over within a minute)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)
    manager.add_column(
        table_class_name="JobRun",
        tablename="job_run",
        column_name="heartbeat_at",
        db_column_name="heartbeat_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
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
