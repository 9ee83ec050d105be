"""Retention of personal data (issue 25): when an inactive account was warned and when it was
pseudonymised, whether a session is co-financed by the European Social Fund (its evidence is kept
longer), a partial index for the accounts warned (the daily job finds them without a scan), and the
index the deletion of attendance records needs for its foreign key check."""

from app.tables.raw_migration import raw_migration

ID = "2026-12-07T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Retention: warned and pseudonymised accounts, sessions co-financed by the ESF"

FORWARDS = [
    'ALTER TABLE "app_user" ADD COLUMN "retention_warned_at" TIMESTAMPTZ NULL DEFAULT null',
    'ALTER TABLE "app_user" ADD COLUMN "pseudonymised_at" TIMESTAMPTZ NULL DEFAULT null',
    'ALTER TABLE "training_session" ADD COLUMN "fse_cofinanced" BOOLEAN NOT NULL DEFAULT false',
    'CREATE INDEX app_user_retention_warned ON "app_user" ("retention_warned_at") WHERE retention_warned_at IS NOT NULL',
    # The pseudonymised accounts, which the retention job's legal hold joins on (app/services/retention/job.py).
    'CREATE INDEX app_user_pseudonymised ON "app_user" ("pseudonymised_at") WHERE pseudonymised_at IS NOT NULL',
    # Deleting attendance records (the job, at the end of their retention) checks the foreign key
    # attendance.record for each: without this index, one scan of the attendance table per record.
    'CREATE INDEX IF NOT EXISTS attendance_record_ref ON "attendance" ("record")',
]
BACKWARDS = [
    'DROP INDEX IF EXISTS attendance_record_ref',
    'DROP INDEX IF EXISTS app_user_pseudonymised',
    'DROP INDEX IF EXISTS app_user_retention_warned',
    'ALTER TABLE "training_session" DROP COLUMN "fse_cofinanced"',
    'ALTER TABLE "app_user" DROP COLUMN "pseudonymised_at"',
    'ALTER TABLE "app_user" DROP COLUMN "retention_warned_at"',
]

forwards = raw_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
