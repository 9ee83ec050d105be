import os

from piccolo.conf.apps import AppConfig

from app.tables.accounts import RoleAssignment, User
from app.tables.analytics import AnalyticsDirty, AnalyticsPart, AnalyticsPartSum, AnalyticsSession
from app.tables.audit import AuditEvent
from app.tables.catalogue import (
    CohortSync,
    ContentImport,
    CourseTemplate,
    SessionActivity,
    SessionSlot,
    TemplateActivity,
    TrainingSession,
)
from app.tables.certificates import Certificate
from app.tables.cohorts import Cohort, CohortMember
from app.tables.convocations import ConvocationNotice
from app.tables.registration import Organisation, RefItem, RegistrationRequest, RequestEvent
from app.tables.imports import ImportBatch, ImportRow
from app.tables.jobs import JobAction, JobRun
from app.tables.evidence import AttendanceRecord, SessionTrainer, SlotClosure, SlotTrainer
from app.tables.files import StoredFile, StoredFileChunk
from app.tables.learning import ActivityCompletion, Attendance, DiscussionMessage, Enrolment, EnrolmentSource, QuizAttempt
from app.tables.org import Delegation, Establishment
from app.tables.quality import FinancerInvitation, FinancerSurvey, SurveyInvitation, SurveyResponse, YearReport
from app.tables.outbox import Mail, MailAttachment, PlatformSetting
from app.tables.privacy import ErasureRequest

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

# Creation order matters for SQLite's create_sqlite_tables (app/db.py; foreign keys first).
TABLES = [
    Delegation, Establishment, User, RoleAssignment, Mail, MailAttachment, PlatformSetting,
    Cohort, CohortMember, ImportBatch, ImportRow, StoredFile, StoredFileChunk,
    CourseTemplate, TemplateActivity, TrainingSession, SessionSlot, SessionActivity, ContentImport, CohortSync,
    RefItem, Organisation, RegistrationRequest, RequestEvent, Enrolment, EnrolmentSource, ActivityCompletion,
    Certificate, QuizAttempt, DiscussionMessage, JobRun, JobAction, ConvocationNotice,
    SessionTrainer, SlotTrainer, AttendanceRecord, Attendance, SlotClosure,
    SurveyInvitation, FinancerSurvey, FinancerInvitation, SurveyResponse, YearReport, AuditEvent,
    AnalyticsDirty, AnalyticsSession, AnalyticsPart, AnalyticsPartSum, ErasureRequest,
]

APP_CONFIG = AppConfig(
    app_name="tremplin",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "migrations"),
    table_classes=TABLES,
    migration_dependencies=[],
    commands=[],
)
