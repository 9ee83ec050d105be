"""The analytics dashboard's rollup (issue 24, ten times the data; app/tables/analytics.py,
app/services/analytics_rollup.py): four tables, and the triggers that note in ``analytics_dirty``
every session whose figures a write changes — whatever writes (the app's helpers, an import, a
manager's correction, psql): the enrolments (inserted, deleted, or updated in a column the dashboard
reads), the certificates, an account's ``external``, a session's establishment or template.
Statement-level triggers with transition tables: one INSERT … SELECT a statement, set-based, and an
append-only table (no writer waits for another). Every session is noted once here: the first
computation of the dashboard (or the ``refresh_analytics`` cron) fills the rollup.

Raw SQL, frozen here. The columns watched are app/services/analytics_rollup.py's ``WATCHED``
(tests/services/test_analytics_rollup.py checks they are the ones the dashboard reads).
SQLite: the tables only (the embedded database computes from the enrolments)."""

from app.tables.raw_migration import raw_migration

ID = "2026-12-07T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Analytics: a rollup per session kept by triggers (PostgreSQL)"

TABLES = [
    'CREATE TABLE "analytics_dirty" ("id" SERIAL PRIMARY KEY NOT NULL, "session" INTEGER NOT NULL DEFAULT 0)',
    'CREATE TABLE "analytics_session" ("id" SERIAL PRIMARY KEY NOT NULL, "session" INTEGER NOT NULL DEFAULT 0, '
    '"audience" INTEGER NOT NULL DEFAULT 0, "establishment" INTEGER NOT NULL DEFAULT 0, '
    '"template" INTEGER NOT NULL DEFAULT 0, "n" BIGINT NOT NULL DEFAULT 0, "started" BIGINT NOT NULL DEFAULT 0, '
    '"done" BIGINT NOT NULL DEFAULT 0, "certified" BIGINT NOT NULL DEFAULT 0, "attended" BIGINT NOT NULL DEFAULT 0, '
    '"attendees" BIGINT NOT NULL DEFAULT 0, "median_days" DOUBLE PRECISION DEFAULT null, '
    '"p80_days" DOUBLE PRECISION DEFAULT null)',
    'ALTER TABLE "analytics_session" ADD CONSTRAINT analytics_session_unique UNIQUE ("session", "audience")',
    'CREATE TABLE "analytics_part" ("id" SERIAL PRIMARY KEY NOT NULL, "session" INTEGER NOT NULL DEFAULT 0, '
    '"establishment" INTEGER NOT NULL DEFAULT 0, "template" INTEGER NOT NULL DEFAULT 0, '
    '"external" BOOLEAN NOT NULL DEFAULT false, "kind" INTEGER NOT NULL DEFAULT 0, "value" BIGINT NOT NULL DEFAULT 0, '
    '"n" BIGINT NOT NULL DEFAULT 0)',
    'CREATE INDEX analytics_part_session ON "analytics_part" ("session")',
    'CREATE TABLE "analytics_part_sum" ("id" SERIAL PRIMARY KEY NOT NULL, "establishment" INTEGER NOT NULL DEFAULT 0, '
    '"template" INTEGER NOT NULL DEFAULT 0, "external" BOOLEAN NOT NULL DEFAULT false, '
    '"kind" INTEGER NOT NULL DEFAULT 0, "value" BIGINT NOT NULL DEFAULT 0, "n" BIGINT NOT NULL DEFAULT 0)',
    'ALTER TABLE "analytics_part_sum" ADD CONSTRAINT analytics_part_sum_unique '
    'UNIQUE ("establishment", "template", "external", "kind", "value")',
]

# The enrolment's columns the dashboard reads (app/services/analytics.py _fact_sql).
ENROLMENT = ("session", "user", "active", "enrolled_at", "completed_at", "last_visit", "required_done",
             "attended_minutes")
# last_visit and required_done are read only as « started » (a visit or an activity done): a learner's
# every visit rewrites last_visit, which must not mark the session each time.
STARTED = '({0}.last_visit IS NOT NULL OR {0}.required_done > 0)'
CHANGED = " OR ".join([f'o."{c}" IS DISTINCT FROM n."{c}"' for c in ENROLMENT
                       if c not in ("last_visit", "required_done")]
                      + [f"{STARTED.format('o')} IS DISTINCT FROM {STARTED.format('n')}"])

# (function, table, event, REFERENCING, the sessions it notes)
TRIGGERS = [
    ("analytics_enrolment_insert", "enrolment", "INSERT", "NEW TABLE AS new_rows", "SELECT session FROM new_rows"),
    ("analytics_enrolment_delete", "enrolment", "DELETE", "OLD TABLE AS old_rows", "SELECT session FROM old_rows"),
    ("analytics_enrolment_update", "enrolment", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
     f"SELECT s FROM old_rows o JOIN new_rows n ON n.id = o.id, LATERAL (VALUES (o.session), (n.session)) v(s) "
     f"WHERE {CHANGED}"),
    ("analytics_certificate_insert", "certificate", "INSERT", "NEW TABLE AS new_rows",
     "SELECT e.session FROM new_rows c JOIN enrolment e ON e.id = c.enrolment"),
    ("analytics_certificate_delete", "certificate", "DELETE", "OLD TABLE AS old_rows",
     "SELECT e.session FROM old_rows c JOIN enrolment e ON e.id = c.enrolment"),
    ("analytics_certificate_update", "certificate", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
     "SELECT e.session FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN enrolment e ON e.id IN (o.enrolment, n.enrolment) "
     "WHERE (o.status, o.kind, o.enrolment) IS DISTINCT FROM (n.status, n.kind, n.enrolment)"),
    ("analytics_session_update", "training_session", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
     "SELECT n.id FROM old_rows o JOIN new_rows n ON n.id = o.id "
     "WHERE (o.establishment, o.template) IS DISTINCT FROM (n.establishment, n.template)"),
]

STATEMENTS = []
for function, table, event, referencing, sessions in TRIGGERS:
    STATEMENTS += [
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO analytics_dirty (session) SELECT DISTINCT d.s FROM ({sessions}) d(s) WHERE d.s IS NOT NULL; "
        f"RETURN NULL; END $$",
        f"CREATE TRIGGER {function} AFTER {event} ON {table} REFERENCING {referencing} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]
STATEMENTS += [
    # An account's ``external``: a row trigger that fires only when it changes (app_user is updated at
    # every login and page, its last_access: a statement trigger would capture every one of them).
    "CREATE FUNCTION analytics_user_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO analytics_dirty (session) SELECT DISTINCT e.session FROM enrolment e WHERE e.\"user\" = NEW.id; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER analytics_user_update AFTER UPDATE OF external ON app_user FOR EACH ROW "
    "WHEN (OLD.external IS DISTINCT FROM NEW.external) EXECUTE FUNCTION analytics_user_update()",
    # TRUNCATE has no transition table: every session with figures is noted.
    "CREATE FUNCTION analytics_enrolment_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO analytics_dirty (session) SELECT DISTINCT session FROM analytics_session; RETURN NULL; END $$",
    "CREATE TRIGGER analytics_enrolment_truncate AFTER TRUNCATE ON enrolment "
    "FOR EACH STATEMENT EXECUTE FUNCTION analytics_enrolment_truncate()",
    # Every session once: the first refresh fills the rollup.
    "INSERT INTO analytics_dirty (session) SELECT id FROM training_session",
]
BACKWARDS = (
    [f"DROP TRIGGER IF EXISTS {f} ON {t}" for f, t, *_ in TRIGGERS]
    + ["DROP TRIGGER IF EXISTS analytics_enrolment_truncate ON enrolment",
       "DROP TRIGGER IF EXISTS analytics_user_update ON app_user", "DROP FUNCTION IF EXISTS analytics_user_update()"]
    + [f"DROP FUNCTION IF EXISTS {f}()" for f, *_ in TRIGGERS]
    + ["DROP FUNCTION IF EXISTS analytics_enrolment_truncate()"]
    + [f"DROP TABLE IF EXISTS {t}" for t in ("analytics_part_sum", "analytics_part", "analytics_session",
                                             "analytics_dirty")]
)

forwards = raw_migration(ID, DESCRIPTION, TABLES + STATEMENTS, list(BACKWARDS))
