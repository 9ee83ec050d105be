"""The learning record (SPEC D1, D2): a person's enrolment in a session, how they came to be enrolled,
and what they completed.

One `Enrolment` row per (session, user) whatever the ways they were enrolled: those are its
`EnrolmentSource` rows (by hand, through cohort X, through registration request N). The enrolment is
active while one source remains; it is never deleted, so progress survives an unenrolment and comes
back with a re-enrolment. The progress summary lives on the enrolment, written in the same
transaction as each completion, so the overview sorts by progress with an ORDER BY and no aggregate.
"""

from enum import Enum

from piccolo.columns import BigSerial, Boolean, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.reference import LazyTableReference
from piccolo.constraints import Unique
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.catalogue import SessionActivity, SessionSlot, TrainingSession
from app.tables.cohorts import Cohort
from app.tables.registration import RegistrationRequest


class EnrolmentRole(str, Enum):
    learner = "learner"


class SourceKind(str, Enum):
    manual = "manual"
    cohort = "cohort"
    registration = "registration"


class CompletionHow(str, Enum):
    manual = "manual"  # the learner's "J'ai terminé"
    automatic = "automatic"  # on view, on passing the quiz
    manager = "manager"  # set by a manager, `by` says who


class TraineeType(str, Enum):
    """The trainee's type in the BPF's frame F-1 (labels in app/services/bpf/). Empty: the default
    from the account (an establishment's agent: public_agent; an elected official's registration:
    elected), or missing when none applies."""

    none = ""
    private_employee = "private_employee"  # a. salariés d'employeurs privés hors apprentis
    apprentice = "apprentice"  # b.
    job_seeker = "job_seeker"  # c. personnes en recherche d'emploi
    individual = "individual"  # d. particuliers à leurs propres frais
    public_agent = "public_agent"  # e. autres stagiaires: agents publics
    elected = "elected"  # e. autres stagiaires: élus
    other = "other"  # e. autres stagiaires


class Enrolment(Table):
    # Training records are never lost by a click: neither the session nor the person can be deleted
    # from under an enrolment (the app refuses, or deactivates the account instead).
    session = ForeignKey(references=TrainingSession, on_delete=OnDelete.restrict, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    role = Varchar(length=16, default=EnrolmentRole.learner, choices=EnrolmentRole)
    active = Boolean(default=True)
    enrolled_at = Timestamptz(default=TimestamptzNow())
    ended_at = Timestamptz(null=True, default=None)  # when the last source went
    # Progress summary, kept by app/services/progress_record.py in the completion's transaction.
    required_done = Integer(default=0)
    required_total = Integer(default=0)
    percent = Integer(default=0)
    last_visit = Timestamptz(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    last_activity = ForeignKey(references=SessionActivity, null=True, on_delete=OnDelete.set_null)  # « Reprendre »
    # The calendar invitation's SEQUENCE (RFC 5545): raised on every change of what it states
    # (the session's slots, place or dates; unenrolment; enrolment again). See services/convocations/.
    invitation_sequence = Integer(default=0)
    # Minutes of the session's slots recorded « présent » (app/services/attendance.py), kept with the
    # rest of the summary so the overview sorts and exports it without an aggregate.
    attended_minutes = Integer(default=0)
    # The BPF's trainee type (issue 23); "" takes the default from the account (see TraineeType).
    trainee_type = Varchar(length=24, default="", choices=TraineeType)
    # The learner's last-name sort key (app_user.last_name_key, folded; issue 24): a session's list
    # sorted by name is then a range of the index (session, name_key, id), not a join and sort of every
    # learner. Kept by the database itself (app/tables/name_keys.py): set on insert, and again on every
    # change of the user's last_name_key, whoever writes it (account edit, import, pseudonymisation).
    name_key = Varchar(length=100, default="")

    unique_session_user = Unique(["session", "user"])


class EnrolmentSource(Table):
    """One way a person is enrolled. `key` is unique per enrolment: "manual", "cohort:12", "request:7"."""

    enrolment = ForeignKey(references=Enrolment, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=16, choices=SourceKind)
    key = Varchar(length=40)
    cohort = ForeignKey(references=Cohort, null=True, on_delete=OnDelete.cascade, index=True)
    request = ForeignKey(references=RegistrationRequest, null=True, on_delete=OnDelete.set_null)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())

    unique_enrolment_key = Unique(["enrolment", "key"])


class ActivityCompletion(Table):
    id = BigSerial(primary_key=True)
    enrolment = ForeignKey(references=Enrolment, on_delete=OnDelete.restrict, index=True)
    activity = ForeignKey(references=SessionActivity, on_delete=OnDelete.restrict, index=True)
    completed_at = Timestamptz(default=TimestamptzNow())
    how = Varchar(length=16, choices=CompletionHow)
    by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)

    unique_enrolment_activity = Unique(["enrolment", "activity"])


class QuizAttempt(Table):
    """One submitted attempt at a quiz: the answers given, the score, whether it passed, and when."""

    id = BigSerial(primary_key=True)
    enrolment = ForeignKey(references=Enrolment, on_delete=OnDelete.restrict, index=True)
    activity = ForeignKey(references=SessionActivity, on_delete=OnDelete.restrict, index=True)
    answers = Text(default="")  # JSON: {question index: [chosen choice indexes]}
    score = Integer(default=0)  # percent of questions answered exactly right
    passed = Boolean(default=False)
    started_at = Timestamptz(null=True, default=None)  # when the quiz page was shown
    submitted_at = Timestamptz(default=TimestamptzNow())


class DiscussionMessage(Table):
    """The session's « Discuter » block: enrolled learners and the session's managers post here."""

    id = BigSerial(primary_key=True)
    session = ForeignKey(references=TrainingSession, on_delete=OnDelete.restrict, index=True)
    author = ForeignKey(references=User, on_delete=OnDelete.restrict)
    body = Text()  # plain text, escaped when shown
    created_at = Timestamptz(default=TimestamptzNow())
    hidden_at = Timestamptz(null=True, default=None)
    hidden_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class AttendanceStatus(str, Enum):
    present = "present"
    absent = "absent"
    excused = "excused"  # absence justifiée: recorded, but no hours attended


class Attendance(Table):
    """What happened at one slot for one enrolment (feuille d'émargement, issue 12). A slot with
    recorded attendance cannot be removed from the session (the record is training evidence)."""

    id = BigSerial(primary_key=True)
    enrolment = ForeignKey(references=Enrolment, on_delete=OnDelete.restrict, index=True)
    slot = ForeignKey(references=SessionSlot, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=16, choices=AttendanceStatus)
    recorded_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    recorded_at = Timestamptz(default=TimestamptzNow())
    # The record (app/tables/evidence.py) this state comes from: written together (issue 22).
    record = ForeignKey(references=LazyTableReference("AttendanceRecord", module_path="app.tables.evidence"),
                        null=True, on_delete=OnDelete.set_null)

    unique_enrolment_slot = Unique(["enrolment", "slot"])
