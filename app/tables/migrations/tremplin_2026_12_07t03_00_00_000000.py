"""Quality evidence (issue 23): surveys, entry and exit assessments, the BPF and the élus' report.

New tables: ``survey_invitation``, ``financer_survey``, ``financer_invitation``, ``survey_response``,
``year_report``. New columns: the questionnaire's sending, anonymity and the quiz's assessment on
both activity tables; the template's NSF code and BPF objective; the session's delivery (own or
subcontracted, BPF F-2 and G); the enrolment's trainee type (F-1); the trainer's status (E).
Raw SQL, frozen here."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Surveys, assessments, BPF figures"

_ACTIVITY_COLUMNS = [
    '"survey_phase" VARCHAR(8) NOT NULL DEFAULT \'\'',
    '"anonymous" BOOLEAN NOT NULL DEFAULT false',
    '"assessment" VARCHAR(8) NOT NULL DEFAULT \'\'',
]

FORWARDS = [
    *(f'ALTER TABLE "{table}" ADD COLUMN {column}'
      for table in ("template_activity", "session_activity") for column in _ACTIVITY_COLUMNS),
    'ALTER TABLE "course_template" ADD COLUMN "nsf_code" VARCHAR(8) NOT NULL DEFAULT \'\'',
    'ALTER TABLE "course_template" ADD COLUMN "bpf_objective" VARCHAR(16) NOT NULL DEFAULT \'\'',
    'ALTER TABLE "training_session" ADD COLUMN "delivery" VARCHAR(24) NOT NULL DEFAULT \'own\'',
    'ALTER TABLE "enrolment" ADD COLUMN "trainee_type" VARCHAR(24) NOT NULL DEFAULT \'\'',
    'ALTER TABLE "app_user" ADD COLUMN "trainer_status" VARCHAR(16) NOT NULL DEFAULT \'\'',
    'CREATE TABLE "survey_invitation" ("id" BIGSERIAL PRIMARY KEY NOT NULL, '
    '"enrolment" INTEGER REFERENCES "enrolment" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"activity" INTEGER REFERENCES "session_activity" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"opens_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, '
    '"sent_at" TIMESTAMPTZ NULL DEFAULT null, "reminders" INTEGER NOT NULL DEFAULT 0, '
    '"reminded_at" TIMESTAMPTZ NULL DEFAULT null, "answered" BOOLEAN NOT NULL DEFAULT false, '
    '"answered_on" DATE NULL DEFAULT null)',
    'CREATE INDEX survey_invitation_enrolment ON "survey_invitation" ("enrolment")',
    'CREATE INDEX survey_invitation_activity ON "survey_invitation" ("activity")',
    'ALTER TABLE "survey_invitation" ADD CONSTRAINT unique_survey_invitation UNIQUE ("enrolment", "activity")',
    'CREATE TABLE "financer_survey" ("id" SERIAL PRIMARY KEY NOT NULL, "year" INTEGER UNIQUE NOT NULL DEFAULT 0, '
    '"title" VARCHAR(255) NOT NULL DEFAULT \'\', "questions" TEXT NOT NULL DEFAULT \'\', '
    '"launched_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, '
    '"launched_by" INTEGER REFERENCES "app_user" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null, '
    '"closes_on" DATE NULL DEFAULT null)',
    'CREATE TABLE "financer_invitation" ("id" SERIAL PRIMARY KEY NOT NULL, '
    '"survey" INTEGER REFERENCES "financer_survey" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"organisation" INTEGER REFERENCES "organisation" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"email" VARCHAR(254) NOT NULL DEFAULT \'\', "sent_at" TIMESTAMPTZ NULL DEFAULT null, '
    '"reminders" INTEGER NOT NULL DEFAULT 0, "reminded_at" TIMESTAMPTZ NULL DEFAULT null, '
    '"answered" BOOLEAN NOT NULL DEFAULT false, "answered_on" DATE NULL DEFAULT null)',
    'CREATE INDEX financer_invitation_survey ON "financer_invitation" ("survey")',
    'CREATE INDEX financer_invitation_organisation ON "financer_invitation" ("organisation")',
    'ALTER TABLE "financer_invitation" ADD CONSTRAINT unique_financer_invitation UNIQUE ("survey", "organisation")',
    'CREATE TABLE "survey_response" ("id" BIGSERIAL PRIMARY KEY NOT NULL, '
    '"activity" INTEGER REFERENCES "session_activity" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"session" INTEGER REFERENCES "training_session" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"template" INTEGER REFERENCES "course_template" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null, '
    '"phase" VARCHAR(8) NOT NULL DEFAULT \'\', '
    '"financer_survey" INTEGER REFERENCES "financer_survey" ("id") ON DELETE RESTRICT ON UPDATE CASCADE '
    'DEFAULT null, '
    '"organisation" INTEGER REFERENCES "organisation" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null, '
    '"enrolment" INTEGER REFERENCES "enrolment" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null, '
    '"submitted_on" DATE NULL DEFAULT null, "answers" TEXT NOT NULL DEFAULT \'\')',
    'CREATE INDEX survey_response_activity ON "survey_response" ("activity")',
    'CREATE INDEX survey_response_session ON "survey_response" ("session")',
    'CREATE INDEX survey_response_template ON "survey_response" ("template")',
    'CREATE INDEX survey_response_financer_survey ON "survey_response" ("financer_survey")',
    'CREATE TABLE "year_report" ("id" SERIAL PRIMARY KEY NOT NULL, "kind" VARCHAR(8) NOT NULL DEFAULT \'\', '
    '"year" INTEGER NOT NULL DEFAULT 0, "figures" JSON NOT NULL DEFAULT json_build_object(), '
    '"computed_at" TIMESTAMPTZ NULL DEFAULT null, '
    '"computed_by" INTEGER REFERENCES "app_user" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null)',
    'ALTER TABLE "year_report" ADD CONSTRAINT unique_year_report UNIQUE ("kind", "year")',
]
BACKWARDS = [
    'DROP TABLE "year_report"',
    'DROP TABLE "survey_response"',
    'DROP TABLE "financer_invitation"',
    'DROP TABLE "financer_survey"',
    'DROP TABLE "survey_invitation"',
    'ALTER TABLE "app_user" DROP COLUMN "trainer_status"',
    'ALTER TABLE "enrolment" DROP COLUMN "trainee_type"',
    'ALTER TABLE "training_session" DROP COLUMN "delivery"',
    'ALTER TABLE "course_template" DROP COLUMN "bpf_objective"',
    'ALTER TABLE "course_template" DROP COLUMN "nsf_code"',
    *(f'ALTER TABLE "{table}" DROP COLUMN "{column}"' for table in ("template_activity", "session_activity")
      for column in ("survey_phase", "anonymous", "assessment")),
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
