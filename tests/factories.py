"""Small data builders for tests: the rows a test counts are the rows it made, not the demo's (a
count copied from app/demo.py breaks with any change to it). They write through the app's own
tables and services, set-based where it counts (one bulk insert for N users, add_sources for N
learners), and return ids; a test asserts what it built.

    est = await establishment(users=30)              # an establishment of ALP with 30 learners
    ids = await learners(est, 5, prefix="zz")        # 5 more, their ids
    session = await session_with_learners(est, learners=3, slots=2)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, time, timedelta

from app.bulk import bulk_insert
from app.dates import now
from app.services import slots as slot_service
from app.services.enrolments import add_sources
from app.services.text import user_text_fields
from app.tables.accounts import RoleAssignment, User
from app.services.roles import TRAINER
from app.tables.catalogue import CourseTemplate, TrainingSession
from app.tables.evidence import SessionTrainer, SlotTrainer
from app.tables.learning import Enrolment, SourceKind
from app.tables.org import Delegation, Establishment

_serial = itertools.count(1)

USER_COLUMNS = [
    User.username, User.password_hash, User.first_name, User.last_name, User.email, User.establishment, User.status,
    User.matricule, User.is_suspended, User.force_password_change, User.search_text, User.last_name_key,
    User.first_name_key, User.created_at,
]


async def delegation_id(code: str = "ALP") -> int:
    """An existing delegation's id, or a new delegation of that code."""
    row = await Delegation.select(Delegation.id).where(Delegation.code == code).first()
    if row:
        return row["id"]
    return (await Delegation.insert(Delegation(code=code, name=f"DÉLÉGATION {code}")).returning(Delegation.id))[0]["id"]


async def establishments(n: int, delegation: str = "ALP", code_prefix: str = "FAB",
                         name: str = "ÉTABLISSEMENT {i:02d}") -> list[int]:
    """``n`` establishments of ``delegation`` (codes FAB001…, names from ``name``), in one insert; ids
    in code order."""
    delegation = await delegation_id(delegation)
    first = next(_serial) * 1000
    codes = [f"{code_prefix}{first + i:05d}" for i in range(n)]
    await Establishment.insert(*[Establishment(code=code, name=name.format(i=i), delegation=delegation)
                                 for i, code in enumerate(codes)])
    rows = await Establishment.select(Establishment.id).where(Establishment.code.is_in(codes or [""])).order_by(
        Establishment.code)
    return [r["id"] for r in rows]


async def learners(establishment_id: int, n: int, prefix: str = "fab", suspended: bool = False,
                   password_hash: str = "x") -> list[int]:
    """``n`` learner accounts of the establishment (one bulk insert of users, one of their learner
    roles): usernames ``<prefix><serial>.<i>``; their ids in creation order."""
    serial = next(_serial)
    t = now()
    rows = []
    for i in range(n):
        username, first, last = f"{prefix}{serial}.{i}", f"Prénom{i}", f"Nom{serial}x{i}"
        email = f"{username}@example.org"
        keys = user_text_fields(first, last, username, email)
        rows.append((username, password_hash, first, last, email, establishment_id, "fph_agent", f"M{serial}{i:05d}",
                     suspended, False, keys["search_text"], keys["last_name_key"], keys["first_name_key"], t))
    await bulk_insert(User, USER_COLUMNS, rows)
    ids = [r["id"] for r in await User.select(User.id).where(
        User.username.is_in([r[0] for r in rows] or [""])).order_by(User.id)]
    await bulk_insert(RoleAssignment, [RoleAssignment.user, RoleAssignment.role, RoleAssignment.establishment,
                                       RoleAssignment.created_at], [(u, "learner", establishment_id, t) for u in ids])
    return ids


async def establishment(users: int = 0, delegation: str = "ALP") -> int:
    """One establishment with ``users`` learners; its id."""
    (est,) = await establishments(1, delegation)
    if users:
        await learners(est, users)
    return est


@dataclass
class BuiltSession:
    id: int
    learners: list[int]  # user ids, enrolled
    enrolments: dict[int, int]  # user id -> enrolment id
    slots: list[slot_service.Slot]


async def session_with_learners(establishment_id: int, learners_count: int = 3, slots: int = 2,
                                start: date | None = None, **fields) -> BuiltSession:
    """A session of the establishment with ``slots`` half-day slots (9:00–12:30, then 13:30–17:00,
    day after day) and ``learners_count`` new learners enrolled by hand (add_sources)."""
    start = start or date.today() + timedelta(days=30)
    halves = [(time(9), time(12, 30)), (time(13, 30), time(17))]
    slot_list = [slot_service.Slot(start + timedelta(days=i // 2), *halves[i % 2]) for i in range(slots)]
    end = slot_list[-1].day if slot_list else start
    serial = next(_serial)
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=establishment_id, full_name=f"Session fabriquée {serial}", short_name=f"FAB{serial}",
        start_date=start, end_date=end, code=f"26F{serial:02d}S1", **fields)).returning(TrainingSession.id))[0]["id"]
    if slot_list:
        await slot_service.replace(session_id, slot_list)
    people = await learners(establishment_id, learners_count) if learners_count else []
    if people:
        await add_sources(session_id, people, SourceKind.manual)
    enrolments = {r["user"]: r["id"] for r in await Enrolment.select(Enrolment.id, Enrolment.user).where(
        Enrolment.session == session_id)}
    return BuiltSession(session_id, people, enrolments, slot_list)


async def qvt_session() -> int:
    """« Session du QVT » (26C03S1) of the demo's ALP001, from its template C03, twenty days ahead
    with ten seats: a session the public registration offers. Returns its id."""
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    qvt = await CourseTemplate.select(CourseTemplate.id).where(CourseTemplate.code == "C03").first()
    start = date.today() + timedelta(days=20)
    row = await TrainingSession.insert(TrainingSession(
        establishment=alp001, template=qvt["id"], full_name="Session du QVT", short_name="QVT", start_date=start,
        end_date=start + timedelta(days=1), code="26C03S1", seats=10)).returning(TrainingSession.id)
    return row[0]["id"]


async def trainer(session_id: int, slot_ids: list[int] | None = None, establishment_id: int | None = None,
                  password_hash: str = "") -> int:
    """A new trainer (« Formateur », issue 22) of the session — an external person (no establishment)
    unless ``establishment_id`` — with the trainer grant; trains only ``slot_ids`` when given, else
    every slot of the session. Returns the user's id."""
    serial = next(_serial)
    username = f"formateur.fab{serial}"
    first, last = "Form", f"Ateur{serial}"
    user_id = (await User.insert(User(
        username=username, password_hash=password_hash, first_name=first, last_name=last,
        email=f"{username}@formateurs.test", establishment=establishment_id, external=establishment_id is None,
        **user_text_fields(username=username, first_name=first, last_name=last, email=f"{username}@formateurs.test")
    )).returning(User.id))[0]["id"]
    await RoleAssignment.insert(RoleAssignment(user=user_id, role=TRAINER))
    await SessionTrainer.insert(SessionTrainer(session=session_id, user=user_id))
    if slot_ids:
        await SlotTrainer.insert(*[SlotTrainer(slot=s, user=user_id) for s in slot_ids])
    return user_id
