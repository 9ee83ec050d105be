"""The seats of a training session: the one place that counts them and guards them.

A seat is held by a person enrolled in the session (one enrolment, whatever the number of ways
they are enrolled), and by a registration request under way: awaiting the confirmation of its address
(while its link is valid, unless it went to the waiting list), confirmed, or anywhere in the back
office's steps. A request on the waiting list, refused, cancelled or completed (its person is then
enrolled) holds none.

Every change that takes a seat checks in a transaction that holds the session's row
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the transaction takes the write lock at once), so
two requests never both take the last seat.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

from app import db
from app.dates import now
from app.services.errors import DomainError
from app.tables.catalogue import TrainingSession
from app.tables.learning import Enrolment
from app.tables.registration import RegistrationRequest

# Statuses of a request that hold a seat (``awaiting_confirmation`` only while its link is valid
# and it is not on the waiting list).
HOLDING = ["confirmed", "instance_validated", "credentials_sent"]
CONFIRMATION_VALID = timedelta(days=7)  # the confirmation link's life (registration.CONFIRM_MAX_AGE)


class SessionFull(DomainError):
    status_code = 409


def _holding_requests(session_id: int):
    awaiting = (
        (RegistrationRequest.status == "awaiting_confirmation")
        & (RegistrationRequest.waiting_list == False)  # noqa: E712
        & (RegistrationRequest.submitted_at > now() - CONFIRMATION_VALID)
    )
    return (RegistrationRequest.session == session_id) & (RegistrationRequest.status.is_in(HOLDING) | awaiting)


async def seats_taken(session_id: int, ahead_of: dict | None = None) -> int:
    """How many seats of the session are held.

    ``ahead_of`` (a registration request) counts only what comes before it: the people enrolled,
    and the requests sent before it (the request itself never counts). A request may go on while
    this is lower than the seats: first come, first served, even when a session holds more requests
    than seats (seats lowered, people enrolled by a cohort meanwhile).
    """
    enrolled_where = (Enrolment.session == session_id) & (Enrolment.active == True)  # noqa: E712
    requests_where = _holding_requests(session_id)
    if ahead_of is not None:
        if ahead_of.get("user"):
            # Their own enrolment (through a cohort, say) is not someone else's seat.
            enrolled_where &= Enrolment.user != ahead_of["user"]
        requests_where &= RegistrationRequest.id != ahead_of["id"]
        if ahead_of.get("submitted_at") is not None:
            requests_where &= (RegistrationRequest.submitted_at < ahead_of["submitted_at"]) | (
                (RegistrationRequest.submitted_at == ahead_of["submitted_at"]) & (RegistrationRequest.id < ahead_of["id"]))
    enrolled = await Enrolment.count().where(enrolled_where)
    # A request of someone already enrolled does not take a second seat.
    pending = await RegistrationRequest.count().where(
        requests_where & (RegistrationRequest.user.is_null()
                          | RegistrationRequest.user.not_in(Enrolment.select(Enrolment.user).where(enrolled_where))))
    return enrolled + pending


@asynccontextmanager
async def guarded(session_id: int):
    """A transaction in which nobody else can take a seat of this session; yields its ``seats``
    (None: unlimited). Everything that takes a seat runs inside one."""
    async with db.write_transaction():
        query = TrainingSession.select(TrainingSession.seats).where(TrainingSession.id == session_id)
        if not db.is_sqlite():
            query = query.lock_rows()
        row = await query.first()
        yield row["seats"] if row else None


@asynccontextmanager
async def guarded_many(session_ids: list[int]):
    """``guarded`` for several sessions at once (the cohort sync): their rows locked in id order
    (two such transactions never wait on each other crosswise); yields {session id: seats}."""
    async with db.write_transaction():
        ids = sorted(set(session_ids))
        found = {}
        if ids:
            query = TrainingSession.select(TrainingSession.id, TrainingSession.seats).where(
                TrainingSession.id.is_in(ids)).order_by(TrainingSession.id)
            if not db.is_sqlite():
                query = query.lock_rows()
            found = {r["id"]: r["seats"] for r in await query}
        yield found


async def free_seats(session_id: int, seats: int | None, ahead_of: dict | None = None) -> int | None:
    """Seats still free (None: unlimited); call it inside ``guarded``."""
    if not seats:
        return None
    return seats - await seats_taken(session_id, ahead_of)


def left_out_message(left_out: int, cohort: str, seats: int) -> str:
    """Members of a synced cohort the session has no seat for (the cohort sync enrols up to the
    free seats, first added to the cohort first)."""
    who = "membre de la cohorte" if left_out == 1 else "membres de la cohorte"
    verb = "n'a pas pu être inscrit" if left_out == 1 else "n'ont pas pu être inscrits"
    return (f"{left_out} {who} {cohort} {verb} : session complète ({seats} place{'s' if seats > 1 else ''}). "
            "Ils le seront à la prochaine synchronisation (toutes les 10 minutes) si des places se libèrent.")


def full_message(seats: int, free: int, wanted: int | None = None) -> str:
    """Why a request (``wanted`` None) or ``wanted`` people cannot take a seat."""
    if wanted is None:
        return (f"La session est complète ({seats} place(s), toutes prises par des personnes inscrites ou des "
                "demandes arrivées avant celle-ci). Augmentez le nombre de places dans les paramètres de la session, "
                "ou attendez qu'une place se libère.")
    return (f"La session est limitée à {seats} places et il en reste {max(free, 0)} : {wanted} personne(s) ne "
            "peuvent pas être inscrites. Augmentez le nombre de places dans les paramètres de la session, ou "
            "inscrivez moins de personnes.")
