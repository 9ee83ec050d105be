"""PostgreSQL: the session's lists sorted by name (« Vue d'ensemble des inscrits », the participants)
read a range of an index (issue 24: a session of 20,000 learners sorted by joining app_user cost
190 ms a page). ``enrolment.name_key`` is a copy of the learner's ``app_user.last_name_key`` (folded,
COLLATE "C" as that column since 2026-11-23T14:30: the same order), kept by two triggers whatever
writes a name (app/tables/name_keys.py); ``enrolment_session_name`` is (session, name_key, id), ties
broken by id as app/datatable does.

Raw SQL, frozen here. SQLite gets the column from the table's declaration and the triggers from
app/db.py (the embedded mode's sessions are small, no index needed).
"""

from app.tables.raw_migration import raw_migration

ID = "2026-12-07T09:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Enrolments: the learner's name sort key, kept by triggers, and its index (PostgreSQL)"

STATEMENTS = [
    'ALTER TABLE enrolment ADD COLUMN name_key VARCHAR(100) COLLATE "C" NOT NULL DEFAULT \'\'',
    # The index before the rows are filled in: made after, over the HOT chains of that UPDATE, it would
    # be unusable by any transaction older than it (pg_index.indcheckxmin) for a while.
    "CREATE INDEX IF NOT EXISTS enrolment_session_name ON enrolment (session, name_key, id)",
    # The analytics rollup's trigger watches none of this column: off for the backfill (it would capture
    # the whole table twice as transition tables, for nothing).
    "ALTER TABLE enrolment DISABLE TRIGGER analytics_enrolment_update",
    'UPDATE enrolment e SET name_key = u.last_name_key FROM app_user u WHERE u.id = e."user" '
    "AND u.last_name_key <> ''",
    "ALTER TABLE enrolment ENABLE TRIGGER analytics_enrolment_update",
    # An enrolment inserted, or moved to another user (or its key written by hand): the user's key.
    """CREATE FUNCTION enrolment_name_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.name_key := COALESCE((SELECT last_name_key FROM app_user WHERE id = NEW."user"), '');
    RETURN NEW;
END $$""",
    'CREATE TRIGGER enrolment_name_key BEFORE INSERT OR UPDATE OF "user", name_key ON enrolment '
    "FOR EACH ROW EXECUTE FUNCTION enrolment_name_key()",
    # A user's last_name_key changed: their enrolments' keys (through the enrolment_user index).
    """CREATE FUNCTION app_user_name_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE enrolment SET name_key = NEW.last_name_key WHERE "user" = NEW.id;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER app_user_name_key AFTER UPDATE OF last_name_key ON app_user FOR EACH ROW "
    "WHEN (OLD.last_name_key IS DISTINCT FROM NEW.last_name_key) EXECUTE FUNCTION app_user_name_key()",
    "ANALYZE enrolment",
]
BACKWARDS = [
    "DROP TRIGGER IF EXISTS app_user_name_key ON app_user",
    "DROP TRIGGER IF EXISTS enrolment_name_key ON enrolment",
    "DROP FUNCTION IF EXISTS app_user_name_key()",
    "DROP FUNCTION IF EXISTS enrolment_name_key()",
    "DROP INDEX IF EXISTS enrolment_session_name",
    "ALTER TABLE enrolment DROP COLUMN IF EXISTS name_key",
]

forwards = raw_migration(ID, DESCRIPTION, STATEMENTS, list(BACKWARDS))
