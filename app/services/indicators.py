"""Published result indicators per course template (issue 23, Qualiopi indicator 2): number of
learners, completion rate, attendance rate and satisfaction (« à chaud »), for a stated period, on a
public page and an embeddable snippet. No person is ever shown: counts and rates only, and none at
all under ``MIN_LEARNERS`` learners.

The period selects the sessions of the template that ended in it (cancelled ones aside); their
active enrolments are the learners (people counted once), completed when ``completed_at`` is set
(a person counts as completed when one of their enrolments is); attendance is the minutes recorded
« présent » (``Enrolment.attended_minutes``, app/services/learning.py) over the minutes of the
sessions' slots, for the enrolments of the sessions whose attendance was taken (none: no rate); satisfaction is the one figure of
app/services/surveys/results.py over the « à chaud » answers of those sessions.

Cache: the figures of a (template, period) are kept in Redis for ``CACHE_TTL`` seconds, as the
analytics dashboard's are (a short TTL, no invalidation hook); the page says when they were computed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from app.services.errors import NotFound
from app.services.learning import slot_minutes_sql
from app.services.surveys.results import Source, questions_of, satisfaction
from app.tables.catalogue import CourseTemplate

CACHE_PREFIX = "indicators:v1:"
CACHE_TTL = 3600
MIN_LEARNERS = 5  # under this, no figure is published (too few to be meaningful, and too near a person)
MAX_DAYS = 3 * 366  # the longest period asked for
NOT_FOUND = "Formation introuvable."


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    error: str = ""


def _year_before(day: date) -> date:
    """The day after the same day a year earlier: 12 months ending on ``day``."""
    try:
        back = day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        back = day.replace(year=day.year - 1, day=28)
    return back + timedelta(days=1)


def default_period(today: date) -> Period:
    return Period(_year_before(today), today)


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_period(params, today: date) -> Period:
    """``?from=&to=`` (aaaa-mm-jj) or the last 12 months up to today; what makes no sense gives the
    default period with a French message."""
    raw_from, raw_to = ((params.get(k) or "").strip()[:20] for k in ("from", "to"))
    if not raw_from and not raw_to:
        return default_period(today)
    start, end = _date(raw_from) if raw_from else None, _date(raw_to) if raw_to else today
    if raw_from and start is None or end is None:
        error = "Période invalide : les dates s'écrivent aaaa-mm-jj."
    else:
        start = start or _year_before(end)
        if start > end:
            error = "Période invalide : la date de début suit la date de fin."
        elif end > today:
            error = "Période invalide : elle ne peut pas finir après aujourd'hui."
        elif (end - start).days > MAX_DAYS:
            error = "Période invalide : trois ans au plus."
        else:
            return Period(start, end)
    return Period(default_period(today).start, today, error + " Les 12 derniers mois sont affichés.")


async def visible_templates() -> list[dict]:
    return await CourseTemplate.select(CourseTemplate.id, CourseTemplate.code, CourseTemplate.title).where(
        CourseTemplate.visible == True).order_by(CourseTemplate.code)  # noqa: E712 - a column comparison


async def template_by_code(code: str) -> dict:
    """A visible template by its catalogue code (any case); a hidden or unknown one is not found."""
    code = (code or "").strip().upper()[:8]
    row = await CourseTemplate.select(CourseTemplate.id, CourseTemplate.code, CourseTemplate.title).where(
        (CourseTemplate.code == code) & (CourseTemplate.visible == True)).first()  # noqa: E712
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


# -- the figures ----------------------------------------------------------------------------------
_SESSIONS = ("SELECT s.id FROM training_session s WHERE s.template = {} AND s.cancelled_at IS NULL "
             "AND s.end_date >= {} AND s.end_date <= {}")


def _enrolments_sql() -> str:
    return (
        f"WITH ses AS ({_SESSIONS}), "
        # The sessions whose attendance was taken (a record on one of their slots): elsewhere « 0 minute
        # present » means « not recorded », not « absent ».
        f"planned AS (SELECT sl.session AS session, SUM({slot_minutes_sql('sl')}) AS minutes FROM session_slot sl "
        "WHERE sl.session IN (SELECT id FROM ses) AND sl.session IN (SELECT x.session FROM attendance att "
        "JOIN session_slot x ON x.id = att.slot WHERE x.session IN (SELECT id FROM ses)) GROUP BY sl.session) "
        'SELECT COUNT(DISTINCT e."user") AS learners, '
        'COUNT(DISTINCT CASE WHEN e.completed_at IS NOT NULL THEN e."user" END) AS completed, '
        "COALESCE(SUM(CASE WHEN p.minutes > 0 THEN e.attended_minutes END), 0) AS attended, "
        "COALESCE(SUM(p.minutes), 0) AS planned "
        "FROM enrolment e JOIN ses ON ses.id = e.session LEFT JOIN planned p ON p.session = e.session "
        "WHERE e.active"
    )


def _rate(part, whole) -> int | None:
    return min(100, round(int(part) * 100 / int(whole))) if whole else None


async def compute(template_id: int, period: Period) -> dict:
    """The figures of one template over one period: three set-based queries."""
    args = (template_id, period.start, period.end)
    counts = (await CourseTemplate.raw(_enrolments_sql(), *args))[0]
    sources = {r["id"]: Source(questions_of(r["questions"]), 0, "hot") for r in await CourseTemplate.raw(
        "SELECT a.id AS id, a.quiz AS questions FROM session_activity a WHERE a.kind = 'survey' "
        f"AND a.survey_phase = 'hot' AND a.session IN ({_SESSIONS})", *args)}
    answers = [(r["source"], r["answers"]) for r in await CourseTemplate.raw(
        f"SELECT r.activity AS source, r.answers AS answers FROM survey_response r WHERE r.phase = 'hot' "
        f"AND r.session IN ({_SESSIONS})", *args)] if sources else []
    learners = int(counts["learners"] or 0)
    return {
        "learners": learners,
        "completion_rate": _rate(counts["completed"] or 0, learners),
        "attendance_rate": _rate(counts["attended"] or 0, counts["planned"] or 0),
        "satisfaction": satisfaction(sources, answers),
        "computed_at": datetime.now(timezone.utc).isoformat(),
    }


def cache_key(template_id: int, period: Period) -> str:
    return f"{CACHE_PREFIX}{int(template_id)}:{period.start.isoformat()}:{period.end.isoformat()}"


async def figures(redis, template_id: int, period: Period) -> dict:
    """The figures, from the cache when they are there (``cached`` says so)."""
    key = cache_key(template_id, period)
    if redis is not None:
        cached = await redis.get(key)
        if cached:
            return {**json.loads(cached), "cached": True}
    result = await compute(template_id, period)
    if redis is not None:
        await redis.set(key, json.dumps(result), ex=CACHE_TTL)
    return {**result, "cached": False}


def published(result: dict) -> dict:
    """What the page may show: the figures when there are enough learners (``enough``), the
    satisfaction when it rests on enough answers too."""
    enough = result["learners"] >= MIN_LEARNERS
    s = result["satisfaction"]
    return {**result, "enough": enough,
            "satisfaction_shown": enough and s["average"] is not None and s["responses"] >= MIN_LEARNERS,
            "computed": datetime.fromisoformat(result["computed_at"])}
