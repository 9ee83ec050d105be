"""Convocations and calendar invitations (issue 12, X2).

A ``ConvocationNotice`` is one mail to write about one enrolment — a convocation, its update, its
cancellation, a reminder — recorded in the transaction of the change that causes it (the outbox
pattern): a job renders the PDF and the ``.ics`` and writes the outbox mail afterwards, so enrolling
500 people never renders 500 PDFs inside the request. ``dedup_key`` makes the reminders happen
once: one row per (kind, enrolment), inserted with ON CONFLICT DO NOTHING whatever the number of
workers or restarts — and one convocation per (enrolment, SEQUENCE): a convocation or an update is
keyed ``invitation:<enrolment>:<sequence>``, so a second click on « Envoyer les convocations » (or a
second tab) inserts nothing; the sequence only moves when something the invitation states changed.
It is null for cancellations, and released (null) when a notice fails, so it can be sent again.

A notice is built at most ``MAX_ATTEMPTS`` times (``attempts``, counted when a job claims it): after
that it is ``failed``, with ``last_error``, shown on the operations dashboard and on the session's
convocation page.
"""

from enum import Enum

from piccolo.columns import ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.catalogue import TrainingSession
from app.tables.learning import Enrolment


class NoticeKind(str, Enum):
    convocation = "convocation"
    update = "update"
    cancellation = "cancellation"
    reminder_7 = "reminder_7"
    reminder_1 = "reminder_1"


class NoticeStatus(str, Enum):
    pending = "pending"    # written; its mail is still to be built
    building = "building"  # claimed by a job (until locked_until)
    sent = "sent"          # its mail is in the outbox (group_key "convocation:<id>")
    skipped = "skipped"    # nothing to say any more (unenrolled meanwhile, session cancelled…)
    failed = "failed"      # could not be built in MAX_ATTEMPTS attempts (last_error says why)


class ConvocationNotice(Table):
    enrolment = ForeignKey(references=Enrolment, on_delete=OnDelete.cascade, index=True)
    session = ForeignKey(references=TrainingSession, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=16, choices=NoticeKind)
    status = Varchar(length=16, default=NoticeStatus.pending, choices=NoticeStatus, index=True)
    dedup_key = Varchar(length=64, null=True, default=None, unique=True)
    # The invitation as mailed: the SEQUENCE and the events (JSON), so a later change can cancel an
    # event that no longer exists.
    sequence = Integer(default=0)
    events = Text(default="")
    # What the mail told the learner (JSON: dates, slots, place, link), so the next update says what
    # changed (before → after), and one that changes nothing they were told mails no one (issue 20).
    told = Text(default="")
    locked_until = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)  # builds started (claims), failed or not
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    built_at = Timestamptz(null=True, default=None)
