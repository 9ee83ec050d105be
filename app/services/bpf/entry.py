"""What the BPF needs entered by hand: a trainer's internal / external status (frame E, on a session's
« Formateurs » page) and the trainee type of a session's participants (frame F-1, the « Type de
stagiaire (BPF) » page of a session). Managers of the session only (its scope is checked by the caller)."""

from __future__ import annotations

from dataclasses import dataclass, field

from app import db
from app.services.bpf.compute import trainee_type_sql, trainer_status_sql
from app.services.bpf.labels import TRAINEE_TYPE_LABELS, TRAINER_STATUS_LABELS
from app.services.errors import NotFound, ValidationFailed
from app.tables.accounts import TrainerStatus, User
from app.tables.evidence import SessionTrainer
from app.tables.learning import Enrolment, TraineeType


@dataclass
class TrainerStatusForm:
    trainer: int | None = None
    trainer_status: str = ""


async def set_trainer_status(session: dict, form: TrainerStatusForm) -> str:
    """Set « Formateur interne / externe (BPF) » of one trainer of the session; "" resets the default."""
    if form.trainer_status not in {s.value for s in TrainerStatus}:
        raise ValidationFailed({"trainer": "Choisissez « interne », « externe » ou « selon le compte »."})
    if not await SessionTrainer.exists().where((SessionTrainer.session == session["id"])
                                               & (SessionTrainer.user == (form.trainer or 0))):
        raise NotFound("Ce formateur n'anime pas cette session.")
    await User.update({User.trainer_status: form.trainer_status}).where(User.id == form.trainer)
    return "Statut BPF du formateur enregistré."


async def trainer_statuses(session_id: int) -> dict[int, dict]:
    """Per trainer of the session: its own status ("" for the default) and the one the BPF uses."""
    rows = await User.raw(
        f"SELECT u.id AS id, u.trainer_status AS own, {trainer_status_sql()} AS used, "
        "CASE WHEN u.establishment IS NOT NULL THEN 'internal' ELSE 'external' END AS fallback FROM session_trainer st "
        "JOIN app_user u ON u.id = st.\"user\" WHERE st.session = {}", session_id)
    return {r["id"]: {"own": r["own"], "used": r["used"], "fallback": r["fallback"], "label": TRAINER_STATUS_LABELS.get(r["used"], "")}
            for r in rows}


TRAINEE_CHOICES = [("", "Selon le compte (type par défaut)")] + list(TRAINEE_TYPE_LABELS.items())


@dataclass
class TraineeTypeForm:
    trainee_type: str = ""
    enrolments: list[int] = field(default_factory=list)


async def participants(session_id: int) -> list[dict]:
    """The session's enrolments (active or not: a past participant still counts in the BPF) with the
    trainee type set by hand, the one the BPF uses and its label. One query."""
    derived = trainee_type_sql("e", "u").replace("WHEN e.trainee_type <> '' THEN e.trainee_type ", "")
    rows = await Enrolment.raw(
        f"SELECT e.id AS id, e.trainee_type AS own, ({derived}) AS derived, u.first_name AS first_name, "
        "u.last_name AS last_name, u.username AS username, e.active AS active FROM enrolment e "
        "JOIN app_user u ON u.id = e.\"user\" WHERE e.session = {} ORDER BY u.last_name, u.first_name, e.id", session_id)
    for r in rows:
        r["used"] = r["own"] or r["derived"]
        r["label"] = TRAINEE_TYPE_LABELS.get(r["used"], "Non renseigné")
        r["derived_label"] = TRAINEE_TYPE_LABELS.get(r["derived"], "aucun (à renseigner)")
    return rows


async def set_trainee_types(session_id: int, form: TraineeTypeForm) -> int:
    """One UPDATE: the ticked enrolments of this session (only of it) get the type ("" = the default);
    ValidationFailed when none of the ticked ones is of this session."""
    if form.trainee_type not in {t.value for t in TraineeType}:
        raise ValidationFailed({"trainee_type": "Choisissez un type de stagiaire de la liste."})
    none = ValidationFailed({"enrolments": "Cochez au moins un participant de cette session."})
    if not form.enrolments:
        raise none
    async with db.write_transaction():
        changed = await Enrolment.update({Enrolment.trainee_type: form.trainee_type}).where(
            (Enrolment.session == session_id) & db.among(Enrolment.id, form.enrolments)).returning(Enrolment.id)
        if not changed:  # only other sessions' enrolments: nothing was written, say so
            raise none
    return len(changed)
