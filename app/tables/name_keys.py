"""An enrolment's copy of its learner's last-name sort key (``enrolment.name_key``, issue 24), kept by
the database: a session's list sorted by name reads a range of the index (session, name_key, id)
instead of joining and sorting every learner of the session (20,000: 190 ms).

The key is ``app_user.last_name_key`` as it is (folded, compared byte by byte: COLLATE "C" on
PostgreSQL, BINARY on SQLite), so the order is the one the join gave. Triggers keep it, not the
writers: an enrolment gets it when it is inserted (or moved to another user), and every enrolment
of a user gets the new one when their last_name_key changes, whatever writes it (the account form,
an import's bulk update, a pseudonymisation, a hand-written UPDATE).

PostgreSQL gets them from its migration (2026-12-07T09:20, a frozen copy); SQLite from
``app.db.create_sqlite_tables`` (``SQLITE_TRIGGERS`` below, idempotent; then ``SQLITE_BACKFILL`` once,
for an embedded database made before the column).
"""

SQLITE_TRIGGERS = [
    # SQLite's BEFORE triggers cannot change NEW: the inserted row is updated right after.
    "CREATE TRIGGER IF NOT EXISTS enrolment_name_key_insert AFTER INSERT ON enrolment BEGIN "
    "UPDATE enrolment SET name_key = COALESCE((SELECT last_name_key FROM app_user WHERE id = NEW.\"user\"), '') "
    "WHERE id = NEW.id; END",
    # Moved to another user, or its key written by hand (SQLite's triggers do not fire themselves again).
    "CREATE TRIGGER IF NOT EXISTS enrolment_name_key_update AFTER UPDATE OF \"user\", name_key ON enrolment BEGIN "
    "UPDATE enrolment SET name_key = COALESCE((SELECT last_name_key FROM app_user WHERE id = NEW.\"user\"), '') "
    "WHERE id = NEW.id; END",
    "CREATE TRIGGER IF NOT EXISTS app_user_name_key AFTER UPDATE OF last_name_key ON app_user "
    "WHEN OLD.last_name_key IS NOT NEW.last_name_key BEGIN "
    "UPDATE enrolment SET name_key = NEW.last_name_key WHERE \"user\" = NEW.id; END",
]

SQLITE_BACKFILL = [
    "UPDATE enrolment SET name_key = COALESCE((SELECT last_name_key FROM app_user WHERE id = enrolment.\"user\"), '')",
]
