"""Quality evidence (issue 23, SPEC X3): satisfaction surveys and their answers, the financers'
yearly survey, and the yearly reports (BPF, Cerfa 10443; the élus' report, CGCT R1221-22-1).

A survey is a session activity of kind ``survey`` (« Questionnaire »; its questions are JSON in the
activity's ``quiz`` column, app/services/surveys/questions.py). Who was asked and whether they
answered is a ``SurveyInvitation`` per (enrolment, survey); what they answered is a
``SurveyResponse``. An anonymous survey's response holds no enrolment and no date, and its
invitation no date of answer: nothing joins an answer to a person beyond « has answered ».
"""

from enum import Enum

from piccolo.columns import JSON, BigSerial, Boolean, Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.catalogue import CourseTemplate, SessionActivity, SurveyPhase, TrainingSession
from app.tables.learning import Enrolment
from app.tables.registration import Organisation


class SurveyInvitation(Table):
    """One learner asked to answer one survey: mailed, reminded, answered (a flag; the day too unless
    the survey is anonymous). Made once the survey opens for them; unique per (enrolment, survey)."""

    id = BigSerial(primary_key=True)
    enrolment = ForeignKey(references=Enrolment, on_delete=OnDelete.restrict, index=True)
    activity = ForeignKey(references=SessionActivity, on_delete=OnDelete.restrict, index=True)
    opens_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
    reminders = Integer(default=0)  # reminders mailed (two at most, settings)
    reminded_at = Timestamptz(null=True, default=None)
    answered = Boolean(default=False)
    answered_on = Date(null=True, default=None)  # None when the survey is anonymous

    unique_survey_invitation = Unique(["enrolment", "activity"])


class FinancerSurvey(Table):
    """The financers' survey of one year: sent to the organisations that referenced a registration
    request that year, at their validation address. Its questions are copied when it is launched."""

    year = Integer(unique=True)
    title = Varchar(length=255)
    questions = Text(default="")  # JSON, as a survey activity's
    launched_at = Timestamptz(default=TimestamptzNow())
    launched_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    closes_on = Date(null=True, default=None)


class FinancerInvitation(Table):
    survey = ForeignKey(references=FinancerSurvey, on_delete=OnDelete.restrict, index=True)
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.restrict, index=True)
    email = Varchar(length=254)
    sent_at = Timestamptz(null=True, default=None)
    reminders = Integer(default=0)
    reminded_at = Timestamptz(null=True, default=None)
    answered = Boolean(default=False)
    answered_on = Date(null=True, default=None)

    unique_financer_invitation = Unique(["survey", "organisation"])


class SurveyResponse(Table):
    """One answer to a survey: a learner's (``activity``, with ``session`` and ``template`` copied
    for the results per session and per template) or a financer's (``financer_survey``)."""

    id = BigSerial(primary_key=True)
    activity = ForeignKey(references=SessionActivity, null=True, on_delete=OnDelete.restrict, index=True)
    session = ForeignKey(references=TrainingSession, null=True, on_delete=OnDelete.restrict, index=True)
    template = ForeignKey(references=CourseTemplate, null=True, on_delete=OnDelete.set_null, index=True)
    phase = Varchar(length=8, default="", choices=SurveyPhase)
    financer_survey = ForeignKey(references=FinancerSurvey, null=True, on_delete=OnDelete.restrict, index=True)
    organisation = ForeignKey(references=Organisation, null=True, on_delete=OnDelete.set_null)
    # The learner's enrolment and the day, unless the survey is anonymous (both None then).
    enrolment = ForeignKey(references=Enrolment, null=True, on_delete=OnDelete.restrict)
    submitted_on = Date(null=True, default=None)
    answers = Text(default="")  # JSON: {"0": 4, "1": [0, 2], "2": "texte libre", …} by question index


class ReportKind(str, Enum):
    bpf = "bpf"  # Bilan pédagogique et financier (Cerfa 10443): frames E, F-1 to F-4, G
    elus = "elus"  # the élus' yearly report (CGCT R1221-22-1)


class YearReport(Table):
    """The figures of one yearly report, computed by a job (polars) and kept until recomputed."""

    kind = Varchar(length=8, choices=ReportKind)
    year = Integer()
    figures = JSON(default="{}")
    computed_at = Timestamptz(null=True, default=None)
    computed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)

    unique_year_report = Unique(["kind", "year"])
