"""Who is asked to answer a learner survey, when, and the mails (issue 23, indicator 30).

Opening: a hot survey (« à chaud ») opens at the later of the end of the session's last slot and
the session's end date at 17:00 (Paris time) — a blended session whose classroom days are over but
whose distance part runs on is not over; a session without slots (e-learning) opens it at the
learner's completion; a cold one (« à froid »)
opens ``survey_cold_days`` after the hot opening; a survey without sending (phase "") is open from
the session's first day, answered from the session page, never mailed.

The cron (app/jobs/surveys.py, every ten minutes) runs ``run_survey_mails``: it creates the
invitations that are due (one per enrolment and survey: INSERT … ON CONFLICT DO NOTHING), then
marks and mails, each in the very statement that picks them (UPDATE … RETURNING, guarded by the
state it changes), the invitations not yet mailed and the reminders due — so a second run or a
second worker mails nothing twice. An answered invitation is never mailed nor reminded. Each run is
bounded (BATCH rows per step); the next run takes the rest.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from app import db
from app.dates import day_fr, now
from app.jobs import kinds
from app.services import outbox
from app.services.session_names import name_for_documents
from app.services.surveys.links import learner_link
from app.services.surveys.settings import delays
from app.services.text import fold
from app.settings import get_settings
from app.tables.quality import SurveyInvitation

BATCH = 5000
# Invitations are mailed only while their opening is recent: a survey added long after a session
# ended is answered from the session page, not mailed out of the blue.
MAIL_WINDOW = timedelta(days=30)
CATEGORY = "survey"
PHASE_WORDS = {"hot": "à chaud", "cold": "à froid", "": ""}


def paris(day: date, at: time) -> datetime:
    return datetime.combine(day, at, ZoneInfo(get_settings().timezone)).astimezone(timezone.utc)


SESSION_END = time(17)  # a session « ends » at 17:00 on its end date


def opening(phase: str, start_date: date, last_slot: tuple[date, time] | None, completed_at: datetime | None,
            cold_days: int, end_date: date | None = None) -> datetime | None:
    """When the survey opens for one learner, or None (not yet known: no slot and not completed)."""
    if phase not in ("hot", "cold"):
        return paris(start_date, time(0))
    if last_slot is not None and last_slot[0] is not None:
        hot = paris(last_slot[0], last_slot[1])
        if end_date is not None:
            hot = max(hot, paris(end_date, SESSION_END))
    elif completed_at is not None:
        hot = completed_at
    else:
        return None
    return hot if phase == "hot" else hot + timedelta(days=cold_days)


LAST_SLOT_SQL = ("(SELECT sl.day FROM session_slot sl WHERE sl.session = s.id ORDER BY sl.day DESC, sl.ends DESC "
                 "LIMIT 1) AS last_day, (SELECT sl.ends FROM session_slot sl WHERE sl.session = s.id "
                 "ORDER BY sl.day DESC, sl.ends DESC LIMIT 1) AS last_ends")


async def create_due_invitations(moment: datetime, cold_days: int) -> int:
    """The invitations of every active enrolment whose hot or cold survey has opened (within the
    mail window), not made yet. One select, then bulk inserts that skip any made meanwhile."""
    local_day = moment.astimezone(ZoneInfo(get_settings().timezone)).date()
    oldest_end = local_day - timedelta(days=cold_days + MAIL_WINDOW.days + 2)
    rows = await SurveyInvitation.raw(
        "SELECT e.id AS enrolment, a.id AS activity, a.survey_phase AS phase, e.completed_at, s.start_date, s.end_date, "
        f"{LAST_SLOT_SQL} "
        "FROM session_activity a JOIN training_session s ON s.id = a.session "
        "JOIN enrolment e ON e.session = s.id AND e.active "
        "WHERE a.kind = 'survey' AND a.survey_phase IN ('hot', 'cold') AND a.retired_at IS NULL "
        "AND s.cancelled_at IS NULL AND s.start_date <= {} AND s.end_date >= {} "
        "AND NOT EXISTS (SELECT 1 FROM survey_invitation i WHERE i.enrolment = e.id AND i.activity = a.id)",
        local_day, oldest_end)
    due = []
    for r in rows:
        last = (r["last_day"], r["last_ends"]) if r["last_day"] is not None else None
        opens = opening(r["phase"], r["start_date"], last, r["completed_at"], cold_days, r["end_date"])
        if opens is not None and moment - MAIL_WINDOW <= opens <= moment:
            due.append(SurveyInvitation(enrolment=r["enrolment"], activity=r["activity"], opens_at=opens))
    for i in range(0, len(due), 1000):
        await SurveyInvitation.insert(*due[i:i + 1000]).on_conflict(
            target=(SurveyInvitation.enrolment, SurveyInvitation.activity), action="DO NOTHING")
    return len(due)


async def _details(ids: list[int]) -> list[dict]:
    if not ids:
        return []
    return await SurveyInvitation.select(
        SurveyInvitation.id, SurveyInvitation.reminders,
        SurveyInvitation.enrolment.user.email.as_alias("email"),
        SurveyInvitation.enrolment.user.first_name.as_alias("first_name"),
        SurveyInvitation.enrolment.user.last_name.as_alias("last_name"),
        SurveyInvitation.enrolment.session.full_name.as_alias("session_name"),
        SurveyInvitation.enrolment.session.template.title.as_alias("template_title"),
        SurveyInvitation.enrolment.session.start_date.as_alias("start_date"),
        SurveyInvitation.enrolment.session.end_date.as_alias("end_date"),
        SurveyInvitation.activity.title.as_alias("title"),
        SurveyInvitation.activity.survey_phase.as_alias("phase"),
        SurveyInvitation.activity.anonymous.as_alias("anonymous"),
    ).where(db.among(SurveyInvitation.id, ids))


def _dates_words(start: date | None, end: date | None) -> str:
    if start is None:
        return ""
    if end is None or end == start:
        return f"le {day_fr(start)}"
    return f"du {day_fr(start)} au {day_fr(end)}"


def training_name(full_name: str, template_title: str | None, start: date | None, end: date | None) -> str:
    """How a learner is told which training: « Qualité de vie au travail » du 27 octobre 2026 au
    28 octobre 2026 — the course's title (the session's name when it has no course), and the dates
    in words rather than the technical « Session du 27-10-2026 au 28-10-2026_… »."""
    name = (template_title or "").strip() or name_for_documents(full_name, start, end)
    dates = _dates_words(start, end)
    return f"« {name} »" + (f" {dates}" if dates else "")


def survey_mail(row: dict, reminder: int) -> tuple:
    """(to, subject, body, html, secret) of one invitation's mail or reminder; the link is the mail's
    secret (erased from the outbox once sent)."""
    session = training_name(row["session_name"], row.get("template_title"), row["start_date"], row["end_date"])
    title = (row.get("template_title") or "").strip() or name_for_documents(
        row["session_name"], row["start_date"], row["end_date"])
    phase = PHASE_WORDS.get(row["phase"], "")
    kind = f"questionnaire de satisfaction {phase}".strip()
    # The activity's title, unless it only repeats what kind of questionnaire it is.
    named = "" if "questionnaire" in fold(row["title"]) or "satisfaction" in fold(row["title"]) else \
        f" « {row['title']} »"
    if reminder:
        subject = f"Rappel : votre avis sur la formation « {title} »"
        opening_line = (f"Sauf erreur de notre part, vous n'avez pas encore répondu au {kind}{named} de la formation "
                        f"{session}. Votre réponse nous est précieuse.")
    else:
        subject = f"Votre avis sur la formation « {title} »"
        ended = row["end_date"] is None or row["end_date"] <= now().astimezone(ZoneInfo(get_settings().timezone)).date()
        lead = "Vous avez suivi" if ended else "Vous participez à"
        opening_line = (f"{lead} la formation {session}. Pour nous aider à l'améliorer, merci de répondre "
                        f"à notre {kind}{named} : quelques minutes suffisent.")
    privacy = ("Vos réponses sont anonymes : seul le fait d'avoir répondu est conservé."
               if row["anonymous"] else "Vos réponses sont utilisées uniquement pour améliorer nos formations.")
    body = (f"Bonjour {row['first_name']},\n\n{opening_line}\n\n"
            f"Répondre au questionnaire (sans vous connecter, depuis un ordinateur ou un téléphone) :\n"
            f"{outbox.SECRET_MARK}\n\n{privacy}\n"
            "Vous pouvez aussi y répondre depuis la page de la session, une fois connecté(e).\n\n"
            "Merci de votre participation,\nL'équipe formation\n")
    return (row["email"], subject, body, "", learner_link(row["id"]))


async def mail_new_invitations(moment: datetime) -> list[tuple]:
    """Mark as mailed, and write the mails of, the invitations opened and not mailed yet."""
    rows = await SurveyInvitation.raw(
        "UPDATE survey_invitation SET sent_at = {} WHERE sent_at IS NULL AND answered = false AND id IN ("
        "SELECT i.id FROM survey_invitation i JOIN enrolment e ON e.id = i.enrolment "
        "JOIN session_activity a ON a.id = i.activity "
        "WHERE i.sent_at IS NULL AND i.answered = false AND i.opens_at <= {} AND i.opens_at >= {} "
        "AND e.active AND a.retired_at IS NULL AND a.survey_phase IN ('hot', 'cold') ORDER BY i.id LIMIT {}) "
        "RETURNING id", moment, moment, moment - MAIL_WINDOW, BATCH)
    return [survey_mail(r, 0) for r in await _details([r["id"] for r in rows])]


async def mail_reminders(moment: datetime, first_days: int, second_days: int) -> list[tuple]:
    """Mark and write the reminders due: the first ``first_days`` after the invitation's mail, the
    second ``second_days`` after it (and a day at least after the first); never once answered."""
    rows = await SurveyInvitation.raw(
        "UPDATE survey_invitation SET reminders = reminders + 1, reminded_at = {} "
        "WHERE answered = false AND ((reminders = 0 AND sent_at <= {}) OR (reminders = 1 AND sent_at <= {} "
        "AND reminded_at <= {})) AND id IN ("
        "SELECT i.id FROM survey_invitation i JOIN enrolment e ON e.id = i.enrolment "
        "JOIN session_activity a ON a.id = i.activity JOIN training_session s ON s.id = e.session "
        "WHERE i.answered = false AND i.sent_at IS NOT NULL AND i.reminders < 2 AND e.active "
        "AND a.retired_at IS NULL AND s.cancelled_at IS NULL "
        "AND ((i.reminders = 0 AND i.sent_at <= {}) OR (i.reminders = 1 AND i.sent_at <= {} AND i.reminded_at <= {})) "
        "ORDER BY i.id LIMIT {}) RETURNING id",
        moment, moment - timedelta(days=first_days), moment - timedelta(days=second_days), moment - timedelta(days=1),
        moment - timedelta(days=first_days), moment - timedelta(days=second_days), moment - timedelta(days=1), BATCH)
    return [survey_mail(r, r["reminders"]) for r in await _details([r["id"] for r in rows])]


async def queue_survey_mails(redis, messages: list[tuple], moment: datetime) -> int:
    """Write the mails (one bulk insert) under one group and hand the group to its sending job once
    the caller's transaction commits."""
    if not messages:
        return 0
    group_key = f"survey:{moment.strftime('%Y%m%dT%H%M%S%f')}"
    queued = await outbox.queue_mails(messages, CATEGORY, group_key)
    await kinds.IMPORT_MAILS.submit(redis, group_key)
    return queued


async def run_survey_mails(redis, moment: datetime | None = None) -> dict:
    """The cron's work: invitations due, their mails, the reminders — each step in its transaction."""
    moment = moment or now()
    d = await delays()
    async with db.transaction():
        created = await create_due_invitations(moment, d["survey_cold_days"])
    async with db.transaction():
        invited = await queue_survey_mails(redis, await mail_new_invitations(moment), moment)
    async with db.transaction():
        reminded = await queue_survey_mails(
            redis, await mail_reminders(moment, d["survey_reminder_1_days"], d["survey_reminder_2_days"]),
            moment + timedelta(microseconds=1))
    return {"created": created, "invited": invited, "reminded": reminded}
