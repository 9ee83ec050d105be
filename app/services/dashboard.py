"""The managers' home page (issue 20 point 21): the place to start the day. What needs them, each
line a link to act on it:

- the sessions starting this week or in progress: fill (learners / seats), progress (average and
  completed), learners inactive for ``INACTIVE_DAYS`` days;
- online registration requests still open for their sessions, account imports left in preview or
  failed;
- convocations that could not be built.

Set-based: four queries whatever the number of sessions, each restricted to the user's scope (the
establishments of ``Scope``); nothing outside it is counted.
"""

from __future__ import annotations

from datetime import date, timedelta

from app.dates import now, today
from app.lists.progress import INACTIVE_DAYS  # the overview's « Inactif » filter: the same N days
from app.services.convocations import FAILED_CANDIDATES, FAILED_FROM, FAILED_WHERE
from app.services.registration import OPEN_STATUSES
from app.services.scope import Scope
from app.tables.learning import Enrolment

IMPORTS_SHOWN_DAYS = 30  # an import left in preview longer than that is forgotten, not a task
LIMIT = 50  # lines per block: the home page is no report


def _in_scope(scope: Scope, column: str, args: list) -> str:
    if scope.everything:
        return "1 = 1"
    if not scope.establishment_ids:
        return "1 = 0"
    ids = sorted(scope.establishment_ids)
    args.extend(ids)
    return f"{column} IN ({', '.join('{}' for _ in ids)})"


def week_bounds(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


async def sessions_of_the_week(scope: Scope, day: date | None = None) -> list[dict]:
    """Sessions (not cancelled) starting this week (Monday to Sunday) or in progress today, with
    their learners, seats, average progress, completions and learners inactive for INACTIVE_DAYS
    days (never came, or last visit older) who have not completed: one grouped query."""
    day = day or today()
    monday, sunday = week_bounds(day)
    since = now() - timedelta(days=INACTIVE_DAYS)
    args: list = [since]
    where = _in_scope(scope, "s.establishment", args)
    args.extend([monday, sunday, day, day])
    sql = (
        "SELECT s.id AS id, s.full_name AS full_name, s.code AS code, s.start_date AS start_date, "
        "s.end_date AS end_date, s.seats AS seats, est.code AS establishment_code, "
        "COUNT(e.id) AS learners, COALESCE(ROUND(AVG(e.percent)), 0) AS average, "
        "SUM(CASE WHEN e.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS completed, "
        "SUM(CASE WHEN e.id IS NOT NULL AND e.completed_at IS NULL "
        "AND (e.last_visit IS NULL OR e.last_visit < {}) THEN 1 ELSE 0 END) AS inactive "
        "FROM training_session s JOIN establishment est ON est.id = s.establishment "
        "LEFT JOIN enrolment e ON e.session = s.id AND e.active AND e.role = 'learner' "
        f"WHERE {where} AND s.cancelled_at IS NULL "
        "AND ((s.start_date >= {} AND s.start_date <= {}) OR (s.start_date <= {} AND s.end_date >= {})) "
        "GROUP BY s.id, s.full_name, s.code, s.start_date, s.end_date, s.seats, est.code "
        f"ORDER BY s.start_date, s.full_name LIMIT {LIMIT}"
    )
    rows = await Enrolment.raw(sql, *args)
    for r in rows:
        r["average"] = int(r["average"] or 0)
        r["completed"] = int(r["completed"] or 0)
        r["inactive"] = int(r["inactive"] or 0)
        r["started"] = _as_date(r["start_date"]) <= day
    return rows


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


async def open_requests(scope: Scope) -> list[dict]:
    """Online registration requests still open (not yet enrolled, refused or cancelled), per session."""
    args: list = list(OPEN_STATUSES)
    statuses = ", ".join("{}" for _ in OPEN_STATUSES)
    where = _in_scope(scope, "s.establishment", args)
    sql = (
        "SELECT s.id AS id, s.full_name AS full_name, s.code AS code, COUNT(r.id) AS requests, "
        "SUM(CASE WHEN r.status = 'waiting_list' THEN 1 ELSE 0 END) AS waiting_list "
        "FROM registration_request r JOIN training_session s ON s.id = r.session "
        f"WHERE r.status IN ({statuses}) AND {where} "
        f"GROUP BY s.id, s.full_name, s.code ORDER BY s.start_date, s.full_name LIMIT {LIMIT}"
    )
    rows = await Enrolment.raw(sql, *args)
    for r in rows:
        r["waiting_list"] = int(r["waiting_list"] or 0)
    return rows


async def pending_imports(scope: Scope) -> list[dict]:
    """Account imports being analysed, left in preview (to confirm or drop), refused by the analysis or
    failed, of the last IMPORTS_SHOWN_DAYS days."""
    args: list = [now() - timedelta(days=IMPORTS_SHOWN_DAYS)]
    where = _in_scope(scope, "b.establishment", args)
    sql = (
        "SELECT b.id AS id, b.filename AS filename, b.status AS status, b.total_rows AS total_rows, "
        "b.created_at AS created_at, est.id AS establishment, est.code AS establishment_code "
        "FROM import_batch b JOIN establishment est ON est.id = b.establishment "
        f"WHERE b.status IN ('analysing', 'preview', 'refused', 'failed') AND b.created_at >= {{}} AND {where} "
        f"ORDER BY b.created_at DESC LIMIT {LIMIT}"
    )
    return await Enrolment.raw(sql, *args)


def failed_convocations_sql(scope: Scope) -> tuple[str, list]:
    """The query of ``failed_convocations`` and its arguments: only the failing notices are read
    (convocations.FAILED_CANDIDATES), not every notice of the scope joined to its mail."""
    args: list = []
    where = _in_scope(scope, "s.establishment", args)
    sql = (
        "SELECT s.id AS id, s.full_name AS full_name, s.code AS code, COUNT(n.id) AS failed "
        f"FROM {FAILED_FROM}JOIN training_session s ON s.id = n.session "
        f"WHERE {FAILED_CANDIDATES}AND {FAILED_WHERE}AND s.cancelled_at IS NULL AND {where} "
        f"GROUP BY s.id, s.full_name, s.code ORDER BY s.start_date, s.full_name LIMIT {LIMIT}"
    )
    return sql, args


async def failed_convocations(scope: Scope) -> list[dict]:
    """Convocations that could not be sent — as the session's convocation page lists them
    (convocations.FAILED_WHERE) —, counted per session not cancelled."""
    sql, args = failed_convocations_sql(scope)
    return await Enrolment.raw(sql, *args)


async def for_manager(scope: Scope) -> dict:
    return {
        "sessions": await sessions_of_the_week(scope),
        "requests": await open_requests(scope),
        "imports": await pending_imports(scope),
        "convocations": await failed_convocations(scope),
        "inactive_days": INACTIVE_DAYS,
    }
