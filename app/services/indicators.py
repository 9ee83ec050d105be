"""Published result indicators per course template (issue 23, Qualiopi indicator 2): number of
learners, completion rate, attendance rate and satisfaction (« à chaud »), for a stated period, on a
public page and an embeddable snippet. No person is ever shown: counts and rates only, and none at
all under ``MIN_LEARNERS`` learners.

The period is fixed — the last 12 months or one calendar year, never free dates (two free periods
could be differenced to single out fewer than five learners). It selects the sessions of the
template that ended in it and before today (a session still running is not counted; cancelled ones
aside); their enrolments, active or with one « présent » at least (a learner unenrolled after
dropping out stays in the count), are the learners (people counted once), completed when ``completed_at`` is set
(a person counts as completed when one of their enrolments is); attendance is the minutes recorded
« présent » (``Enrolment.attended_minutes``, app/services/learning.py) over the minutes of the
sessions' slots, for the enrolments of the sessions whose attendance was taken (none: no rate); satisfaction is the one figure of
app/services/surveys/results.py over the « à chaud » answers of those sessions.

Cache: the figures of a (template, period) are kept in the cache Redis (app/cache.py, computed once
on a miss) for ``CACHE_TTL`` seconds, as the analytics dashboard's are (a short TTL, no
invalidation hook); the page says when they were computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from app import cache
from app.services.errors import NotFound
from app.services.learning import slot_minutes_sql
from app.services.surveys.questions import load_questions
from app.services.surveys.results import Source, last_12_months, satisfaction
from app.tables.catalogue import CourseTemplate

CACHE_PREFIX = "indicators:v2:"
CACHE_TTL = 3600
MIN_LEARNERS = 5  # under this, no figure is published (too few to be meaningful, and too near a person)
FIRST_YEAR = 2000
NOT_FOUND = "Formation introuvable."
BAD_PERIOD = ("Période invalide : choisissez les 12 derniers mois ou une année de la liste. "
              "Les 12 derniers mois sont affichés.")


@dataclass(frozen=True)
class Period:
    """A fixed period, never a free one: the last 12 months up to ``today`` (``year`` None) or one
    calendar year. Free periods could be differenced to single out fewer than five learners."""

    start: date
    end: date
    year: int | None = None
    error: str = ""

    @property
    def query(self) -> dict:
        return {"year": self.year} if self.year else {}


def default_period(today: date) -> Period:
    return Period(*last_12_months(today))


def year_period(year: int, today: date) -> Period:
    return Period(date(year, 1, 1), min(date(year, 12, 31), today), year)


async def data_years(template_id: int, today: date) -> list[int]:
    """The years (2000 … this one, latest first) in which a session of the template finished."""
    rows = await CourseTemplate.raw(
        "SELECT DISTINCT s.end_date AS day FROM training_session s WHERE s.template = {} AND s.cancelled_at IS NULL "
        "AND s.end_date < {} AND s.end_date >= {}", template_id, today, date(FIRST_YEAR, 1, 1))
    return sorted({(r["day"] if isinstance(r["day"], date) else date.fromisoformat(str(r["day"])[:10])).year
                   for r in rows}, reverse=True)


def parse_period(params, today: date, years: list[int]) -> Period:
    """``?year=`` one of ``years``, or nothing: the last 12 months. Anything else (a free
    ``from``/``to`` included) gives the last 12 months with a French message."""
    raw = (params.get("year") or "").strip()
    if not raw and not any(params.get(k) for k in ("from", "to")):
        return default_period(today)
    if raw.isdigit() and len(raw) == 4 and int(raw) in years and FIRST_YEAR <= int(raw) <= today.year:
        return year_period(int(raw), today)
    return Period(*last_12_months(today), error=BAD_PERIOD)


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
# The sessions finished before today: ended on an earlier day, no slot today or later.
_SESSIONS = ("SELECT s.id FROM training_session s WHERE s.template = {} AND s.cancelled_at IS NULL "
             "AND s.end_date >= {} AND s.end_date <= {} AND s.end_date < {} "
             "AND NOT EXISTS (SELECT 1 FROM session_slot z WHERE z.session = s.id AND z.day >= {})")


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
        # Active, or present at least once: a learner unenrolled after dropping out still counts.
        "WHERE (e.active OR EXISTS (SELECT 1 FROM attendance pa WHERE pa.enrolment = e.id AND pa.status = 'present'))"
    )


def _rate(part, whole) -> int | None:
    return min(100, round(int(part) * 100 / int(whole))) if whole else None


async def compute(template_id: int, period: Period, today: date) -> dict:
    """The figures of one template over one period: three set-based queries."""
    args = (template_id, period.start, period.end, today, today)
    counts = (await CourseTemplate.raw(_enrolments_sql(), *args))[0]
    sources = {r["id"]: Source(load_questions(r["questions"]), 0, "hot") for r in await CourseTemplate.raw(
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
    """One key per template and fixed period (a year, or the 12 months up to a day): at most
    28 a template and a day."""
    return f"{CACHE_PREFIX}{int(template_id)}:{period.year or '12m'}:{period.end.isoformat()}"


async def figures(redis, template_id: int, period: Period, today: date) -> dict:
    """The figures, from the cache when they are there (``cached`` says so); on a miss computed by one
    process while the others wait for them (app/cache.py). ``redis`` is the cache's."""
    result, hit = await cache.cached(redis, cache_key(template_id, period), CACHE_TTL,
                                     lambda: compute(template_id, period, today))
    return {**result, "cached": hit}


def published(result: dict) -> dict:
    """What the page may show: the figures when there are enough learners (``enough``), the
    satisfaction when it rests on enough answers too."""
    enough = result["learners"] >= MIN_LEARNERS
    s = result["satisfaction"]
    return {**result, "enough": enough,
            "satisfaction_shown": enough and s["average"] is not None and s["responses"] >= MIN_LEARNERS,
            "computed": datetime.fromisoformat(result["computed_at"])}
