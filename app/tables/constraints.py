"""The partial unique indexes, which Piccolo cannot declare: its ``Unique`` constraint takes columns,
not an expression nor a WHERE clause (the composite ones are declared on their tables with
``piccolo.constraints.Unique``). Created by migrations on PostgreSQL (frozen copies there) and by
``app.db.create_sqlite_tables`` on SQLite; the idempotent writes and the e-mail check rely on them."""

EMAIL_UNIQUE_INDEX_NAME = "app_user_email_unique"
# The rows it covers (also the duplicates' query of its migration, 2026-12-06T18:30).
EMAIL_UNIQUE_WHERE = "deactivated_at IS NULL AND email <> '' AND email NOT LIKE '%.fictif@%'"
EMAIL_UNIQUE_INDEX = (f"CREATE UNIQUE INDEX IF NOT EXISTS {EMAIL_UNIQUE_INDEX_NAME} ON app_user (lower(email)) "
                      f"WHERE {EMAIL_UNIQUE_WHERE}")

PARTIAL_UNIQUE_INDEXES = [
    # One valid certificate of each kind per enrolment: issuing twice (two workers, a retried request)
    # is a no-op.
    "CREATE UNIQUE INDEX IF NOT EXISTS certificate_one_valid_kind ON certificate (enrolment, kind) "
    "WHERE status = 'valid'",
    # Never a second account for the same person (issue 19): one active account per real e-mail
    # address, whatever its capitals. Fictitious addresses (username.fictif@…) are left out: they
    # follow the username, which is unique anyway, and a renamed account keeps its old one.
    EMAIL_UNIQUE_INDEX,
    # One pending erasure request per account (issue 25): a double click records one.
    "CREATE UNIQUE INDEX IF NOT EXISTS erasure_request_one_pending ON erasure_request (person) "
    "WHERE status = 'pending'",
]
