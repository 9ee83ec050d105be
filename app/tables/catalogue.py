"""The catalogue of template courses ("cours modèles", SPEC B1) and training sessions (B2, B3)."""

from enum import Enum

from piccolo.columns import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Time,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.files import StoredFile
from app.tables.cohorts import Cohort
from app.tables.org import Establishment
from app.tables.searchable import Searchable


class CompletionRule(str, Enum):
    none = "none"  # not tracked
    manual = "manual"  # the learner's « J'ai terminé »
    view = "view"  # completed when opened
    quiz = "quiz"  # completed when an attempt passes


class ActivityKind(str, Enum):
    """Labels in app/services/activities.py ACTIVITY_KINDS."""

    page = "page"
    video = "video"
    file = "file"
    quiz = "quiz"
    forum = "forum"
    reminder = "reminder"  # Moodle's « Réengagement »: kept for managers, never shown to learners
    survey = "survey"  # « Questionnaire » (issue 23): satisfaction à chaud / à froid, answered once


class SurveyPhase(str, Enum):
    """When a questionnaire is sent (labels in app/services/surveys/)."""

    none = ""  # answered from the session page, no mail
    hot = "hot"  # « à chaud »: opens at the end of the last slot (or at completion, e-learning)
    cold = "cold"  # « à froid »: N days after (setting survey_cold_days, default 60)


class Assessment(str, Enum):
    """What a quiz measures (Qualiopi indicators 8 and 11)."""

    none = ""
    entry = "entry"  # « Positionnement (entrée) »
    exit = "exit"  # « Évaluation des acquis (sortie) »


class BpfObjective(str, Enum):
    """« Objectif général des prestations dispensées » (BPF frame F-3); labels in app/services/bpf/."""

    none = ""
    rncp_6_8 = "rncp_6_8"  # a. RNCP, niveaux 6 à 8
    rncp_5 = "rncp_5"
    rncp_4 = "rncp_4"
    rncp_3 = "rncp_3"
    rncp_2 = "rncp_2"
    rncp_cqp = "rncp_cqp"  # a. CQP sans niveau de qualification
    rs = "rs"  # b. certification ou habilitation au répertoire spécifique
    cqp = "cqp"  # c. CQP non enregistré
    other = "other"  # d. autres formations professionnelles
    skills_review = "skills_review"  # e. bilans de compétences
    vae = "vae"  # f. accompagnement à la VAE


class Delivery(str, Enum):
    """Who delivers a session, for the BPF (frames F-2 and G)."""

    own = "own"  # delivered by the organisation for its own account
    subcontracted_out = "subcontracted_out"  # F-2: entrusted by us to another training organisation
    subcontracted_in = "subcontracted_in"  # G: entrusted to us by another training organisation


class ContentImportStatus(str, Enum):
    draft = "draft"  # steps 1-3, or given up by the job layer (it can be launched again)
    queued = "queued"
    running = "running"
    done = "done"


class CourseTemplate(Searchable, Table):
    SEARCHED = ("code", "title", "short_name")

    code = Varchar(length=8, unique=True)  # catalogue code used in session codes: C03
    title = Varchar(length=255)
    short_name = Varchar(length=255)
    objectives = Text(default="")
    duration = Varchar(length=64, default="")  # "7 heures"
    certificate_text = Text(default="")  # hidden from learners
    progress_block = Boolean(default=True)
    discussion_block = Boolean(default=True)
    visible = Boolean(default=True)
    search_text = Text(default="")  # folded code, title and short name
    created_at = Timestamptz(default=TimestamptzNow())
    # The BPF (issue 23): the NSF speciality code (« Nomenclature des spécialités de formation », 3
    # digits and a letter, 331 or 331t) and the objective (frames F-4 and F-3).
    nsf_code = Varchar(length=8, default="")
    bpf_objective = Varchar(length=16, default="", choices=BpfObjective)


class TemplateActivity(Table):
    template = ForeignKey(references=CourseTemplate, on_delete=OnDelete.cascade, index=True)
    position = Integer(default=0)
    kind = Varchar(length=32, default="page", choices=ActivityKind)
    title = Varchar(length=255)
    content = Text(default="")  # page: sanitised HTML; other kinds: an introduction
    required = Boolean(default=True)
    completion = Varchar(length=16, default=CompletionRule.manual, choices=CompletionRule)
    # JSON: a quiz's [{"text": …, "choices": [{"text": …, "correct": bool}], "objective": n}], or a
    # questionnaire's questions (app/services/surveys/questions.py)
    quiz = Text(default="")
    pass_mark = Integer(default=80)  # percent needed to pass the quiz
    video_url = Varchar(length=500, default="")
    file = ForeignKey(references=StoredFile, null=True, on_delete=OnDelete.set_null)
    # Issue 23: a questionnaire's sending (kind survey; its questions are JSON in ``quiz``) and whether
    # its answers are anonymous; what a quiz measures (entry / exit assessment, its questions tagged
    # with the template's objectives).
    survey_phase = Varchar(length=8, default="", choices=SurveyPhase)
    anonymous = Boolean(default=False)
    assessment = Varchar(length=8, default="", choices=Assessment)


class TrainingSession(Searchable, Table):
    SEARCHED = ("code", "full_name", "short_name")

    establishment = ForeignKey(references=Establishment, on_delete=OnDelete.cascade, index=True)
    template = ForeignKey(references=CourseTemplate, null=True, on_delete=OnDelete.set_null)
    full_name = Varchar(length=255)
    short_name = Varchar(length=255)
    visible = Boolean(default=True)
    start_date = Date()
    end_date = Date()
    id_number = Varchar(length=100, default="")
    code = Varchar(length=32, unique=True, index=True)  # public registration code: 26C03S1
    seats = Integer(null=True, default=None)
    certificate_text = Text(default="")
    # Bumped each time certificate_text changes: a certificate's snapshot says which version made it.
    certificate_version = Integer(default=1)
    # « Présence minimale (%) »: when set, completion also needs this share of the slots' hours attended.
    min_attendance_percent = Integer(null=True, default=None)
    # Electronic attendance (issue 22): a slot is open for signing from 30 min before its start until
    # this many minutes after its end.
    signing_grace = Integer(default=30)
    # Where and who (issue 12): an address, or "à distance" with its link; a contact person.
    place = Text(default="")
    remote_url = Varchar(length=500, default="")
    contact = Varchar(length=255, default="")
    # Convocations (issue 12, X2): what learners bring, whether enrolling mails the convocation by
    # itself, and the cancellation of the session (records stay; invitations are cancelled).
    what_to_bring = Text(default="")
    auto_convocations = Boolean(default=True)
    cancelled_at = Timestamptz(null=True, default=None)
    progress_block = Boolean(default=False)
    discussion_block = Boolean(default=False)
    imported_at = Timestamptz(null=True, default=None)
    # Who delivers it, for the BPF's frames F-2 and G (issue 23).
    delivery = Varchar(length=24, default=Delivery.own, choices=Delivery)
    # « Cofinancée par le FSE » (issue 25): its evidence is kept as long as European funds require.
    fse_cofinanced = Boolean(default=False)
    search_text = Text(default="")  # folded code, full and short names
    created_at = Timestamptz(default=TimestamptzNow())


class SessionSlot(Table):
    """A time slot of a session day: half-days are what French funders count (09:00-12:30)."""

    session = ForeignKey(references=TrainingSession, on_delete=OnDelete.cascade, index=True)
    day = Date()
    starts = Time()
    ends = Time()

    unique_session_day_start = Unique(["session", "day", "starts"])


class SessionActivity(Table):
    session = ForeignKey(references=TrainingSession, on_delete=OnDelete.cascade, index=True)
    source = ForeignKey(references=TemplateActivity, null=True, on_delete=OnDelete.set_null)
    position = Integer(default=0)
    kind = Varchar(length=32, default="page", choices=ActivityKind)
    title = Varchar(length=255)
    content = Text(default="")  # page: sanitised HTML; other kinds: an introduction
    required = Boolean(default=True)
    completion = Varchar(length=16, default=CompletionRule.manual, choices=CompletionRule)
    # JSON: a quiz's [{"text": …, "choices": [{"text": …, "correct": bool}], "objective": n}], or a
    # questionnaire's questions (app/services/surveys/questions.py)
    quiz = Text(default="")
    pass_mark = Integer(default=80)  # percent needed to pass the quiz
    video_url = Varchar(length=500, default="")
    file = ForeignKey(references=StoredFile, null=True, on_delete=OnDelete.set_null)
    # Issue 23: a questionnaire's sending (kind survey; its questions are JSON in ``quiz``) and whether
    # its answers are anonymous; what a quiz measures (entry / exit assessment, its questions tagged
    # with the template's objectives).
    survey_phase = Varchar(length=8, default="", choices=SurveyPhase)
    anonymous = Boolean(default=False)
    assessment = Varchar(length=8, default="", choices=Assessment)
    # Retired by a manager: hidden from learners and no longer required, its completions and quiz
    # attempts kept (an activity with records is never deleted); a manager can restore it.
    retired_at = Timestamptz(null=True, default=None)

    # A template activity is in a session once (NULL sources — activities made in the session — are distinct).
    session_activity_source_unique = Unique(["session", "source"])


class ContentImport(Table):
    """One run of the six-step import wizard; the job's state and the choices of steps 1-3."""

    session = ForeignKey(references=TrainingSession, on_delete=OnDelete.cascade, index=True)
    template = ForeignKey(references=CourseTemplate, null=True, on_delete=OnDelete.set_null)
    settings = Text(default="")  # the step-2 checkboxes kept, one name per line
    activity_ids = Text(default="")  # the step-3 selection, comma-separated
    status = Varchar(length=16, default="draft", choices=ContentImportStatus)
    token = Varchar(length=64, default="")
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class CohortSync(Table):
    """The "Synchronisation des cohortes" enrolment method of a session (SPEC C3)."""

    session = ForeignKey(references=TrainingSession, on_delete=OnDelete.cascade, index=True)
    cohort = ForeignKey(references=Cohort, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz(default=TimestamptzNow())

    cohort_sync_unique = Unique(["session", "cohort"])
