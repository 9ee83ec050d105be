"""The manager's view of a session's émargement (issue 22), on the « Présences » grid: which slots
are closed (« Clôturé le … par … ») and every correction made after a closing (who, when, learner,
slot, before → after, reason). Two queries."""

from __future__ import annotations

from app.dates import short_date_fr
from app.services.signing.learner import when_fr
from app.services.signing.common import STATUS_LABELS
from app.tables.evidence import AttendanceRecord

_CLOSURES = (
    "SELECT c.slot, c.closed_at, u.first_name, u.last_name FROM slot_closure c "
    "JOIN session_slot s ON s.id = c.slot LEFT JOIN app_user u ON u.id = c.closed_by WHERE s.session = {}"
)

_CORRECTIONS = (
    "SELECT x.id, x.recorded_at, x.status, x.before, x.reason, s.day, s.starts, s.ends, "
    "lu.first_name AS learner_first, lu.last_name AS learner_last, bu.first_name AS by_first, bu.last_name AS by_last "
    "FROM (SELECT r.*, LAG(r.status) OVER (PARTITION BY r.enrolment, r.slot ORDER BY r.id) AS before "
    "      FROM attendance_record r JOIN session_slot ss ON ss.id = r.slot WHERE ss.session = {}) x "
    "JOIN session_slot s ON s.id = x.slot JOIN enrolment e ON e.id = x.enrolment JOIN app_user lu ON lu.id = e.\"user\" "
    "LEFT JOIN app_user bu ON bu.id = x.recorded_by WHERE x.method = 'correction' ORDER BY x.id DESC LIMIT 500"
)


async def closures(session_id: int) -> dict[int, dict]:
    """{slot id: {"closed_at_fr", "closed_by"}} of the session's closed slots."""
    rows = await AttendanceRecord.raw(_CLOSURES, session_id)
    return {r["slot"]: {"closed_at_fr": when_fr(r["closed_at"]),
                        "closed_by": f"{r['first_name'] or ''} {r['last_name'] or ''}".strip() or "—"} for r in rows}


async def corrections(session_id: int) -> list[dict]:
    """The corrections made after a closing, newest first (at most 500)."""
    rows = await AttendanceRecord.raw(_CORRECTIONS, session_id)
    for r in rows:
        r["when_fr"] = when_fr(r["recorded_at"])
        r["by"] = f"{r['by_first'] or ''} {r['by_last'] or ''}".strip() or "—"
        r["learner"] = f"{r['learner_last'].upper()} {r['learner_first']}".strip()
        r["slot_fr"] = f"{short_date_fr(r['day'])} {r['starts']:%H:%M}–{r['ends']:%H:%M}"
        r["before_label"] = STATUS_LABELS.get(r["before"], "—")
        r["after_label"] = STATUS_LABELS.get(r["status"], r["status"])
    return rows
