"""Erasure requests (issue 25): table ``erasure_request``; at most one pending request per account
(a partial unique index: a double click records one)."""

from app.tables.raw_migration import raw_migration

ID = "2026-12-07T10:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Erasure requests"

FORWARDS = [
    'CREATE TABLE "erasure_request" ("id" BIGSERIAL PRIMARY KEY NOT NULL, '
    '"person" INTEGER REFERENCES "app_user" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null, '
    '"person_label" VARCHAR(300) NOT NULL DEFAULT \'\', "email" VARCHAR(254) NOT NULL DEFAULT \'\', '
    '"message" TEXT NOT NULL DEFAULT \'\', "requested_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, '
    '"status" VARCHAR(16) NOT NULL DEFAULT \'pending\', "answer" TEXT NOT NULL DEFAULT \'\', '
    '"handled_at" TIMESTAMPTZ NULL DEFAULT null, '
    '"handled_by" INTEGER REFERENCES "app_user" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null)',
    'CREATE INDEX erasure_request_person ON "erasure_request" ("person")',
    'CREATE INDEX erasure_request_requested_at ON "erasure_request" ("requested_at")',
    'CREATE INDEX erasure_request_status ON "erasure_request" ("status")',
    # A frozen copy of app/tables/constraints.py's.
    "CREATE UNIQUE INDEX IF NOT EXISTS erasure_request_one_pending ON erasure_request (person) "
    "WHERE status = 'pending'",
]
BACKWARDS = ['DROP TABLE "erasure_request"']

forwards = raw_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
