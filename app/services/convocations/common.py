"""Convocations: the limits and SQL pieces the notices, the job and the pages share."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from app import db
from app.tables.convocations import NoticeKind


log = logging.getLogger("app.services.convocations")  # the name it had as one module

TEMPLATE = "pdf/convocation.html"
CATEGORY = "convocation"
BATCH = 25
CLAIM = timedelta(minutes=10)
NOT_FOUND = "Convocation introuvable."
# A reminder is about a convocation mailed before: these kinds (built or on their way) are one.
_CONVOKED = ("EXISTS (SELECT 1 FROM convocation_notice n WHERE n.enrolment = e.id "
             "AND n.kind IN ('convocation', 'update') AND n.status IN ('pending', 'building', 'sent'))")
_INSERT = ("INSERT INTO convocation_notice (enrolment, session, kind, status, dedup_key, sequence, events, created_at) "
           "SELECT e.id, e.session, '{kind}', 'pending', {key}, e.invitation_sequence, '', CURRENT_TIMESTAMP "
           "FROM enrolment e JOIN training_session s ON s.id = e.session ")
# One convocation per enrolment and SEQUENCE (an update states the same invitation): the unique
# dedup_key makes a second insert a no-op (ON CONFLICT DO NOTHING), whatever clicked or raced.
_INVITATION_KEY = "'invitation:' || CAST(e.id AS TEXT) || ':' || CAST(e.invitation_sequence AS TEXT)"
_ONCE = " ON CONFLICT (dedup_key) DO NOTHING"
MAX_ATTEMPTS = 5
# Issue 20: a session is convoked automatically only once learners can be told when and where — it has
# slots, and a place or a link (needs the alias s for training_session).
_READY = ("EXISTS (SELECT 1 FROM session_slot rsl WHERE rsl.session = s.id) "
          "AND (COALESCE(s.place, '') <> '' OR COALESCE(s.remote_url, '') <> '')")
# Changes of a session's settings within this window make one mail: an update waits until the session
# has had no newer change for that long (the latest states it all; `build_pending`).
GROUP_WINDOW = timedelta(seconds=120)


def _insert(kind: NoticeKind) -> str:
    key = _INVITATION_KEY if kind in (NoticeKind.convocation, NoticeKind.update) else "NULL"
    return _INSERT.replace("{kind}", kind.value).replace("{key}", key)


def retry_delay(attempts: int) -> timedelta:
    """How long a notice whose build failed waits before its next attempt: 2, 4, 8, 16 minutes."""
    return timedelta(minutes=min(60, 2 ** attempts))


# Nothing is mailed about a session that is over.
_OPEN = "s.cancelled_at IS NULL AND s.end_date >= {} "


def _marks(ids: list[int]) -> str:
    return ", ".join("{}" for _ in ids)


def _sql_moment(moment: datetime):
    """An instant compared with a CURRENT_TIMESTAMP the database wrote (SQLite: its text form, UTC)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if db.is_sqlite() else moment
