"""Unique constraints Piccolo cannot declare (composite, partial). Applied by a migration on
PostgreSQL and at table creation on SQLite: the idempotent writes (ON CONFLICT) rely on them."""

UNIQUE_INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS cohort_name_unique ON cohort (establishment, name)",
    'CREATE UNIQUE INDEX IF NOT EXISTS cohort_member_unique ON cohort_member (cohort, "user")',
    "CREATE UNIQUE INDEX IF NOT EXISTS cohort_sync_unique ON cohort_sync (session, cohort)",
    "CREATE UNIQUE INDEX IF NOT EXISTS session_activity_source_unique ON session_activity (session, source)",
    # One valid certificate per enrolment: issuing twice (two workers, a retried request) is a no-op.
    "CREATE UNIQUE INDEX IF NOT EXISTS certificate_one_valid ON certificate (enrolment) WHERE status = 'valid'",
]
