"""The learner's side of the émargement (issue 22): which slot they may sign now (the home page's
« Signer ma présence »), what stands in the way of signing one, and the signature itself.

A signature is one ``attendance.write`` with ``only_unrecorded``: the projection's unique (enrolment,
slot) takes it with INSERT … ON CONFLICT DO NOTHING in the record's transaction, so two submits at
once (a double tap, two phones) make one record and the second is told « déjà signé »."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from app.dates import now, today
from app.services import attendance
from app.services.errors import DomainError, NotFound
from app.services.signing import window
from app.services.signing.common import STATUS_LABELS
from app.settings import get_settings
from app.tables.catalogue import SessionSlot

NOT_YOURS = "Ce créneau n'existe pas ou vous n'êtes pas inscrit à sa session : rien n'a été enregistré."
CLOSED = ("L'émargement de ce créneau est clôturé par le formateur : il n'est plus possible de signer. "
          "Adressez-vous au formateur ou au gestionnaire de la session.")
CANCELLED = "Cette session est annulée : il n'y a pas de présence à signer."


class SigningRefused(DomainError):
    status_code = 409


def _wall(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo(get_settings().timezone))


def when_fr(value: datetime) -> str:
    """« 7 déc. 2026, 09:03 » on the platform's wall clock."""
    return format_datetime(_wall(value), "d MMM y, HH:mm", locale="fr_FR")


def time_fr(value: datetime) -> str:
    """« 09:03 » on the platform's wall clock."""
    return f"{_wall(value):%H:%M}"


@dataclass
class Target:
    """A slot as one learner may sign it."""

    slot: dict  # id, day, starts, ends, session
    session: dict  # id, full_name, code, signing_grace
    enrolment: int
    closed: bool
    status: str | None  # the recorded state, if any
    recorded_at: datetime | None
    method: str | None

    @property
    def state(self) -> str:
        return window.state(self.slot, self.session["signing_grace"])


_TARGET = (
    "SELECT s.id, s.day, s.starts, s.ends, s.session, t.full_name, t.code, t.signing_grace, t.cancelled_at, "
    "e.id AS enrolment, "
    "a.status, a.recorded_at, r.method, c.id AS closure "
    "FROM session_slot s JOIN training_session t ON t.id = s.session "
    "JOIN enrolment e ON e.session = t.id AND e.\"user\" = {} AND e.active "
    "LEFT JOIN attendance a ON a.enrolment = e.id AND a.slot = s.id "
    "LEFT JOIN attendance_record r ON r.id = a.record "
    "LEFT JOIN slot_closure c ON c.slot = s.id WHERE s.id = {}"
)


async def target(user_id: int, slot_id: int) -> Target:
    """The slot for this learner (one query); NotFound (NOT_YOURS) when it is missing or of a
    session they are not actively enrolled in — the same answer for both."""
    rows = await SessionSlot.raw(_TARGET, user_id, slot_id)
    if not rows:
        raise NotFound(NOT_YOURS)
    r = rows[0]
    return Target(
        slot={k: r[k] for k in ("id", "day", "starts", "ends", "session")},
        session={"id": r["session"], "full_name": r["full_name"], "code": r["code"],
                 "signing_grace": r["signing_grace"], "cancelled": r["cancelled_at"] is not None},
        enrolment=r["enrolment"], closed=r["closure"] is not None, status=r["status"],
        recorded_at=r["recorded_at"], method=r["method"])


def problem(t: Target) -> str | None:
    """Why this learner cannot sign this slot now (French), or None."""
    if t.status == "present" and t.method in ("qr", "link"):
        return f"Vous avez déjà signé ce créneau à {time_fr(t.recorded_at)}."
    if t.status:
        return (f"Votre présence à ce créneau est déjà enregistrée ({STATUS_LABELS.get(t.status, t.status).lower()}, "
                f"{time_fr(t.recorded_at)}) : adressez-vous au formateur en cas d'erreur.")
    if t.closed:
        return CLOSED
    if t.session["cancelled"]:
        return CANCELLED
    opens, closes = window.bounds(t.slot, t.session["signing_grace"])
    state = t.state
    if state == window.BEFORE:
        return f"L'émargement de ce créneau n'est pas encore ouvert : il ouvrira le {when_fr(opens)}."
    if state == window.OVER:
        return (f"L'émargement de ce créneau est terminé depuis le {when_fr(closes)} : "
                "adressez-vous au formateur.")
    return None


async def sign(user_id: int, slot_id: int, signature: str, method: str, client_hash: str, redis=None) -> datetime:
    """Record this learner present at the slot (``method`` « qr » or « link », ``signature`` the
    checked PNG base64 or ""): SigningRefused with the French reason when they may not, nothing
    recorded. Returns the server time recorded."""
    t = await target(user_id, slot_id)
    reason = problem(t)
    if reason:
        raise SigningRefused(reason)

    def still_open(closed: set[int]) -> None:
        if slot_id in closed:
            raise SigningRefused(CLOSED)

    try:
        records = await attendance.write(
            [attendance.Mark(t.enrolment, slot_id, "present", signature=signature)], method, user_id, redis,
            client_hash=client_hash, only_unrecorded=True, slot_check=still_open)
    except attendance.AlreadyRecorded:
        raise SigningRefused(problem(await target(user_id, slot_id)) or CLOSED) from None
    return records[0]["recorded_at"]


_OPEN_SLOTS = (
    "SELECT s.id, s.day, s.starts, s.ends, t.id AS session, t.full_name, t.code, t.signing_grace, "
    "a.status AS recorded_status, a.recorded_at "
    "FROM enrolment e JOIN training_session t ON t.id = e.session JOIN session_slot s ON s.session = t.id "
    "LEFT JOIN attendance a ON a.enrolment = e.id AND a.slot = s.id "
    "WHERE e.\"user\" = {} AND e.active AND t.cancelled_at IS NULL AND s.day >= {} AND s.day <= {} "
    "AND NOT EXISTS (SELECT 1 FROM slot_closure c WHERE c.slot = s.id) ORDER BY s.day, s.starts"
)


async def open_slots(user_id: int) -> list[dict]:
    """The learner's slots open for signing now (open window, enrolled, not closed), for the home
    page: « Signer ma présence » on those not recorded yet, what was recorded (« Présence enregistrée
    à 09:03 ») on the others — never a future slot. One query."""
    day = today()
    rows = await SessionSlot.raw(_OPEN_SLOTS, user_id, day - timedelta(days=1), day + timedelta(days=1))
    at = now()
    rows = [r for r in rows if window.state(r, r["signing_grace"], at) == window.OPEN]
    for r in rows:
        r["recorded_time"] = time_fr(r["recorded_at"]) if r["recorded_at"] else ""
    return rows
