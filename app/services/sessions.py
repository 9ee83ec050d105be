"""Training sessions of an establishment (SPEC B2) and the content import from a template (B3).

Session codes (public registration, F1): `<YY><catalogue code>S<n>` — the two last digits of the
start year, the template's catalogue code, then the rank of this session among the sessions of
that template starting that year (26C03S1, 26C03S2, …). A session created before its content is
imported, or without a template, uses the catalogue code `X00`. The code can also be typed; it
must then be unique.
"""

from __future__ import annotations

import re
import secrets
from datetime import date

from app import db
from app.dates import now
from app.services import progress
from app.services.errors import DomainError, NotFound, ScopeError, ValidationFailed
from app.services.roles import CurrentUser
from app.services.scope import establishment_scope
from app.tables.catalogue import (
    ContentImport,
    CourseTemplate,
    Enrolment,
    SessionActivity,
    TemplateActivity,
    TrainingSession,
)

CODE_RE = re.compile(r"^[0-9]{2}[A-Z0-9]{1,8}S[0-9]{1,4}$")
IMPORT_SETTINGS = [
    ("permissions", "Inclure les dérogations de permissions"),
    ("files", "Inclure les fichiers"),
    ("badges", "Inclure les badges"),
    ("custom_fields", "Inclure les champs personnalisés"),
    ("obsolete_files", "Inclure les fichiers de cours obsolètes"),
]
IMPORT_STEPS = [
    "Sélection du contenu", "Réglages initiaux", "Réglages du schéma", "Confirmation et relecture",
    "Effectuer l'importation", "Terminer",
]
JOB = "import_session_content"


def propose_full_name(start: date | None, end: date | None, title: str) -> str:
    """`Session du dd-mm-yyyy au dd-mm-yyyy_<Titre de la formation>` (seed 000, step 3)."""
    if not start or not end:
        return ""
    return f"Session du {start:%d-%m-%Y} au {end:%d-%m-%Y}_{title}".strip("_")


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


async def next_code(start: date, catalogue_code: str) -> str:
    prefix = f"{start:%y}{catalogue_code}S"
    rows = await TrainingSession.select(TrainingSession.code).where(TrainingSession.code.like(f"{prefix}%"))
    numbers = [int(r["code"][len(prefix):]) for r in rows if r["code"][len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


async def session_in_scope(user: CurrentUser, session_id: int) -> dict:
    row = (
        await TrainingSession.select(
            TrainingSession.all_columns(),
            TrainingSession.establishment.code.as_alias("establishment_code"),
            TrainingSession.establishment.name.as_alias("establishment_name"),
            TrainingSession.template.title.as_alias("template_title"),
        )
        .where(TrainingSession.id == session_id)
        .first()
    )
    if row is None:
        raise NotFound("Session introuvable.")
    if not (await establishment_scope(user)).allows(row["establishment"]):
        raise ScopeError("Session introuvable.")
    return row


async def save_session(user: CurrentUser, data: dict, session_id: int | None = None) -> int:
    errors: dict[str, str] = {}
    scope = await establishment_scope(user)
    try:
        establishment_id = int(data.get("establishment") or 0)
    except ValueError:
        establishment_id = 0
    if not establishment_id or not scope.allows(establishment_id):
        errors["establishment"] = "Choisissez une catégorie (établissement) de votre périmètre."
    start, end = _parse_date(data.get("start_date")), _parse_date(data.get("end_date"))
    if not start:
        errors["start_date"] = "La date de début est obligatoire (jj/mm/aaaa)."
    if not end:
        errors["end_date"] = "La date de fin est obligatoire (jj/mm/aaaa)."
    if start and end and end < start:
        errors["end_date"] = "La date de fin doit être postérieure ou égale à la date de début."
    template = None
    if data.get("template"):
        try:
            template = await CourseTemplate.select().where(CourseTemplate.id == int(data["template"])).first()
        except ValueError:
            template = None
        if template is None:
            errors["template"] = "Formation du catalogue inconnue."
    full_name = (data.get("full_name") or "").strip() or propose_full_name(start, end, template["title"] if template else "")
    if not full_name:
        errors["full_name"] = "Le nom complet est obligatoire."
    short_name = (data.get("short_name") or "").strip() or full_name
    code = (data.get("code") or "").strip().upper()
    if code and not CODE_RE.match(code):
        errors["code"] = "Code de session invalide : année sur 2 chiffres, code catalogue, S, numéro (ex. 26C03S1)."
    if code and not errors.get("code"):
        clash = TrainingSession.exists().where(TrainingSession.code == code)
        if session_id:
            clash = clash.where(TrainingSession.id != session_id)
        if await clash:
            errors["code"] = f"Le code {code} est déjà utilisé par une autre session."
    try:
        seats = int(data["seats"]) if str(data.get("seats") or "").strip() else None
        if seats is not None and seats < 1:
            raise ValueError
    except ValueError:
        errors["seats"] = "Le nombre de places doit être un entier positif (ou vide : illimité)."
        seats = None
    if errors:
        raise ValidationFailed(errors)
    if not code:
        code = await next_code(start, template["code"] if template else "X00")
    values = dict(
        establishment=establishment_id, full_name=full_name[:255], short_name=short_name[:255],
        visible=str(data.get("visible", "1")) == "1", start_date=start, end_date=end,
        id_number=(data.get("id_number") or "").strip()[:100], code=code, seats=seats,
    )
    if template is not None:
        values["template"] = template["id"]
    if session_id:
        await session_in_scope(user, session_id)
        await TrainingSession.update({getattr(TrainingSession, k): v for k, v in values.items()}).where(
            TrainingSession.id == session_id
        )
        return session_id
    row = await TrainingSession.insert(TrainingSession(**values)).returning(TrainingSession.id)
    return row[0]["id"]


async def set_visible(user: CurrentUser, session_id: int, visible: bool) -> dict:
    session = await session_in_scope(user, session_id)
    await TrainingSession.update({TrainingSession.visible: visible}).where(TrainingSession.id == session_id)
    return session


async def delete_session(user: CurrentUser, session_id: int) -> dict:
    session = await session_in_scope(user, session_id)
    enrolled = await Enrolment.count().where((Enrolment.session == session_id) & (Enrolment.active == True))  # noqa: E712
    if enrolled:
        raise DomainError(
            f"Cette session a {enrolled} inscription(s) active(s) : désinscrivez les participants "
            "(ou retirez la synchronisation de cohorte) avant de la supprimer."
        )
    await TrainingSession.delete().where(TrainingSession.id == session_id)
    return session


# -- the content import wizard (B3) -------------------------------------------------------------
async def _latest_import(session_id: int) -> dict | None:
    return (
        await ContentImport.select(ContentImport.all_columns(), ContentImport.template.title.as_alias("template_title"))
        .where(ContentImport.session == session_id)
        .order_by(ContentImport.id, ascending=False)
        .first()
    )


async def current_import(user: CurrentUser, session_id: int) -> dict:
    """The wizard's state for this session: the latest run, or a new draft."""
    await session_in_scope(user, session_id)
    row = await _latest_import(session_id)
    if row is None:
        await ContentImport.insert(ContentImport(session=session_id, created_by=user.id, settings="files\ncustom_fields"))
        row = await _latest_import(session_id)
    return row


async def restart_import(user: CurrentUser, session_id: int) -> None:
    """A new wizard run after a finished one (the previous run stays as history)."""
    await session_in_scope(user, session_id)
    await ContentImport.insert(ContentImport(session=session_id, created_by=user.id, settings="files\ncustom_fields"))


async def save_import_step(user: CurrentUser, session_id: int, step: int, data: dict, selected: list[str]) -> None:
    state = await current_import(user, session_id)
    if state["status"] != "draft":
        raise DomainError("Cette importation est déjà lancée.")
    values = {}
    if step == 1:
        try:
            template = await CourseTemplate.select(CourseTemplate.id).where(
                (CourseTemplate.id == int(data.get("template") or 0)) & (CourseTemplate.visible == True)  # noqa: E712
            ).first()
        except ValueError:
            template = None
        if template is None:
            raise ValidationFailed({"template": "Sélectionnez un cours dans la liste."})
        if template["id"] != state["template"]:
            # Another template: its activities replace the previous selection.
            ids = await TemplateActivity.select(TemplateActivity.id).where(TemplateActivity.template == template["id"])
            values[ContentImport.activity_ids] = ",".join(str(r["id"]) for r in ids)
        values[ContentImport.template] = template["id"]
    elif step == 2:
        keys = {k for k, _ in IMPORT_SETTINGS}
        values[ContentImport.settings] = "\n".join(k for k in selected if k in keys)
    elif step == 3:
        allowed = {
            str(r["id"])
            for r in await TemplateActivity.select(TemplateActivity.id).where(TemplateActivity.template == state["template"])
        }
        chosen = [i for i in selected if i in allowed]
        if not chosen:
            raise ValidationFailed({"activities": "Choisissez au moins une activité à importer."})
        values[ContentImport.activity_ids] = ",".join(chosen)
    if values:
        await ContentImport.update(values).where(ContentImport.id == state["id"])


async def launch_import(user: CurrentUser, session_id: int, redis) -> str:
    """Step 4 -> 5: lock the choices and enqueue the job (a double click launches it once)."""
    state = await current_import(user, session_id)
    if not state["template"] or not state["activity_ids"]:
        raise DomainError("Choisissez d'abord un cours et ses activités (étapes 1 à 3).")
    token = secrets.token_urlsafe(16)
    claimed = await ContentImport.update({ContentImport.status: "queued", ContentImport.token: token}).where(
        (ContentImport.id == state["id"]) & (ContentImport.status == "draft")
    ).returning(ContentImport.id)
    if not claimed:
        return state["token"]
    total = len(state["activity_ids"].split(","))
    await progress.start(redis, token, user.id, "Importation du contenu", total)
    await progress.update(redis, token, result_url=f"/sessions/{session_id}/import?etape=6",
                          result_label="Continuer")
    from app.queue import enqueue

    await enqueue(redis, JOB, state["id"], _job_id=f"content-import:{state['id']}")
    return token


async def run_content_import(redis, import_id: int) -> int:
    """Copy the chosen activities and the certificate of the template into the session.
    Idempotent: an activity already copied from the same source is not copied again."""
    claimed = await ContentImport.update({ContentImport.status: "running"}).where(
        (ContentImport.id == import_id) & ContentImport.status.is_in(["queued", "running"])
    ).returning(ContentImport.session, ContentImport.template, ContentImport.activity_ids, ContentImport.token)
    if not claimed:
        return 0
    job = claimed[0]
    ids = [int(i) for i in job["activity_ids"].split(",") if i]
    await progress.update(redis, job["token"], state="running")
    template = await CourseTemplate.select().where(CourseTemplate.id == job["template"]).first()
    activities = await TemplateActivity.select().where(TemplateActivity.id.is_in(ids or [-1])).order_by(
        TemplateActivity.position
    )
    existing = {
        r["source"]
        for r in await SessionActivity.select(SessionActivity.source).where(SessionActivity.session == job["session"])
    }
    base = await SessionActivity.count().where(SessionActivity.session == job["session"])
    new = [a for a in activities if a["id"] not in existing]
    async with db.transaction():
        if new:
            await SessionActivity.insert(*[
                SessionActivity(session=job["session"], source=a["id"], position=base + i, kind=a["kind"],
                                title=a["title"], content=a["content"], required=a["required"])
                for i, a in enumerate(new)
            ])
        await TrainingSession.update({
            TrainingSession.template: template["id"], TrainingSession.certificate_text: template["certificate_text"],
            TrainingSession.progress_block: template["progress_block"],
            TrainingSession.discussion_block: template["discussion_block"], TrainingSession.imported_at: now(),
        }).where(TrainingSession.id == job["session"])
        await ContentImport.update({ContentImport.status: "done"}).where(ContentImport.id == import_id)
    await progress.update(redis, job["token"], state="done", done=len(ids))
    return len(new)
