"""What a trainer (« Formateur », issue 22) may reach: the sessions they train and those sessions'
slots — nothing else of the establishment. Also the one answer to "who trains this slot": the
slot's own trainers (``SlotTrainer``), else every trainer of its session.

A session or slot the user may not reach is answered « … introuvable » exactly like a missing one.
"""

from __future__ import annotations

from app.services.errors import NotFound
from app.services.roles import TRAINER, CurrentUser
from app.services.scope import establishment_scope
from app.tables.catalogue import SessionSlot, TrainingSession
from app.tables.evidence import SessionTrainer, SlotTrainer

SESSION_NOT_FOUND = "Session introuvable."
SLOT_NOT_FOUND = "Créneau introuvable."


async def trained_session_ids(user_id: int) -> list[int]:
    rows = await SessionTrainer.select(SessionTrainer.session).where(SessionTrainer.user == user_id)
    return sorted(r["session"] for r in rows)


async def trains_session(user: CurrentUser | None, session_id: int) -> bool:
    if user is None or not user.has_role(TRAINER):
        return False
    return await SessionTrainer.exists().where((SessionTrainer.session == session_id) & (SessionTrainer.user == user.id))


async def _session(session_id: int) -> dict | None:
    return await TrainingSession.select(
        TrainingSession.all_columns(), TrainingSession.establishment.code.as_alias("establishment_code"),
        TrainingSession.establishment.name.as_alias("establishment_name"),
        TrainingSession.template.title.as_alias("template_title"),
    ).where(TrainingSession.id == session_id).first()


async def staff_session(user: CurrentUser | None, session_id: int) -> tuple[dict, bool]:
    """(the session, whether ``user`` reaches it as its trainer) for a manager whose scope holds it or
    a trainer of it; NotFound otherwise. A manager who also trains it is answered as a manager."""
    session = await _session(session_id)
    if session is None or user is None:
        raise NotFound(SESSION_NOT_FOUND)
    if user.manages_establishments and (await establishment_scope(user)).allows(session["establishment"]):
        return session, False
    if await trains_session(user, session_id):
        return session, True
    raise NotFound(SESSION_NOT_FOUND)


async def slot_trainers(slot_ids: list[int]) -> dict[int, list[dict]]:
    """{slot id: [{"id", "first_name", "last_name", "name"}]} — each slot's trainers by name: its own,
    else its session's. Two queries whatever the number of slots."""
    if not slot_ids:
        return {}
    ids = sorted(set(slot_ids))
    own = await SlotTrainer.select(
        SlotTrainer.slot, SlotTrainer.user.id.as_alias("id"), SlotTrainer.user.first_name.as_alias("first_name"),
        SlotTrainer.user.last_name.as_alias("last_name"),
    ).where(SlotTrainer.slot.is_in(ids))
    result: dict[int, list[dict]] = {i: [] for i in ids}
    for row in own:
        result[row["slot"]].append(row)
    bare = [i for i in ids if not result[i]]
    if bare:
        slots = await SessionSlot.select(SessionSlot.id, SessionSlot.session).where(SessionSlot.id.is_in(bare))
        sessions = sorted({s["session"] for s in slots})
        by_session: dict[int, list[dict]] = {}
        for row in await SessionTrainer.select(
                SessionTrainer.session, SessionTrainer.user.id.as_alias("id"),
                SessionTrainer.user.first_name.as_alias("first_name"),
                SessionTrainer.user.last_name.as_alias("last_name")).where(SessionTrainer.session.is_in(sessions)):
            by_session.setdefault(row["session"], []).append(row)
        for s in slots:
            result[s["id"]] = [dict(t) for t in by_session.get(s["session"], [])]
    for trainers in result.values():
        for t in trainers:
            t.pop("slot", None)
            t.pop("session", None)
            t["name"] = f"{t['first_name']} {t['last_name']}".strip()
        trainers.sort(key=lambda t: (t["last_name"].lower(), t["first_name"].lower(), t["id"]))
    return result


async def staff_slot(user: CurrentUser | None, slot_id: int) -> tuple[dict, dict, bool]:
    """(the slot, its session, whether ``user`` reaches it as one of its trainers) for a manager in
    scope or a trainer of that slot; NotFound (« Créneau introuvable. ») otherwise."""
    slot = await SessionSlot.select().where(SessionSlot.id == slot_id).first()
    if slot is None or user is None:
        raise NotFound(SLOT_NOT_FOUND)
    try:
        session, as_trainer = await staff_session(user, slot["session"])
    except NotFound:
        raise NotFound(SLOT_NOT_FOUND) from None
    if as_trainer and user.id not in {t["id"] for t in (await slot_trainers([slot_id]))[slot_id]}:
        raise NotFound(SLOT_NOT_FOUND)
    return slot, session, as_trainer
