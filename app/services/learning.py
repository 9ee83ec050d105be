"""Completion of activities and the enrolment's progress summary (SPEC D1, D2).

Every write of a completion updates the enrolment's summary in the same transaction: required
done / total, percent, and `completed_at` the moment every required activity is done (cleared if a
manager unmarks one). No cron, real dates. The summary is what the overview sorts and filters on.
"""

from __future__ import annotations

from app import db
from app.dates import now
from app.services.certificates import issue_for_enrolments, seal
from app.services.errors import DomainError, NotFound
from app.settings import get_settings
from app.tables.catalogue import SessionActivity
from app.tables.learning import ActivityCompletion, CompletionHow, Enrolment, QuizAttempt

# One statement for any number of enrolments: counts from the completions and the session's
# required activities (a retired activity no longer counts), the minutes attended (slots recorded
# « présent »), the percent, and completed_at set once (kept while complete) or cleared when no longer
# complete. Complete means every required activity done and, when the session sets « Présence
# minimale (%) », at least that share of the minutes of its slots attended (attended * 100 >= percent
# * total). UPDATE … FROM: PostgreSQL and SQLite >= 3.33.
_SUMMARY = (
    "UPDATE enrolment SET required_total = s.total, required_done = s.done, attended_minutes = s.attended, "
    "percent = CASE WHEN s.total = 0 THEN 0 ELSE (s.done * 100) / s.total END, "
    "completed_at = CASE WHEN s.total > 0 AND s.done >= s.total AND s.attended * 100 >= s.needed "
    "THEN COALESCE(enrolment.completed_at, {}) ELSE NULL END "
    "FROM (SELECT e.id, "
    "(SELECT COUNT(*) FROM session_activity a WHERE a.session = e.session AND a.required "
    "AND a.retired_at IS NULL) AS total, "
    "(SELECT COUNT(*) FROM activity_completion c JOIN session_activity a ON a.id = c.activity "
    "WHERE c.enrolment = e.id AND a.required AND a.retired_at IS NULL) AS done, "
    "(SELECT COALESCE(SUM({minutes}), 0) FROM attendance att JOIN session_slot sl ON sl.id = att.slot "
    "WHERE att.enrolment = e.id AND att.status = 'present') AS attended, "
    "{needed} AS needed "
    "FROM enrolment e WHERE {where}) s "
    "WHERE enrolment.id = s.id RETURNING enrolment.id, enrolment.completed_at"
)


def slot_minutes_sql(alias: str = "sl") -> str:
    """The length of a session_slot row in minutes, in the database's dialect."""
    if db.is_sqlite():
        return f"((strftime('%s', {alias}.ends) - strftime('%s', {alias}.starts)) / 60)"
    return f"(EXTRACT(EPOCH FROM ({alias}.ends - {alias}.starts)) / 60)::int"


def min_attendance(percent: int | None) -> int:
    """A session's « Présence minimale (%) »: its own (0 is an explicit « none »), else the platform's
    (setting MIN_ATTENDANCE_PERCENT, 100 out of the box)."""
    return get_settings().min_attendance_percent if percent is None else int(percent)


def _needed_sql(session: str) -> str:
    """Minutes * 100 an enrolment of session ``session`` (an SQL expression) must attend to complete:
    « Présence minimale (%) » — the session's, else the platform's — times the minutes of its slots
    (0 for a session without slots)."""
    default = min_attendance(None)
    return (f"COALESCE((SELECT COALESCE(ts.min_attendance_percent, {default}) * (SELECT COALESCE(SUM("
            + slot_minutes_sql("sx") + "), 0) "
            f"FROM session_slot sx WHERE sx.session = ts.id) FROM training_session ts WHERE ts.id = {session}), 0)")


async def refresh_summaries(enrolment_ids: list[int] | None = None, session_id: int | None = None) -> list[dict]:
    """Recompute the summary of these enrolments, or of every enrolment of a session (after its
    activities changed). One UPDATE whatever the number (after locking the rows on PostgreSQL);
    returns each enrolment's id and completed_at."""
    if enrolment_ids is not None:
        if not enrolment_ids:
            return []
        where = "e.id IN (" + ", ".join(str(int(i)) for i in sorted(set(enrolment_ids))) + ")"
    elif session_id is not None:
        where = f"e.session = {int(session_id)}"
    else:
        raise ValueError("enrolment_ids or session_id")
    sql = _SUMMARY.replace("{minutes}", slot_minutes_sql()).replace("{needed}", _needed_sql("e.session")) \
        .replace("{where}", where)
    if db.is_sqlite():  # writes are one at a time already
        return await Enrolment.raw(sql, now())
    # The UPDATE recounts from its snapshot: lock the rows first (in id order, so two refreshes never
    # deadlock), and a completion being written for one of them is committed before the count sees it.
    async with db.transaction():
        await Enrolment.raw(f"SELECT e.id FROM enrolment e WHERE {where} ORDER BY e.id FOR UPDATE")
        return await Enrolment.raw(sql, now())


async def refresh_and_issue(enrolment_ids: list[int] | None = None, session_id: int | None = None) -> list[int]:
    """After anything that may complete enrolments (attendance recorded, the session's activities,
    slots or minimum attendance changed): their summaries, then the certificate of each that is
    complete (D3), in the caller's transaction. Returns the enrolments that got one; the caller
    seals their PDFs after commit (certificates.seal)."""
    async with db.transaction():
        rows = await refresh_summaries(enrolment_ids, session_id)
        # Every refreshed enrolment: the attestation needs completion, the certificat de réalisation
        # only hours attended (issue_for_enrolments decides).
        return await issue_for_enrolments([r["id"] for r in rows])


# PostgreSQL: the completion written (or removed) and the summary moved by it, in ONE statement (one
# round trip, atomic on its own). The summary moves by the change rather than being recounted: a
# statement's counts come from the snapshot it started with, which may miss a completion of the same
# learner committed while it waited for the enrolment's row, whereas `enrolment.required_done` in SET
# is read from the row's latest version once the lock is granted. Every other change of a session's
# required set or of attendance goes through refresh_summaries, which recounts.
_MOVE = (
    "WITH changed AS ({change}), "
    "moved AS (SELECT COUNT(*) AS n FROM changed JOIN session_activity a ON a.id = changed.activity "
    "WHERE a.required AND a.retired_at IS NULL) "
    "UPDATE enrolment SET required_done = enrolment.required_done {sign} moved.n, "
    "percent = CASE WHEN enrolment.required_total = 0 THEN 0 "
    "ELSE LEAST(100, GREATEST(0, ((enrolment.required_done {sign} moved.n) * 100) / enrolment.required_total)) END, "
    "completed_at = CASE WHEN enrolment.required_total > 0 "
    "AND enrolment.required_done {sign} moved.n >= enrolment.required_total "
    "AND enrolment.attended_minutes * 100 >= {needed} "
    "THEN COALESCE(enrolment.completed_at, {{}}) ELSE NULL END "
    "FROM moved WHERE enrolment.id = {{}} AND EXISTS (SELECT 1 FROM changed) RETURNING enrolment.completed_at"
)
_MARK = _MOVE.format(
    change="INSERT INTO activity_completion (enrolment, activity, completed_at, how, by) "
    "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (enrolment, activity) DO NOTHING RETURNING activity", sign="+",
    needed=_needed_sql("enrolment.session").replace("{", "{{").replace("}", "}}"))
_UNMARK = _MOVE.format(
    change="DELETE FROM activity_completion WHERE enrolment = {} AND activity = {} RETURNING activity", sign="-",
    needed=_needed_sql("enrolment.session").replace("{", "{{").replace("}", "}}"))


NOT_ENROLLED = ("Cet apprenant n'est plus inscrit à la session : son suivi est conservé tel quel et ses activités "
                "ne peuvent plus être marquées ni annulées. Réinscrivez-le d'abord pour modifier son suivi.")


async def set_completion(enrolment_id: int, activity_id: int, done: bool, how: CompletionHow,
                         by: int | None = None, active_only: bool = False) -> bool:
    """Mark (or unmark) one activity for one enrolment, and its summary, atomically. Idempotent:
    marking twice keeps the first date. Returns whether anything changed. The caller has checked
    that the activity belongs to the enrolment's session and who may do this. ``active_only``: the
    enrolment must be active (checked under a share lock, so an unenrolment is not crossed)."""
    moment = now()
    issued: list[int] = []
    async with db.transaction():
        if active_only and not await Enrolment.raw(
                "SELECT id FROM enrolment WHERE id = {} AND active" + ("" if db.is_sqlite() else " FOR SHARE"),
                enrolment_id):
            raise DomainError(NOT_ENROLLED)
        if db.is_sqlite():  # no data-modifying WITH: two statements (SQLite writes one transaction at a time)
            if done:
                rows = await ActivityCompletion.raw(
                    "INSERT INTO activity_completion (enrolment, activity, completed_at, how, by) "
                    "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (enrolment, activity) DO NOTHING RETURNING id",
                    enrolment_id, activity_id, moment, how.value, by)
            else:
                rows = await ActivityCompletion.raw(
                    "DELETE FROM activity_completion WHERE enrolment = {} AND activity = {} RETURNING id",
                    enrolment_id, activity_id)
            if rows:
                rows = await refresh_summaries([enrolment_id])
        elif done:
            rows = await Enrolment.raw(_MARK, enrolment_id, activity_id, moment, how.value, by, moment, enrolment_id)
        else:
            rows = await Enrolment.raw(_UNMARK, enrolment_id, activity_id, moment, enrolment_id)
        if done and rows and rows[0]["completed_at"] is not None:
            # D3: the certificate row, in the completion's transaction (a no-op if the enrolment has
            # one already); its PDF is rendered after commit. Should this not run, the certificate is
            # issued on the first look at it (certificates.for_enrolment).

            issued = await issue_for_enrolments([enrolment_id])
    if issued:
        await seal(issued)
    return bool(rows)


async def record_visit(enrolment_id: int, activity_id: int | None = None) -> None:
    """The learner came by; `activity_id` is what they opened (« Reprendre là où je me suis arrêté »)."""
    values = {Enrolment.last_visit: now()}
    if activity_id is not None:
        values[Enrolment.last_activity] = activity_id
    await Enrolment.update(values).where(Enrolment.id == enrolment_id)


# -- the manager's side (SPEC D2) --------------------------------------------------------------------
async def enrolment_of_session(session_id: int, enrolment_id: int) -> dict:
    """A learner's enrolment in this session, with their name, or "Inscription introuvable." (the
    caller has checked the session is in scope: an enrolment of another session answers as missing)."""
    row = await Enrolment.select(
        Enrolment.all_columns(), Enrolment.user.first_name.as_alias("first_name"),
        Enrolment.user.last_name.as_alias("last_name"), Enrolment.user.username.as_alias("username"),
        Enrolment.user.email.as_alias("email"),
    ).where((Enrolment.id == enrolment_id) & (Enrolment.session == session_id)).first()
    if row is None:
        raise NotFound("Inscription introuvable.")
    return row


async def learner_activities(session_id: int, enrolment_id: int) -> list[dict]:
    """The session's activities in order, each with this learner's completion (date, how, by whom)
    or None: two queries."""
    activities = await SessionActivity.select(
        SessionActivity.id, SessionActivity.title, SessionActivity.kind, SessionActivity.required,
        SessionActivity.retired_at,
    ).where(SessionActivity.session == session_id).order_by(SessionActivity.position).order_by(SessionActivity.id)
    completions = await ActivityCompletion.select(
        ActivityCompletion.activity, ActivityCompletion.completed_at, ActivityCompletion.how,
        ActivityCompletion.by.first_name.as_alias("by_first_name"),
        ActivityCompletion.by.last_name.as_alias("by_last_name"),
    ).where(ActivityCompletion.enrolment == enrolment_id)
    by_activity = {c["activity"]: c for c in completions}
    for a in activities:
        a["completion"] = by_activity.get(a["id"])
    return activities


async def set_completion_by_manager(manager_id: int, session_id: int, enrolment_id: int, activity_id: int | None,
                                    done: bool) -> bool:
    """« Marquer comme terminé » / « Annuler l'achèvement » for a learner: the enrolment and the
    activity must both be of this session (else "introuvable"), recorded as set by the manager. An
    enrolment no longer active is refused (NOT_ENROLLED): its record is kept as it was when the
    learner left — what they completed stays, their certificate too — but nobody adds to it."""
    await enrolment_of_session(session_id, enrolment_id)
    if not activity_id or not await SessionActivity.exists().where(
            (SessionActivity.id == activity_id) & (SessionActivity.session == session_id)
            & SessionActivity.retired_at.is_null()):
        raise NotFound("Activité introuvable.")
    return await set_completion(enrolment_id, activity_id, done, CompletionHow.manager, by=manager_id,
                                active_only=True)


async def quiz_attempts(enrolment_id: int) -> list[dict]:
    """Every attempt of one enrolment at the session's quizzes, latest first (the manager's view)."""
    return await QuizAttempt.select(
        QuizAttempt.id, QuizAttempt.score, QuizAttempt.passed, QuizAttempt.started_at, QuizAttempt.submitted_at,
        QuizAttempt.activity.title.as_alias("activity_title"), QuizAttempt.activity.pass_mark.as_alias("pass_mark"),
    ).where(QuizAttempt.enrolment == enrolment_id).order_by(QuizAttempt.submitted_at, ascending=False)
