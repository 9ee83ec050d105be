from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.constraints import Unique

ID = "2026-11-23T12:36:44:342893"
VERSION = "1.38.0"
DESCRIPTION = "One enrolment per (session, user): methods become enrolment sources"


MERGE = [
    "DROP INDEX IF EXISTS enrolment_manual_unique",
    "DROP INDEX IF EXISTS enrolment_cohort_unique",
    'CREATE TEMP TABLE enrolment_keep AS SELECT session, "user", MIN(id) AS keep_id, MIN(enrolled_at) AS first_at, '
    'BOOL_OR(active) AS any_active FROM enrolment GROUP BY session, "user"',
    "INSERT INTO enrolment_source (enrolment, kind, key, cohort, request, created_by, created_at) "
    "SELECT k.keep_id, e.method, CASE WHEN e.method = 'cohort' THEN 'cohort:' || e.cohort ELSE 'manual' END, "
    "CASE WHEN e.method = 'cohort' THEN e.cohort END, NULL, NULL, e.enrolled_at "
    'FROM enrolment e JOIN enrolment_keep k ON k.session = e.session AND k."user" = e."user" WHERE e.active '
    "ON CONFLICT (enrolment, key) DO NOTHING",
    "UPDATE enrolment SET active = k.any_active, enrolled_at = k.first_at, "
    "ended_at = CASE WHEN k.any_active THEN NULL ELSE CURRENT_TIMESTAMP END FROM enrolment_keep k WHERE enrolment.id = k.keep_id",
    'DELETE FROM enrolment e USING enrolment_keep k WHERE e.session = k.session AND e."user" = k."user" AND e.id <> k.keep_id',
    "UPDATE enrolment SET required_total = (SELECT COUNT(*) FROM session_activity a "
    "WHERE a.session = enrolment.session AND a.required)",
    "DROP TABLE enrolment_keep",
]


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="tremplin", description=DESCRIPTION
    )

    async def merge_enrolments():
        """Runs before the columns go: each active (method, cohort) row becomes a source of the one
        enrolment kept per (session, user), the oldest; the other rows are merged into it."""
        from app.tables.accounts import User

        for statement in MERGE:
            await User.raw(statement)

    manager.add_raw(merge_enrolments)

    manager.drop_column(
        table_class_name="Enrolment",
        tablename="enrolment",
        column_name="cohort",
        db_column_name="cohort",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Enrolment",
        tablename="enrolment",
        column_name="method",
        db_column_name="method",
        schema=None,
    )

    manager.add_constraint(
        table_class_name="Enrolment",
        tablename="enrolment",
        constraint_name="unique_session_user",
        constraint_class=Unique,
        params={"columns": ["session", "user"], "nulls_distinct": True},
        schema=None,
    )

    return manager
