"""Completion of activities and the enrolment's progress summary (SPEC D1, D2).

Every write of a completion updates the enrolment's summary in the same transaction: required
done / total, percent, and `completed_at` the moment every required activity is done (cleared if a
manager unmarks one). No cron, real dates. The summary is what the overview sorts and filters on.
"""

from __future__ import annotations

from app import db
from app.dates import now
from app.tables.learning import ActivityCompletion, CompletionHow, Enrolment

# One statement for any number of enrolments: counts from the completions and the session's
# required activities, minutes attended from the attendance recorded « présent »; completed_at set
# once (kept while complete), cleared when no longer complete. Complete means every required
# activity done and, when the session sets « Présence minimale (%) », at least that share of the
# minutes of its slots attended (attended * 100 >= percent * total).
_SUMMARY = (
    "UPDATE enrolment SET "
    "required_total = (SELECT COUNT(*) FROM session_activity a WHERE a.session = enrolment.session AND a.required), "
    "required_done = (SELECT COUNT(*) FROM activity_completion c JOIN session_activity a ON a.id = c.activity "
    "WHERE c.enrolment = enrolment.id AND a.required), "
    "attended_minutes = (SELECT COALESCE(SUM({minutes}), 0) FROM attendance att "
    "JOIN session_slot sl ON sl.id = att.slot WHERE att.enrolment = enrolment.id AND att.status = 'present') "
    "WHERE {where}"
)
_PERCENT = (
    "UPDATE enrolment SET "
    "percent = CASE WHEN required_total = 0 THEN 0 ELSE (required_done * 100) / required_total END, "
    "completed_at = CASE WHEN required_total > 0 AND required_done >= required_total "
    "AND attended_minutes * 100 >= COALESCE((SELECT s.min_attendance_percent * "
    "(SELECT COALESCE(SUM({minutes}), 0) FROM session_slot sl WHERE sl.session = s.id) "
    "FROM training_session s WHERE s.id = enrolment.session), 0) "
    "THEN COALESCE(completed_at, {now}) ELSE NULL END "
    "WHERE {where}"
)


def slot_minutes_sql(alias: str = "sl") -> str:
    """The length of a session_slot row in minutes, in the database's dialect."""
    if db.is_sqlite():
        return f"((strftime('%s', {alias}.ends) - strftime('%s', {alias}.starts)) / 60)"
    return f"(EXTRACT(EPOCH FROM ({alias}.ends - {alias}.starts)) / 60)::int"


async def refresh_summaries(enrolment_ids: list[int] | None = None, session_id: int | None = None) -> None:
    """Recompute the summary of these enrolments, or of every enrolment of a session (after its
    activities changed). Two statements whatever the number."""
    if enrolment_ids is not None:
        if not enrolment_ids:
            return
        where = "id IN (" + ", ".join(str(int(i)) for i in sorted(set(enrolment_ids))) + ")"
    elif session_id is not None:
        where = f"session = {int(session_id)}"
    else:
        raise ValueError("enrolment_ids or session_id")
    minutes = slot_minutes_sql()
    async with db.transaction():
        await Enrolment.raw(_SUMMARY.format(where=where, minutes=minutes))
        await Enrolment.raw(_PERCENT.replace("{where}", where).replace("{minutes}", minutes)
                            .replace("{now}", "{}"), now())


async def refresh_and_issue(enrolment_ids: list[int] | None = None, session_id: int | None = None) -> list[int]:
    """After anything that may complete enrolments (an activity done, attendance recorded, the
    session's activities, slots or minimum attendance changed): their summaries, then the
    certificate of each that just became complete (D3), in the caller's transaction. Returns the
    enrolments that got one; the caller seals their PDFs after commit (certificates.seal)."""
    from app.services.certificates import issue_for_enrolments

    async with db.transaction():
        await refresh_summaries(enrolment_ids, session_id)
        if enrolment_ids is None:
            enrolment_ids = [r["id"] for r in await Enrolment.select(Enrolment.id).where(
                (Enrolment.session == session_id) & Enrolment.completed_at.is_not_null())]
        return await issue_for_enrolments(enrolment_ids)


async def set_completion(enrolment_id: int, activity_id: int, done: bool, how: CompletionHow,
                         by: int | None = None) -> bool:
    """Mark (or unmark) one activity for one enrolment, and its summary, in one transaction.
    Idempotent: marking twice keeps the first date. Returns whether anything changed. The caller
    has checked that the activity belongs to the enrolment's session and who may do this."""
    issued: list[int] = []
    async with db.transaction():
        if done:
            rows = await ActivityCompletion.raw(
                "INSERT INTO activity_completion (enrolment, activity, completed_at, how, by) "
                "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (enrolment, activity) DO NOTHING RETURNING id",
                enrolment_id, activity_id, now(), how.value, by,
            )
        else:
            rows = await ActivityCompletion.delete().where(
                (ActivityCompletion.enrolment == enrolment_id) & (ActivityCompletion.activity == activity_id)
            ).returning(ActivityCompletion.id)
        if rows:
            # D3: the certificate row is issued in the completion's transaction (no-op unless the
            # enrolment just became complete and has none); its PDF is rendered after commit.
            issued = await refresh_and_issue([enrolment_id])
    if rows and issued:
        from app.services.certificates import seal

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
    from app.services.errors import NotFound

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
    from app.tables.catalogue import SessionActivity

    activities = await SessionActivity.select(
        SessionActivity.id, SessionActivity.title, SessionActivity.kind, SessionActivity.required,
    ).where(SessionActivity.session == session_id).order_by(SessionActivity.position)
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
    activity must both be of this session (else "introuvable"), recorded as set by the manager."""
    from app.services.errors import NotFound
    from app.tables.catalogue import SessionActivity

    await enrolment_of_session(session_id, enrolment_id)
    if not activity_id or not await SessionActivity.exists().where(
            (SessionActivity.id == activity_id) & (SessionActivity.session == session_id)):
        raise NotFound("Activité introuvable.")
    return await set_completion(enrolment_id, activity_id, done, CompletionHow.manager, by=manager_id)


async def quiz_attempts(enrolment_id: int) -> list[dict]:
    """Every attempt of one enrolment at the session's quizzes, latest first (the manager's view)."""
    from app.tables.learning import QuizAttempt

    return await QuizAttempt.select(
        QuizAttempt.id, QuizAttempt.score, QuizAttempt.passed, QuizAttempt.started_at, QuizAttempt.submitted_at,
        QuizAttempt.activity.title.as_alias("activity_title"), QuizAttempt.activity.pass_mark.as_alias("pass_mark"),
    ).where(QuizAttempt.enrolment == enrolment_id).order_by(QuizAttempt.submitted_at, ascending=False)
