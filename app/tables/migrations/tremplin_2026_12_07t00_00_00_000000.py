"""Trainers, electronic attendance and the certificat de réalisation (issue 22).

New tables: ``session_trainer``, ``slot_trainer``, ``attendance_record`` (append-only evidence),
``slot_closure`` (the trainer's countersignature; frozen records). ``attendance.record`` points each
current state at its record; the attendance recorded before this migration gets one record each
(method « manager », who and when they already say), so the records are the one source from now on.
``training_session.signing_grace`` (minutes after a slot's end it can still be signed);
``certificate.kind`` (completion / realisation) joins its unique constraints. Raw SQL, frozen here."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Trainers, attendance records, slot closures, certificate kinds"

FORWARDS = [
    'CREATE TABLE "session_trainer" ("id" SERIAL PRIMARY KEY NOT NULL, '
    '"session" INTEGER REFERENCES "training_session" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"user" INTEGER REFERENCES "app_user" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"added_by" INTEGER REFERENCES "app_user" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null, '
    '"added_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)',
    'CREATE INDEX session_trainer_session ON "session_trainer" ("session")',
    'CREATE INDEX session_trainer_user ON "session_trainer" ("user")',
    'ALTER TABLE "session_trainer" ADD CONSTRAINT unique_session_trainer UNIQUE ("session", "user")',
    'CREATE TABLE "slot_trainer" ("id" SERIAL PRIMARY KEY NOT NULL, '
    '"slot" INTEGER REFERENCES "session_slot" ("id") ON DELETE CASCADE ON UPDATE CASCADE DEFAULT null, '
    '"user" INTEGER REFERENCES "app_user" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null)',
    'CREATE INDEX slot_trainer_slot ON "slot_trainer" ("slot")',
    'CREATE INDEX slot_trainer_user ON "slot_trainer" ("user")',
    'ALTER TABLE "slot_trainer" ADD CONSTRAINT unique_slot_trainer UNIQUE ("slot", "user")',
    'CREATE TABLE "attendance_record" ("id" BIGSERIAL PRIMARY KEY NOT NULL, '
    '"enrolment" INTEGER REFERENCES "enrolment" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"slot" INTEGER REFERENCES "session_slot" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"status" VARCHAR(16) NOT NULL DEFAULT \'\', "method" VARCHAR(16) NOT NULL DEFAULT \'\', '
    '"recorded_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, '
    '"recorded_by" INTEGER REFERENCES "app_user" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null, '
    '"signature" TEXT NOT NULL DEFAULT \'\', "client_hash" VARCHAR(64) NOT NULL DEFAULT \'\', '
    '"reason" TEXT NOT NULL DEFAULT \'\')',
    'CREATE INDEX attendance_record_enrolment ON "attendance_record" ("enrolment")',
    'CREATE INDEX attendance_record_slot ON "attendance_record" ("slot")',
    'CREATE TABLE "slot_closure" ("id" SERIAL PRIMARY KEY NOT NULL, '
    '"slot" INTEGER UNIQUE REFERENCES "session_slot" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"closed_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, '
    '"closed_by" INTEGER REFERENCES "app_user" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null, '
    '"countersignature" TEXT NOT NULL DEFAULT \'\', "certified" BOOLEAN NOT NULL DEFAULT true, '
    '"snapshot" JSON NOT NULL DEFAULT json_build_object(), "records_sha256" VARCHAR(64) NOT NULL DEFAULT \'\', '
    '"code" VARCHAR(16) UNIQUE NOT NULL DEFAULT \'\', "pdf_sha256" VARCHAR(64) NOT NULL DEFAULT \'\', '
    '"file" INTEGER REFERENCES "stored_file" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null)',
    'CREATE INDEX slot_closure_slot ON "slot_closure" ("slot")',
    'CREATE INDEX slot_closure_code ON "slot_closure" ("code")',
    'ALTER TABLE "attendance" ADD COLUMN "record" BIGINT REFERENCES "attendance_record" ("id") '
    'ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null',
    # The attendance recorded so far becomes records (the grid was the only way: « manager »).
    'INSERT INTO attendance_record (enrolment, slot, status, method, recorded_at, recorded_by) '
    "SELECT enrolment, slot, status, 'manager', recorded_at, recorded_by FROM attendance ORDER BY id",
    'UPDATE attendance SET record = r.id FROM attendance_record r '
    'WHERE r.enrolment = attendance.enrolment AND r.slot = attendance.slot',
    'ALTER TABLE "training_session" ADD COLUMN "signing_grace" INTEGER NOT NULL DEFAULT 30',
    'ALTER TABLE "certificate" ADD COLUMN "kind" VARCHAR(16) NOT NULL DEFAULT \'completion\'',
    'ALTER TABLE "certificate" DROP CONSTRAINT unique_enrolment_version',
    'ALTER TABLE "certificate" ADD CONSTRAINT unique_enrolment_kind_version UNIQUE ("enrolment", "kind", "version")',
    "DROP INDEX IF EXISTS certificate_one_valid",
    "CREATE UNIQUE INDEX IF NOT EXISTS certificate_one_valid_kind ON certificate (enrolment, kind) WHERE status = 'valid'",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS certificate_one_valid_kind",
    "DELETE FROM certificate WHERE kind <> 'completion'",
    "CREATE UNIQUE INDEX IF NOT EXISTS certificate_one_valid ON certificate (enrolment) WHERE status = 'valid'",
    'ALTER TABLE "certificate" DROP CONSTRAINT unique_enrolment_kind_version',
    'ALTER TABLE "certificate" ADD CONSTRAINT unique_enrolment_version UNIQUE ("enrolment", "version")',
    'ALTER TABLE "certificate" DROP COLUMN "kind"',
    'ALTER TABLE "training_session" DROP COLUMN "signing_grace"',
    'ALTER TABLE "attendance" DROP COLUMN "record"',
    'DROP TABLE "slot_closure"',
    'DROP TABLE "attendance_record"',
    'DROP TABLE "slot_trainer"',
    'DROP TABLE "session_trainer"',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.catalogue import TrainingSession

        for statement in FORWARDS:
            await TrainingSession.raw(statement)

    async def run_backwards():
        from app.tables.catalogue import TrainingSession

        for statement in BACKWARDS:
            await TrainingSession.raw(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
