"""Enrolments (SPEC C1), cohorts (C2) and the cohort sync enrolment method (C3).

A person has one enrolment per session (app/tables/learning.py), whatever the ways they were
enrolled: those are its sources (by hand, cohort X, registration request N). Every way of enrolling
goes through `add_sources` / `remove_sources`, set-based: one INSERT … ON CONFLICT creates or
re-activates the enrolments, one inserts the sources; removing the last source deactivates the
enrolment, which keeps its progress, so being enrolled again restores it.
"""

from __future__ import annotations

from typing import Annotated
from dataclasses import dataclass

from app import db
from app.dates import now
from app.jobs import kinds
from app.numbers import to_int
from app.services import convocations, seats
from app.services.errors import DomainError, NotFound, ValidationFailed
from app.validation import MaxLen, Required, declared_errors
from app.services.roles import LEARNER, CurrentUser
from app.services.seats import SessionFull  # noqa: F401 (enrolments.SessionFull, as before)
from app.services.scope import require_establishment, row_in_scope
from app.services.text import contains, fold
from app.services.uniqueness import fields_unique
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import CohortSync
from app.tables.learning import Enrolment, EnrolmentSource, SourceKind
from app.tables.cohorts import Cohort, CohortMember

LIST_LIMIT = 500  # a selector list shows at most this many; the search narrows it


# -- the two lists --------------------------------------------------------------------------------
def _search(query, q: str):
    q = fold(q).strip()
    if q.isdigit():  # a matricule, or part of one (the selector shows it, as Moodle's does)
        return query.where(contains(User.search_text, q) | contains(User.matricule, q))
    return query.where(contains(User.search_text, q)) if q else query


async def establishment_learners(establishment_id: int, exclude_query=None, q: str = "") -> tuple[list[dict], int]:
    """The learners of an establishment (potential users), minus ``exclude_query``'s user ids."""
    learners = RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == LEARNER) & (RoleAssignment.establishment == establishment_id)
    )
    query = User.select(User.id, User.first_name, User.last_name, User.username, User.email, User.matricule).where(
        User.id.is_in(learners)
    )
    count = User.count().where(User.id.is_in(learners))
    if exclude_query is not None:
        query = query.where(User.id.not_in(exclude_query))
        count = count.where(User.id.not_in(exclude_query))
    query, count = _search(query, q), _search(count, q)
    rows = await query.order_by(User.last_name_key).order_by(User.first_name_key).limit(LIST_LIMIT)
    return rows, await count


def _ids(values: list[str]) -> list[int]:
    return [i for i in (to_int(v) for v in values) if i is not None]


async def _learner_ids_of(establishment_id: int, ids: list[int]) -> list[int]:
    """Only the establishment's learners among posted ids: a forged id adds no one."""
    if not ids:
        return []
    rows = await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == LEARNER) & (RoleAssignment.establishment == establishment_id)
        & RoleAssignment.user.is_in(ids)
    )
    return sorted({r["user"] for r in rows})


# -- one way in, one way out ----------------------------------------------------------------------
# An enrolment made active again keeps its progress; its calendar invitation gets a new SEQUENCE
# (it was cancelled when the enrolment ended).
_REACTIVATE = ('ON CONFLICT (session, "user") DO UPDATE SET active = TRUE, ended_at = NULL, '
               "invitation_sequence = enrolment.invitation_sequence + 1 WHERE enrolment.active = FALSE")


def _source_key(kind: SourceKind, cohort: int | None, request: int | None) -> str:
    return {SourceKind.manual: "manual", SourceKind.cohort: f"cohort:{cohort}",
            SourceKind.registration: f"request:{request}"}[kind]


async def add_sources(session_id: int, user_ids: list[int], kind: SourceKind, *, cohort: int | None = None,
                      request: int | None = None, by: int | None = None) -> int:
    """Enrol people in a session by one way: their enrolment is created (or re-activated, with its
    progress) and the way is recorded as a source. Returns how many were not enrolled before.
    Callers check scope and seats; this only writes, in two statements whatever the number."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    marks = ", ".join("{}" for _ in ids)
    async with db.transaction():
        # The rows returned are the enrolments made active now: new ones and re-activated ones.
        activated = await Enrolment.raw(
            'INSERT INTO enrolment (session, "user", role, active, enrolled_at, required_done, required_total, '
            "percent) SELECT CAST({} AS INTEGER), u.id, 'learner', TRUE, CURRENT_TIMESTAMP, 0, "
            "(SELECT COUNT(*) FROM session_activity a WHERE a.session = {} AND a.required "
            "AND a.retired_at IS NULL), 0 "
            f'FROM app_user u WHERE u.id IN ({marks}) ' + _REACTIVATE + " RETURNING id",
            session_id, session_id, *ids,
        )
        await EnrolmentSource.raw(
            "INSERT INTO enrolment_source (enrolment, kind, key, cohort, request, created_by, created_at) "
            "SELECT e.id, {}, {}, CAST({} AS INTEGER), CAST({} AS INTEGER), CAST({} AS INTEGER), CURRENT_TIMESTAMP "
            "FROM enrolment e "
            f'WHERE e.session = {{}} AND e."user" IN ({marks}) ON CONFLICT (enrolment, key) DO NOTHING',
            kind.value, _source_key(kind, cohort, request), cohort, request, by, session_id, *ids,
        )
        await convocations.on_enrolled([r["id"] for r in activated])
    return len(activated)


async def _deactivate_unsourced(enrolment_ids: list[int]) -> None:
    """Enrolments among these with no source left stop being active (kept, with their progress);
    their calendar invitation is cancelled (a new SEQUENCE, a cancellation to mail)."""
    if enrolment_ids:
        ended = await Enrolment.update({
            Enrolment.active: False, Enrolment.ended_at: now(),
            Enrolment.invitation_sequence: Enrolment.invitation_sequence + 1,
        }).where(
            Enrolment.id.is_in(sorted(set(enrolment_ids))) & (Enrolment.active == True)  # noqa: E712
            & Enrolment.id.not_in(EnrolmentSource.select(EnrolmentSource.enrolment).where(
                EnrolmentSource.enrolment.is_in(sorted(set(enrolment_ids)))))
        ).returning(Enrolment.id)
        await convocations.on_unenrolled([r["id"] for r in ended])


async def remove_sources(session_id: int, user_ids: list[int], kind: SourceKind) -> tuple[int, int]:
    """Take one way away (manual, or every registration request): returns (people no longer enrolled,
    people still enrolled another way)."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0, 0
    async with db.transaction():
        enrolments = Enrolment.select(Enrolment.id).where((Enrolment.session == session_id) & Enrolment.user.is_in(ids))
        removed = await EnrolmentSource.delete().where(
            EnrolmentSource.enrolment.is_in(enrolments) & (EnrolmentSource.kind == kind.value)
        ).returning(EnrolmentSource.enrolment)
        touched = [r["enrolment"] for r in removed]
        await _deactivate_unsourced(touched)
        still = await Enrolment.count().where(Enrolment.id.is_in(touched or [-1]) & (Enrolment.active == True))  # noqa: E712
    return len(set(touched)) - still, still


# -- manual enrolment (C1) ------------------------------------------------------------------------
def enrolled_user_ids(session_id: int):
    return Enrolment.select(Enrolment.user).where((Enrolment.session == session_id) & (Enrolment.active == True))  # noqa: E712


async def sources_by_user(session_id: int, user_ids: list[int]) -> dict[int, list[str]]:
    """How each of these people is enrolled, in words: "manuelle", "cohorte X", "demande R-…"."""
    rows = await EnrolmentSource.select(
        EnrolmentSource.enrolment.user.as_alias("user"), EnrolmentSource.kind,
        EnrolmentSource.cohort.name.as_alias("cohort_name"), EnrolmentSource.request.reference.as_alias("reference"),
    ).where((EnrolmentSource.enrolment.session == session_id) & EnrolmentSource.enrolment.user.is_in(user_ids or [-1]))
    by_user: dict[int, list[str]] = {}
    for m in rows:
        label = {"manual": "manuelle", "cohort": f"cohorte {m['cohort_name']}",
                 "registration": f"inscription en ligne {m['reference'] or ''}".strip()}[m["kind"]]
        by_user.setdefault(m["user"], []).append(label)
    return {user: sorted(labels) for user, labels in by_user.items()}


async def enrolled(session_id: int, q: str = "") -> tuple[list[dict], int]:
    """The enrolled users with how they are enrolled (manual, cohort names)."""
    query = _search(User.select(User.id, User.first_name, User.last_name, User.username, User.email, User.matricule).where(
        User.id.is_in(enrolled_user_ids(session_id))), q)
    count = await _search(User.count().where(User.id.is_in(enrolled_user_ids(session_id))), q)
    rows = await query.order_by(User.last_name_key).order_by(User.first_name_key).limit(LIST_LIMIT)
    by_user = await sources_by_user(session_id, [r["id"] for r in rows])
    for r in rows:
        r["methods"] = by_user.get(r["id"], [])
        r["manual"] = "manuelle" in r["methods"]
    return rows, count


async def enrol(user: CurrentUser, session: dict, user_ids: list[str]) -> int:
    if session.get("cancelled_at"):
        raise DomainError("Cette session est annulée : personne ne peut plus y être inscrit.")
    ids = await _learner_ids_of(session["establishment"], _ids(user_ids))
    if not ids:
        return 0
    async with seats.guarded(session["id"]) as limit:
        if limit:
            already = {r["user"] for r in await Enrolment.select(Enrolment.user).where(
                (Enrolment.session == session["id"]) & (Enrolment.active == True) & Enrolment.user.is_in(ids))}  # noqa: E712
            new = len(set(ids) - already)
            free = await seats.free_seats(session["id"], limit)
            if new > free:
                raise SessionFull(seats.full_message(limit, free, new))
        await add_sources(session["id"], ids, SourceKind.manual, by=user.id)
    return len(ids)


async def unenrol(user: CurrentUser, session: dict, user_ids: list[str]) -> tuple[int, int]:
    """Remove manual enrolments; returns (removed, kept because enrolled another way)."""
    return await remove_sources(session["id"], _ids(user_ids), SourceKind.manual)


# -- cohorts (C2) ---------------------------------------------------------------------------------
async def cohort_in_scope(user: CurrentUser, cohort_id: int) -> dict:
    return await row_in_scope(user, Cohort, cohort_id, "Cohorte introuvable.")


@dataclass
class CohortForm:
    name: Annotated[str, Required("Le nom de la cohorte est obligatoire."), MaxLen(100, "Le nom de la cohorte")] = ""
    visible: bool = False


async def save_cohort(user: CurrentUser, establishment_id: int, form: CohortForm, cohort_id: int | None = None) -> int:
    await require_establishment(user, establishment_id)
    name = form.name
    if errors := declared_errors(form):
        raise ValidationFailed(errors)
    clash = Cohort.exists().where((Cohort.establishment == establishment_id) & (Cohort.name == name))
    if cohort_id:
        clash = clash.where(Cohort.id != cohort_id)
    if await clash:
        raise ValidationFailed({"name": f"Une cohorte « {name} » existe déjà dans cet établissement."})
    async with fields_unique():
        if cohort_id:
            cohort = await cohort_in_scope(user, cohort_id)
            if cohort["establishment"] != establishment_id:
                raise NotFound("Cohorte introuvable.")
            await Cohort.update({Cohort.name: name, Cohort.visible: form.visible}).where(Cohort.id == cohort_id)
            return cohort_id
        row = await Cohort.insert(Cohort(establishment=establishment_id, name=name, visible=form.visible)).returning(
            Cohort.id)
    return row[0]["id"]


async def synced_sessions(cohort_id: int) -> list[dict]:
    """The sessions this cohort enrols its members in (cohort sync method)."""
    return await CohortSync.select(CohortSync.session.id.as_alias("id"),
                                   CohortSync.session.full_name.as_alias("full_name")).where(
        CohortSync.cohort == cohort_id).order_by(CohortSync.session.start_date)


class CohortInUse(DomainError):
    """A cohort synced with sessions: its sync methods are removed first (the manager's call)."""

    status_code = 409

    def __init__(self, message: str, cohort: dict):
        super().__init__(message)
        self.cohort = cohort


async def delete_cohort(user: CurrentUser, cohort_id: int) -> dict:
    cohort = await cohort_in_scope(user, cohort_id)
    synced = await CohortSync.count().where(CohortSync.cohort == cohort_id)
    if synced:
        raise CohortInUse(
            f"Cette cohorte est synchronisée avec {synced} session(s) : retirez d'abord la méthode "
            "« Synchronisation des cohortes » de ces sessions.", cohort)
    await Cohort.delete().where(Cohort.id == cohort_id)
    return cohort


def member_ids(cohort_id: int):
    return CohortMember.select(CohortMember.user).where(CohortMember.cohort == cohort_id)


async def members(cohort_id: int, q: str = "") -> tuple[list[dict], int]:
    query = _search(User.select(User.id, User.first_name, User.last_name, User.username, User.email, User.matricule).where(
        User.id.is_in(member_ids(cohort_id))), q)
    count = await _search(User.count().where(User.id.is_in(member_ids(cohort_id))), q)
    return await query.order_by(User.last_name_key).order_by(User.first_name_key).limit(LIST_LIMIT), count


async def add_members(user: CurrentUser, cohort: dict, user_ids: list[str]) -> int:
    ids = await _learner_ids_of(cohort["establishment"], _ids(user_ids))
    if not ids:
        return 0
    values = ", ".join("({}, {})" for _ in ids)
    params = [v for uid in ids for v in (cohort["id"], uid)]
    await CohortMember.raw(
        'INSERT INTO cohort_member (cohort, "user") VALUES ' + values + ' ON CONFLICT (cohort, "user") DO NOTHING',
        *params,
    )
    return len(ids)


async def remove_members(user: CurrentUser, cohort: dict, user_ids: list[str]) -> int:
    ids = _ids(user_ids)
    if not ids:
        return 0
    removed = await CohortMember.delete().where(
        (CohortMember.cohort == cohort["id"]) & CohortMember.user.is_in(ids)
    ).returning(CohortMember.user)
    return len(removed)


# -- cohort sync (C3) -----------------------------------------------------------------------------
async def add_sync(user: CurrentUser, session: dict, cohort_id: int) -> None:
    cohort = await cohort_in_scope(user, cohort_id)
    if cohort["establishment"] != session["establishment"]:
        raise ValidationFailed({"cohort": "Choisissez une cohorte de l'établissement de la session."})
    await CohortSync.raw(
        "INSERT INTO cohort_sync (session, cohort, created_at) VALUES ({}, {}, CURRENT_TIMESTAMP) "
        "ON CONFLICT (session, cohort) DO NOTHING",
        session["id"], cohort_id,
    )


async def remove_sync(user: CurrentUser, session: dict, sync_id: int) -> int:
    rows = await CohortSync.delete().where((CohortSync.id == sync_id) & (CohortSync.session == session["id"])).returning(
        CohortSync.cohort
    )
    if not rows:
        raise NotFound("Méthode d'inscription introuvable.")
    return rows[0]["cohort"]


async def sync_cohort(cohort_id: int) -> dict:
    """Bring every session synced with this cohort in line with its members. Idempotent and
    set-based: the statements are the same whatever the number of members (the same writes as
    `add_sources`, over a join), plus one seat count per synced session.

    Seats count as for every other way in (app/services/seats.py): the synced sessions' rows are
    locked, the members who left are unenrolled first, then members are enrolled up to each
    session's free seats, first added to the cohort first; the others wait for a seat (the next
    sync, the reconcile cron) and the participants page says how many (`session_syncs`)."""
    synced = [r["session"] for r in await CohortSync.select(CohortSync.session).where(CohortSync.cohort == cohort_id)]
    async with seats.guarded_many(synced) as limits:
        gone = await EnrolmentSource.raw(
            "DELETE FROM enrolment_source WHERE cohort = {} AND kind = 'cohort' AND ("
            "NOT EXISTS (SELECT 1 FROM cohort_member m JOIN enrolment e ON e.\"user\" = m.\"user\" "
            "WHERE m.cohort = enrolment_source.cohort AND e.id = enrolment_source.enrolment) "
            "OR NOT EXISTS (SELECT 1 FROM cohort_sync s JOIN enrolment e ON e.session = s.session "
            "WHERE s.cohort = enrolment_source.cohort AND e.id = enrolment_source.enrolment)) RETURNING enrolment",
            cohort_id,
        )
        await _deactivate_unsourced([r["enrolment"] for r in gone])
        activated = []
        if limits:
            # Each synced session's free seats (NULL: unlimited), after the departures above.
            caps = [(session_id, await seats.free_seats(session_id, limit)) for session_id, limit in limits.items()]
            values = ", ".join("(CAST({} AS INTEGER), CAST({} AS INTEGER))" for _ in caps)
            activated = await Enrolment.raw(
                f"WITH caps (session, seats_free) AS (VALUES {values}), "
                'candidates AS (SELECT s.session, m."user", ROW_NUMBER() OVER ('
                'PARTITION BY s.session ORDER BY m.added_at, m."user") AS place '
                "FROM cohort_sync s JOIN cohort_member m ON m.cohort = s.cohort WHERE s.cohort = {} "
                "AND NOT EXISTS (SELECT 1 FROM enrolment e WHERE e.session = s.session "
                'AND e."user" = m."user" AND e.active)) '
                'INSERT INTO enrolment (session, "user", role, active, enrolled_at, required_done, required_total, '
                "percent) SELECT c.session, c.\"user\", 'learner', TRUE, CURRENT_TIMESTAMP, 0, "
                "(SELECT COUNT(*) FROM session_activity a WHERE a.session = c.session AND a.required "
                "AND a.retired_at IS NULL), 0 "
                "FROM candidates c JOIN caps ON caps.session = c.session "
                "WHERE caps.seats_free IS NULL OR c.place <= caps.seats_free "
                + _REACTIVATE + " RETURNING id",
                *[v for cap in caps for v in cap], cohort_id,
            )
        # The cohort is a way in of its members enrolled now (not of those still waiting for a seat).
        await EnrolmentSource.raw(
            "INSERT INTO enrolment_source (enrolment, kind, key, cohort, created_at) "
            "SELECT e.id, 'cohort', {}, s.cohort, CURRENT_TIMESTAMP FROM cohort_sync s "
            "JOIN cohort_member m ON m.cohort = s.cohort "
            'JOIN enrolment e ON e.session = s.session AND e."user" = m."user" WHERE s.cohort = {} AND e.active '
            "ON CONFLICT (enrolment, key) DO NOTHING",
            f"cohort:{cohort_id}", cohort_id,
        )
        await convocations.on_enrolled([r["id"] for r in activated])
    active = await EnrolmentSource.count().where(
        (EnrolmentSource.cohort == cohort_id) & (EnrolmentSource.kind == "cohort"))
    return {"cohort": cohort_id, "active_enrolments": active}


async def sync_all() -> int:
    """The periodic full reconciliation: every cohort that syncs or synced a session."""
    cohorts = {r["cohort"] for r in await CohortSync.select(CohortSync.cohort)}
    cohorts |= {r["cohort"] for r in await EnrolmentSource.select(EnrolmentSource.cohort).where(
        EnrolmentSource.kind == "cohort").distinct()}
    for cohort_id in sorted(c for c in cohorts if c):
        await sync_cohort(cohort_id)
    return len(cohorts)


async def request_sync(redis, cohort_id: int, created_by: int | None = None) -> None:
    """A durable run of the cohort's sync (in the caller's transaction if one is open)."""
    await kinds.COHORT_SYNC.submit(redis, cohort_id, created_by=created_by)


async def enrolled_count(session_id: int) -> int:
    """People actively enrolled (one enrolment per person, however many ways)."""
    return await Enrolment.count().where((Enrolment.session == session_id) & (Enrolment.active == True))  # noqa: E712


async def session_syncs(session_id: int, seat_limit: int | None = None) -> list[dict]:
    """The session's cohort syncs; with the session's seats, each says how many of its cohort's
    members the session had no seat for (``left_out``, its French ``left_out_message``)."""
    rows = await CohortSync.select(CohortSync.id, CohortSync.cohort, CohortSync.cohort.name.as_alias("cohort_name")).where(
        CohortSync.session == session_id).order_by(CohortSync.id)
    for r in rows:
        r["left_out"], r["left_out_message"] = 0, ""
    if rows and seat_limit and (await seats.free_seats(session_id, seat_limit) or 0) <= 0:
        from piccolo.query.functions.aggregate import Count

        waiting = await CohortMember.select(CohortMember.cohort, Count(CohortMember.id, alias="n")).where(
            CohortMember.cohort.is_in([r["cohort"] for r in rows])
            & CohortMember.user.not_in(enrolled_user_ids(session_id))).group_by(CohortMember.cohort)
        counts = {w["cohort"]: w["n"] for w in waiting}
        for r in rows:
            r["left_out"] = counts.get(r["cohort"], 0)
            if r["left_out"]:
                r["left_out_message"] = seats.left_out_message(r["left_out"], r["cohort_name"], seat_limit)
    return rows


async def cohort_choices(establishment_id: int) -> list[tuple[str, str]]:
    rows = await Cohort.select(Cohort.id, Cohort.name).where(Cohort.establishment == establishment_id).order_by(
        Cohort.name)
    return [(str(c["id"]), c["name"]) for c in rows]


async def member_and_session_counts(rows: list[dict]) -> list[dict]:
    """The member and synced-session counts of a page of cohorts (two grouped queries)."""
    from piccolo.query.functions.aggregate import Count

    ids = [r["id"] for r in rows] or [-1]
    members = await CohortMember.select(CohortMember.cohort, Count(CohortMember.id, alias="n")).where(
        CohortMember.cohort.is_in(ids)).group_by(CohortMember.cohort)
    syncs = await CohortSync.select(CohortSync.cohort, Count(CohortSync.id, alias="n")).where(
        CohortSync.cohort.is_in(ids)).group_by(CohortSync.cohort)
    m, s = {r["cohort"]: r["n"] for r in members}, {r["cohort"]: r["n"] for r in syncs}
    for r in rows:
        r["members"], r["sessions"] = m.get(r["id"], 0), s.get(r["id"], 0)
    return rows
