"""The trainer's side of the émargement (issue 22): the live list of a slot's learners (one query a
refresh: it is polled every few seconds by every trainer's screen) and the trainer's marks — present
for a learner without a phone, « Excusé » with a reason — through the one writer of attendance."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.services import attendance
from app.services.errors import DomainError, NotFound, ValidationFailed
from app.services.signing import window
from app.services.signing.common import METHOD_LABELS, SESSION_CANCELLED, STATUS_LABELS
from app.services.signing.learner import time_fr
from app.tables.catalogue import SessionSlot

REASON_REQUIRED = "Indiquez le motif de l'absence excusée."
FROZEN = ("Ce créneau est clôturé : ses présences sont figées. Un gestionnaire peut les corriger depuis la grille "
          "« Présences », avec un motif.")
NOT_ENROLLED = "Ce stagiaire n'est pas inscrit à la session de ce créneau : rien n'a été enregistré."


class MarkRefused(DomainError):
    status_code = 409


_LIST = (
    "SELECT e.id AS enrolment, u.first_name, u.last_name, a.status, a.recorded_at, r.method, r.reason, "
    "(SELECT c.id FROM slot_closure c WHERE c.slot = {}) AS closure "
    "FROM enrolment e JOIN app_user u ON u.id = e.\"user\" "
    "LEFT JOIN attendance a ON a.enrolment = e.id AND a.slot = {} "
    "LEFT JOIN attendance_record r ON r.id = a.record "
    "WHERE e.session = {} AND e.active ORDER BY u.last_name_key, u.first_name_key, e.id"
)


@dataclass
class LiveList:
    rows: list[dict]
    closed: bool
    totals: dict = field(default_factory=dict)
    cancelled: bool = False  # the session's: nothing to mark, nothing to poll

    @property
    def open(self) -> bool:
        return not self.closed and not self.cancelled


async def live_list(slot_id: int, session_id: int, cancelled: bool = False) -> LiveList:
    """The slot's actively enrolled learners by name, each with their state (status, time, how).
    One query. ``cancelled``: the session is (its list then offers no mark)."""
    rows = await SessionSlot.raw(_LIST, slot_id, slot_id, session_id)
    closed = bool(rows) and rows[0]["closure"] is not None
    if not rows:
        closed = await SessionSlot.raw("SELECT id FROM slot_closure WHERE slot = {}", slot_id) != []
    totals = {"present": 0, "absent": 0, "excused": 0, "waiting": 0}
    for r in rows:
        r["name"] = f"{r['last_name'].upper()} {r['first_name']}".strip()
        r["status_label"] = STATUS_LABELS.get(r["status"], "")
        r["method_label"] = METHOD_LABELS.get(r["method"], "")
        # The time someone signed or was marked; none for an absence written by the closing (its time
        # would read like an arrival), as on the signed sheet.
        r["time"] = time_fr(r["recorded_at"]) if r["recorded_at"] and r["method"] != "closing" else ""
        totals[r["status"] if r["status"] in totals else "waiting"] += 1
    return LiveList(rows, closed, totals, cancelled)


async def mark(by: int, slot: dict, session: dict, enrolment_id: int | None, status: str, reason: str = "",
               redis=None, method: str = "trainer") -> str:
    """The trainer marks a learner « present » (no phone) or « excused » (with a reason), method
    « trainer » (« manager » when a manager in scope, none of the slot's trainers, marks). Refused (French) on a cancelled session, before the window opens, after the closing
    (also one committed while this mark waited for the slot's lock), for someone not enrolled, or over
    a learner's own signature. Returns the learner's name."""
    reason = (reason or "").strip()
    if status not in ("present", "excused"):
        raise ValidationFailed({"status": "Choisissez « Marquer présent » ou « Excusé »."})
    if status == "excused" and not reason:
        raise ValidationFailed({"reason": REASON_REQUIRED})
    if len(reason) > attendance.REASON_MAX:
        raise ValidationFailed({"reason": attendance.REASON_TOO_LONG})
    if session.get("cancelled_at") is not None:
        raise MarkRefused(SESSION_CANCELLED)
    rows = [r for r in (await live_list(slot["id"], session["id"])).rows if r["enrolment"] == enrolment_id]
    if not rows:
        raise NotFound(NOT_ENROLLED)
    row = rows[0]
    if row["closure"] is not None:
        raise MarkRefused(FROZEN)
    if window.state(slot, session["signing_grace"]) == window.BEFORE:
        raise MarkRefused("L'émargement de ce créneau n'est pas encore ouvert.")
    _refuse_over(row["name"], row["status"], row["method"], row["time"], status)

    def still_open(closed: set[int]) -> None:
        if slot["id"] in closed:
            raise MarkRefused(FROZEN)

    def unchanged(states: dict) -> None:  # as it is now, the cell held (a signature, a mark that just came)
        now_state = states.get((enrolment_id, slot["id"]))
        if now_state:
            _refuse_over(row["name"], now_state["status"], now_state["method"],
                         time_fr(now_state["recorded_at"]), status)

    await attendance.write([attendance.Mark(enrolment_id, slot["id"], status, reason=reason if status == "excused" else "")],
                           method, by, redis, slot_check=still_open, cell_check=unchanged)
    return row["name"]


def _refuse_over(name: str, current: str | None, method: str | None, at: str, status: str) -> None:
    """A mark never goes over a learner's own signature, nor repeats the state already there."""
    if current == "present" and method in ("qr", "link"):
        raise MarkRefused(f"{name} a déjà signé à {at}.")
    if current == status:
        raise MarkRefused(f"{name} est déjà marqué {STATUS_LABELS[status].lower()} ({at}).")
