"""A session's trainers (« Formateur », issue 22, SPEC X3): who they are, how managers add them (an
existing account they may designate, or an external person created here), which slots each trains,
and what a trainer sees of the sessions they train.

- An account may be designated by a manager when it is theirs to manage (``Scope.users_where``) or an
  external person's (``User.external``): typed exactly (username or e-mail). Anything else — missing,
  deactivated, suspended, outside the scope — gets the same answer (``NO_ACCOUNT``): a typed name tells
  nothing about accounts the manager may not see.
- An external trainer is made by the one account-creation function (``accounts.insert_account``, role
  ``trainer`` instead of learner), named by the external trainees' rule (``ext.<initiale>.<nom>``,
  README « Accounts »), and mailed their credentials as every new account is (``credentials_mail``).
- The trainer grant (``RoleAssignment`` role ``trainer``, no establishment) is given with their first
  session and taken back with their last.
- A slot without ``SlotTrainer`` rows is trained by every trainer of its session
  (``trainer_scope.slot_trainers``); the per-slot assignment is saved set-based.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import time
from typing import Annotated

from app import db
from app.dates import date_fr, today
from app.services import outbox
from app.services.accounts import (
    EMAIL_RE, NewAccount, credentials_mail, email_taken, external_username, free_username, insert_account,
    normalise_email,
)
from app.services.errors import NotFound, ValidationFailed
from app.services.passwords import generate_password, hash_password
from app.services.roles import TRAINER, CurrentUser
from app.services.scope import establishment_scope
from app.services.session_names import name_for_documents
from app.services.signing.common import STATUS_LABELS
from app.services.trainer_scope import slot_trainers, trained_session_ids
from app.services.uniqueness import EMAIL_TAKEN, fields_unique
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import SessionSlot, TrainingSession
from app.tables.evidence import SessionTrainer, SlotClosure, SlotTrainer
from app.tables.learning import Attendance, Enrolment
from app.validation import MaxLen, Required, declared_errors

NO_ACCOUNT = ("Aucun compte ne correspond à ce nom d'utilisateur ou à cette adresse parmi les comptes que vous "
              "pouvez désigner (les comptes de vos établissements et les personnes externes).")
NOT_A_TRAINER = "Formateur introuvable dans cette session."
STALE = "Un créneau ou un formateur de ce tableau n'existe plus dans la session : rechargez la page et recommencez."


# -- forms ---------------------------------------------------------------------------------------
@dataclass
class AddForm:
    account: Annotated[str, Required("Saisissez le nom d'utilisateur ou l'adresse de courriel du compte."),
                       MaxLen(254, "Le nom d'utilisateur ou l'adresse")] = ""


@dataclass
class ExternalForm:
    first_name: Annotated[str, Required("Le prénom est obligatoire."), MaxLen(100, "Le prénom")] = ""
    last_name: Annotated[str, Required("Le nom de famille est obligatoire."), MaxLen(100, "Le nom de famille")] = ""
    email: Annotated[str, Required("L'adresse de courriel est obligatoire : le formateur y reçoit ses identifiants."),
                     MaxLen(254, "L'adresse de courriel")] = ""


@dataclass
class RemoveForm:
    trainer: int | None = None


@dataclass
class AssignForm:
    # "<slot id>:<user id>" for each ticked box of the slots x trainers table.
    assign: list[str] = field(default_factory=list)


# -- reading -------------------------------------------------------------------------------------
def _name(row: dict) -> str:
    return f"{row['first_name']} {row['last_name']}".strip()


async def session_trainers(session_id: int) -> list[dict]:
    """The session's trainers by name: id, username, name, e-mail (a real one), whether external,
    their establishment or organisation."""
    rows = await SessionTrainer.select(
        SessionTrainer.user.id.as_alias("id"), SessionTrainer.user.username.as_alias("username"),
        SessionTrainer.user.first_name.as_alias("first_name"), SessionTrainer.user.last_name.as_alias("last_name"),
        SessionTrainer.user.email.as_alias("email"), SessionTrainer.user.external.as_alias("external"),
        SessionTrainer.user.establishment.name.as_alias("establishment_name"),
        SessionTrainer.user.organisation.name.as_alias("organisation_name"), SessionTrainer.added_at,
    ).where(SessionTrainer.session == session_id)
    for r in rows:
        r["name"] = _name(r)
        r["email"] = "" if ".fictif@" in (r["email"] or "") else r["email"]
        r["where"] = r["establishment_name"] or r["organisation_name"] or ("Externe" if r["external"] else "")
    rows.sort(key=lambda r: (r["last_name"].lower(), r["first_name"].lower(), r["id"]))
    return rows


def _hours(starts: time, ends: time) -> str:
    return f"{starts:%H:%M}–{ends:%H:%M}"


async def session_slots(session_id: int) -> list[dict]:
    """The session's slots in order (id, day, hours, French day), each with its own trainers' ids
    (``assigned``: empty when every trainer of the session trains it) and its trainers by name
    (``trainers``, as ``slot_trainers`` answers) and whether it is closed."""
    rows = await SessionSlot.select(SessionSlot.id, SessionSlot.day, SessionSlot.starts, SessionSlot.ends).where(
        SessionSlot.session == session_id).order_by(SessionSlot.day).order_by(SessionSlot.starts)
    ids = [r["id"] for r in rows]
    assigned: dict[int, set[int]] = {i: set() for i in ids}
    closed: set[int] = set()
    if ids:
        for a in await SlotTrainer.select(SlotTrainer.slot, SlotTrainer.user).where(SlotTrainer.slot.is_in(ids)):
            assigned[a["slot"]].add(a["user"])
        closed = {c["slot"] for c in await SlotClosure.select(SlotClosure.slot).where(SlotClosure.slot.is_in(ids))}
    names = await slot_trainers(ids)
    for r in rows:
        r.update(day_fr=date_fr(r["day"]), hours=_hours(r["starts"], r["ends"]), assigned=assigned[r["id"]],
                 trainers=names.get(r["id"], []), closed=r["id"] in closed)
        r["trainer_names"] = ", ".join(t["name"] for t in r["trainers"])
    return rows


async def name_slot_trainers(slots: list[dict]) -> list[dict]:
    """Give each slot (a dict with its ``id``) ``trainers`` (their names) and ``trainer_names`` (joined):
    what the printable attendance sheet and other documents state. Idempotent; one call for all."""
    names = await slot_trainers([s["id"] for s in slots if s and s.get("id")])
    for s in slots:
        if s and s.get("id"):
            s["trainers"] = [t["name"] for t in names.get(s["id"], [])]
            s["trainer_names"] = ", ".join(s["trainers"])
    return slots


async def session_trainer_names(session_ids: list[int]) -> dict[int, list[str]]:
    """{session: [names]} — who trains each session: the trainers of its slots (a trainer assigned to
    none of them is not named), or all its trainers when it has no slot. For the convocations."""
    ids = sorted(set(session_ids))
    if not ids:
        return {}
    slots = await SessionSlot.select(SessionSlot.id, SessionSlot.session).where(SessionSlot.session.is_in(ids))
    by_slot = await slot_trainers([s["id"] for s in slots])
    people: dict[int, dict[int, dict]] = {i: {} for i in ids}
    for s in slots:
        for t in by_slot.get(s["id"], []):
            people[s["session"]][t["id"]] = t
    bare = [i for i in ids if not any(s["session"] == i for s in slots)]
    if bare:
        for t in await SessionTrainer.select(
                SessionTrainer.session, SessionTrainer.user.id.as_alias("id"),
                SessionTrainer.user.first_name.as_alias("first_name"),
                SessionTrainer.user.last_name.as_alias("last_name")).where(SessionTrainer.session.is_in(bare)):
            people[t["session"]][t["id"]] = {**t, "name": _name(t)}
    return {i: [t["name"] for t in sorted(p.values(), key=lambda t: (t["last_name"].lower(), t["first_name"].lower()))]
            for i, p in people.items()}


# -- designating a trainer -----------------------------------------------------------------------
async def _designable(user: CurrentUser, typed: str) -> dict:
    """The active account typed exactly (username or e-mail) that ``user`` may designate, or
    ValidationFailed(NO_ACCOUNT) — the same words whatever the reason."""
    typed = typed.strip().lower()
    found = await User.select(User.id, User.first_name, User.last_name).where(
        ((User.username == typed) | (User.email == normalise_email(typed)))
        & User.deactivated_at.is_null() & (User.is_suspended == False)  # noqa: E712
    )
    if not found:
        raise ValidationFailed({"account": NO_ACCOUNT}, NO_ACCOUNT)
    scope = await establishment_scope(user)
    clause = User.id.is_in([r["id"] for r in found])
    if not scope.everything:  # an administrator designates anyone; a manager their accounts or an external
        # Their accounts as ``Scope.users_where`` says, a trainer grant (of any session) not counting as
        # a right beyond the scope: designating someone gives no hold over their account.
        beyond = RoleAssignment.select(RoleAssignment.user).where(scope.grants_beyond() & (RoleAssignment.role != TRAINER))
        clause = clause & ((User.external == True) | (scope.where(User.establishment) & User.id.not_in(beyond)))  # noqa: E712
    reachable = {r["id"] for r in await User.select(User.id).where(clause)}
    for r in found:
        if r["id"] in reachable:
            return r
    raise ValidationFailed({"account": NO_ACCOUNT}, NO_ACCOUNT)


LEARNER_OF_SESSION = ("Ce compte est inscrit comme stagiaire à cette session : il ne peut pas en être formateur "
                      "(il certifierait sa propre présence). Désinscrivez-le d'abord, ou choisissez un autre compte.")


async def _attach(session_id: int, user_id: int, by: int) -> bool:
    """Make ``user_id`` a trainer of the session (the caller's transaction): the SessionTrainer row
    (already there: nothing) and the trainer grant when they have none. Whether they were added."""
    await db.lock_name(f"trainer-grant:{user_id}")  # two sessions granting the same person at once
    added = await SessionTrainer.insert(SessionTrainer(session=session_id, user=user_id, added_by=by)).on_conflict(
        target=(SessionTrainer.session, SessionTrainer.user), action="DO NOTHING").returning(SessionTrainer.id)
    if not await RoleAssignment.exists().where((RoleAssignment.user == user_id) & (RoleAssignment.role == TRAINER)):
        await RoleAssignment.insert(RoleAssignment(user=user_id, role=TRAINER, granted_by=by))
    return bool(added)


async def add_existing(user: CurrentUser, session: dict, form: AddForm) -> tuple[dict, bool]:
    """Designate an existing account; (the account, whether newly added). Twice: nothing changes."""
    if errors := declared_errors(form):
        raise ValidationFailed(errors)
    account = await _designable(user, form.account)
    if await Enrolment.exists().where((Enrolment.session == session["id"]) & (Enrolment.user == account["id"])
                                      & (Enrolment.active == True)):  # noqa: E712
        # A learner of the session would mark and certify their own presence.
        raise ValidationFailed({"account": LEARNER_OF_SESSION}, LEARNER_OF_SESSION)
    async with db.write_transaction():
        added = await _attach(session["id"], account["id"], user.id)
    return account, added


async def create_external(user: CurrentUser, session: dict, form: ExternalForm, redis=None) -> dict:
    """A new external person's account (no establishment, ``ext.`` username, trainer grant), made a
    trainer of the session and mailed their credentials; returns {"id", "username", "name"}."""
    form.email = normalise_email(form.email)
    errors = declared_errors(form)
    if form.email and "email" not in errors:
        if not EMAIL_RE.match(form.email) or ".fictif@" in form.email:
            errors["email"] = "Adresse de courriel invalide."
        elif await email_taken(form.email):
            errors["email"] = (EMAIL_TAKEN + " Si cette personne est l'un des comptes que vous pouvez désigner, "
                               "ajoutez-la plutôt par son adresse.")
    if errors:
        raise ValidationFailed(errors)
    password = generate_password()
    password_hash = await asyncio.to_thread(hash_password, password)
    async with fields_unique(), db.write_transaction():
        await db.lock_name(f"account-email:{form.email}")
        username = await free_username(external_username(form.first_name, form.last_name))
        account = NewAccount(username=username, password_hash=password_hash, first_name=form.first_name,
                             last_name=form.last_name, email=form.email, establishment=None,
                             force_password_change=True, external=True)
        user_id = await insert_account(account, granted_by=user.id, role=TRAINER)
        await _attach(session["id"], user_id, user.id)
        subject, body = credentials_mail(form.first_name, username)
        mail_id = await outbox.queue_mail([form.email], subject, body, category="credentials", secret=password)
    if redis is not None and mail_id:
        await outbox.dispatch(redis, [mail_id])
    return {"id": user_id, "username": username, "name": f"{form.first_name} {form.last_name}".strip()}


async def remove(user: CurrentUser, session: dict, form: RemoveForm) -> dict:
    """The trainer leaves the session with their slot assignments; refused once they closed or trained
    one of its closed slots (their countersignature, the signed sheet naming them, are evidence). Their trainer grant goes with their last session."""
    trainers = {t["id"]: t for t in await session_trainers(session["id"])}
    trainer = trainers.get(form.trainer or 0)
    if trainer is None:
        raise NotFound(NOT_A_TRAINER)
    session_slots_q = SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session["id"])
    if await SlotClosure.exists().where((SlotClosure.closed_by == trainer["id"]) & SlotClosure.slot.is_in(session_slots_q)):
        raise ValidationFailed({"trainer": f"{trainer['name']} a clôturé un créneau de cette session : sa "
                                           "contre-signature fait foi, il reste formateur de la session."})
    closed_slots_q = SlotClosure.select(SlotClosure.slot).where(SlotClosure.slot.is_in(session_slots_q))
    if await SlotTrainer.exists().where((SlotTrainer.user == trainer["id"]) & SlotTrainer.slot.is_in(closed_slots_q)):
        raise ValidationFailed({"trainer": f"{trainer['name']} a animé un créneau clôturé de cette session : sa "
                                           "feuille signée le nomme, il reste formateur de la session."})
    async with db.write_transaction():
        await detach(session["id"], [trainer["id"]])
    return trainer


async def detach(session_id: int, user_ids: list[int] | None = None) -> list[int]:
    """Take trainers off a session (the caller's transaction; ``None``: all of them): their slot
    assignments there, their SessionTrainer rows, and the trainer grant of whoever trains no other
    session now. Returns who was detached."""
    if user_ids is None:
        user_ids = [r["user"] for r in await SessionTrainer.select(SessionTrainer.user).where(
            SessionTrainer.session == session_id)]
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return []
    for user_id in user_ids:  # in order: two removals at once never wait on each other crosswise
        await db.lock_name(f"trainer-grant:{user_id}")
    await SlotTrainer.delete().where(SlotTrainer.user.is_in(user_ids) & SlotTrainer.slot.is_in(
        SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session_id)))
    await SessionTrainer.delete().where((SessionTrainer.session == session_id) & SessionTrainer.user.is_in(user_ids))
    await RoleAssignment.delete().where(
        RoleAssignment.user.is_in(user_ids) & (RoleAssignment.role == TRAINER)
        & RoleAssignment.user.not_in(SessionTrainer.select(SessionTrainer.user).where(
            SessionTrainer.user.is_in(user_ids))))
    return user_ids


async def save_assignment(session: dict, form: AssignForm) -> int:
    """The slots x trainers table as ticked: each slot's own trainers become those ticked (none = all
    the session's), closed slots excepted. Set-based, one transaction; a slot or trainer not of this
    session (a stale page, a forged id) refuses the whole. Returns how many rows changed."""
    wanted: set[tuple[int, int]] = set()
    for value in form.assign:
        slot, _, person = value.partition(":")
        if not (slot.isascii() and slot.isdigit() and person.isascii() and person.isdigit()) or len(value) > 24:
            raise ValidationFailed({"assign": STALE}, STALE)
        wanted.add((int(slot), int(person)))
    async with db.write_transaction():
        slot_ids = {r["id"] for r in await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session["id"])}
        trainer_ids = {r["user"] for r in await SessionTrainer.select(SessionTrainer.user).where(
            SessionTrainer.session == session["id"])}
        if any(s not in slot_ids or u not in trainer_ids for s, u in wanted):
            raise ValidationFailed({"assign": STALE}, STALE)
        # A closed slot keeps the trainers its signed sheet names (the closing wrote them down): its
        # boxes are not offered, and whatever is posted for it is left aside.
        closed = {r["slot"] for r in await SlotClosure.select(SlotClosure.slot).where(
            SlotClosure.slot.is_in(sorted(slot_ids) or [-1]))}
        wanted = {(s, u) for s, u in wanted if s not in closed}
        current = {(r["slot"], r["user"]): r["id"] for r in await SlotTrainer.select(
            SlotTrainer.id, SlotTrainer.slot, SlotTrainer.user).where(
            SlotTrainer.slot.is_in(sorted(slot_ids - closed) or [-1]))}
        gone, new = [i for pair, i in current.items() if pair not in wanted], wanted - current.keys()
        if gone:
            await SlotTrainer.delete().where(SlotTrainer.id.is_in(gone))
        if new:
            await SlotTrainer.insert(*[SlotTrainer(slot=s, user=u) for s, u in sorted(new)]).on_conflict(
                target=(SlotTrainer.slot, SlotTrainer.user), action="DO NOTHING")
    return len(gone) + len(new)


# -- what a trainer sees -------------------------------------------------------------------------
async def participants(session_id: int) -> list[dict]:
    """The session's active learners by name, each with their establishment or organisation."""
    rows = await Enrolment.select(
        Enrolment.id, Enrolment.user.first_name.as_alias("first_name"), Enrolment.user.last_name.as_alias("last_name"),
        Enrolment.user.establishment.name.as_alias("establishment_name"),
        Enrolment.user.organisation.name.as_alias("organisation_name"),
    ).where((Enrolment.session == session_id) & (Enrolment.active == True)).order_by(  # noqa: E712
        Enrolment.user.last_name_key).order_by(Enrolment.user.first_name_key).order_by(Enrolment.id)
    for r in rows:
        r["name"] = _name(r)
        r["where"] = r["establishment_name"] or r["organisation_name"] or ""
    return rows


async def _statuses(slot_ids: list[int]) -> dict[tuple[int, int], str]:
    if not slot_ids:
        return {}
    rows = await Attendance.select(Attendance.enrolment, Attendance.slot, Attendance.status).where(
        Attendance.slot.is_in(slot_ids))
    return {(r["enrolment"], r["slot"]): r["status"] for r in rows}


async def staff_page(user: CurrentUser, session_id: int, as_trainer: bool) -> dict:
    """The trainer's view of a session: its slots with their trainers (``mine``: the slots this trainer
    trains — every slot for a manager), the participants, and the attendance of ``mine``: per slot the
    counts, per learner the status."""
    slots = await session_slots(session_id)
    for s in slots:
        s["mine"] = not as_trainer or user.id in {t["id"] for t in s["trainers"]}
    mine = [s for s in slots if s["mine"]]
    people = await participants(session_id)
    statuses = await _statuses([s["id"] for s in mine])
    for s in mine:
        found = [statuses.get((p["id"], s["id"]), "") for p in people]
        s["counts"] = {k: found.count(k) for k in ("present", "absent", "excused")}
        s["counts"]["none"] = found.count("")
    for p in people:
        p["statuses"] = {s["id"]: STATUS_LABELS.get(statuses.get((p["id"], s["id"]), ""), "—") for s in mine}
    return {"slots": slots, "my_slots": mine, "participants": people}


async def home(user_id: int, upcoming: int = 12) -> dict:
    """« Mes sessions (formateur) »: the sessions this person trains (current and upcoming first, then
    past ones) and their slots of today and to come (at most ``upcoming``), today's with « Émargement »."""
    ids = await trained_session_ids(user_id)
    if not ids:
        return {"sessions": [], "past": [], "slots": [], "today": today()}
    day = today()
    sessions = await TrainingSession.select(
        TrainingSession.id, TrainingSession.full_name, TrainingSession.code, TrainingSession.start_date,
        TrainingSession.end_date, TrainingSession.cancelled_at, TrainingSession.establishment.name.as_alias("establishment_name"),
    ).where(TrainingSession.id.is_in(ids)).order_by(TrainingSession.start_date)
    for s in sessions:
        s["full_name"] = name_for_documents(s["full_name"], s["start_date"], s["end_date"])
    names = {s["id"]: s for s in sessions}
    own = SlotTrainer.select(SlotTrainer.slot).where(SlotTrainer.user == user_id)
    slots = await SessionSlot.select(SessionSlot.id, SessionSlot.session, SessionSlot.day, SessionSlot.starts,
                                     SessionSlot.ends).where(
        SessionSlot.session.is_in(ids) & (SessionSlot.day >= day)
        & (SessionSlot.id.is_in(own) | SessionSlot.id.not_in(
            SlotTrainer.select(SlotTrainer.slot).where(SlotTrainer.slot.session.is_in(ids))))
    ).order_by(SessionSlot.day).order_by(SessionSlot.starts).limit(upcoming)
    closed = {r["slot"] for r in await SlotClosure.select(SlotClosure.slot).where(
        SlotClosure.slot.is_in([s["id"] for s in slots] or [-1]))}
    for s in slots:
        s.update(day_fr=date_fr(s["day"]), hours=_hours(s["starts"], s["ends"]), is_today=s["day"] == day,
                 session_name=names[s["session"]]["full_name"], session_code=names[s["session"]]["code"],
                 closed=s["id"] in closed)
    return {"sessions": [s for s in sessions if s["end_date"] >= day],
            "past": [s for s in sessions if s["end_date"] < day][::-1], "slots": slots, "today": day}
