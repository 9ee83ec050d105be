"""Unique constraints Piccolo cannot declare (composite, partial). Applied by a migration on
PostgreSQL and at table creation on SQLite: the idempotent writes (ON CONFLICT) rely on them."""

EMAIL_UNIQUE_INDEX_NAME = "app_user_email_unique"
# The rows it covers (also the duplicates' query of its migration, 2026-12-06T18:30).
EMAIL_UNIQUE_WHERE = "deactivated_at IS NULL AND email <> '' AND email NOT LIKE '%.fictif@%'"
EMAIL_UNIQUE_INDEX = (f"CREATE UNIQUE INDEX IF NOT EXISTS {EMAIL_UNIQUE_INDEX_NAME} ON app_user (lower(email)) "
                      f"WHERE {EMAIL_UNIQUE_WHERE}")

UNIQUE_INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS cohort_name_unique ON cohort (establishment, name)",
    'CREATE UNIQUE INDEX IF NOT EXISTS cohort_member_unique ON cohort_member (cohort, "user")',
    "CREATE UNIQUE INDEX IF NOT EXISTS cohort_sync_unique ON cohort_sync (session, cohort)",
    "CREATE UNIQUE INDEX IF NOT EXISTS session_activity_source_unique ON session_activity (session, source)",
    # One valid certificate per enrolment: issuing twice (two workers, a retried request) is a no-op.
    "CREATE UNIQUE INDEX IF NOT EXISTS certificate_one_valid ON certificate (enrolment) WHERE status = 'valid'",
    # Never a second account for the same person (issue 19): one active account per real e-mail
    # address, whatever its capitals. Fictitious addresses (username.fictif@…) are left out: they
    # follow the username, which is unique anyway, and a renamed account keeps its old one.
    EMAIL_UNIQUE_INDEX,
]
