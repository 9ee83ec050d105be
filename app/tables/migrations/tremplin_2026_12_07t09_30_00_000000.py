"""The audit trail of sensitive actions (issue 25): table ``audit_event``, searched by its folded
actor and target labels (trigram index), read newest first, purged by date."""

from app.tables.raw_migration import raw_migration

ID = "2026-12-07T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Audit trail"

FORWARDS = [
    'CREATE TABLE "audit_event" ("id" BIGSERIAL PRIMARY KEY NOT NULL, '
    '"at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, '
    '"actor" INTEGER REFERENCES "app_user" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null, '
    '"actor_label" VARCHAR(150) NOT NULL DEFAULT \'\', "action" VARCHAR(48) NOT NULL DEFAULT \'\', '
    '"target_kind" VARCHAR(32) NOT NULL DEFAULT \'\', "target_id" BIGINT NULL DEFAULT null, '
    '"target_label" VARCHAR(300) NOT NULL DEFAULT \'\', "details" TEXT NOT NULL DEFAULT \'{}\', '
    '"ip" VARCHAR(64) NOT NULL DEFAULT \'\', "search_text" TEXT NOT NULL DEFAULT \'\')',
    'CREATE INDEX audit_event_at ON "audit_event" ("at")',
    'CREATE INDEX audit_event_actor ON "audit_event" ("actor")',
    'CREATE INDEX audit_event_action ON "audit_event" ("action")',
    'CREATE INDEX audit_event_target_id ON "audit_event" ("target_id")',
    'CREATE INDEX audit_event_search_trgm ON "audit_event" USING gin (search_text gin_trgm_ops)',
]
BACKWARDS = ['DROP TABLE "audit_event"']

forwards = raw_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
