"""The content import wizard (B3): a session's activities and certificate copied from a catalogue
template, step by step, then by a job."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from app import db
from app.dates import now
from app.services import progress
from app.services.errors import DomainError, ValidationFailed
from app.services.learning import refresh_summaries
from app.services.roles import CurrentUser
from app.services.sessions.manage import session_in_scope
from app.services.text import search
from app.tables.catalogue import ContentImport, CourseTemplate, SessionActivity, TemplateActivity, TrainingSession
from app.jobs import kinds as jobs

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


@dataclass
class ImportStepForm:
    """One posted step of the content import wizard (B3)."""

    step: int | None = 1
    go: str = "next"  # next, previous, last, cancel, restart
    template: int | None = None
    setting: list[str] = field(default_factory=list)
    activity: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.step = min(max(self.step or 1, 1), 6)


async def search_templates(q: str) -> list[dict]:
    """Step 1's list of visible templates, searched accent- and case-insensitively."""
    query = CourseTemplate.select().where(CourseTemplate.visible == True).order_by(CourseTemplate.title)  # noqa: E712
    clause = search(CourseTemplate.search_text, q)
    return await (query.where(clause) if clause is not None else query)


async def visible_template_count() -> int:
    return await CourseTemplate.count().where(CourseTemplate.visible == True)  # noqa: E712


async def template_activities(template_id: int) -> list[dict]:
    return await TemplateActivity.select().where(TemplateActivity.template == template_id).order_by(
        TemplateActivity.position)


async def save_import_step(user: CurrentUser, session_id: int, form: ImportStepForm) -> None:
    state = await current_import(user, session_id)
    if state["status"] != "draft":
        raise DomainError("Cette importation est déjà lancée.")
    step, values = form.step, {}
    if step == 1:
        template = await CourseTemplate.select(CourseTemplate.id).where(
            (CourseTemplate.id == (form.template or 0)) & (CourseTemplate.visible == True)  # noqa: E712
        ).first()
        if template is None:
            raise ValidationFailed({"template": "Sélectionnez un cours dans la liste."})
        if template["id"] != state["template"]:
            # Another template: its activities replace the previous selection.
            ids = await TemplateActivity.select(TemplateActivity.id).where(TemplateActivity.template == template["id"])
            values[ContentImport.activity_ids] = ",".join(str(r["id"]) for r in ids)
        values[ContentImport.template] = template["id"]
    elif step == 2:
        keys = {k for k, _ in IMPORT_SETTINGS}
        values[ContentImport.settings] = "\n".join(k for k in form.setting if k in keys)
    elif step == 3:
        allowed = {
            str(r["id"])
            for r in await TemplateActivity.select(TemplateActivity.id).where(TemplateActivity.template == state["template"])
        }
        chosen = [i for i in form.activity if i in allowed]
        if not chosen:
            raise ValidationFailed({"activities": "Choisissez au moins une activité à importer."})
        values[ContentImport.activity_ids] = ",".join(chosen)
    if values:
        await ContentImport.update(values).where(ContentImport.id == state["id"])


async def launch_import(user: CurrentUser, session_id: int, redis, result_url: str) -> str:
    """Step 4 -> 5: lock the choices and enqueue the job (a double click launches it once)."""
    state = await current_import(user, session_id)
    if not state["template"] or not state["activity_ids"]:
        raise DomainError("Choisissez d'abord un cours et ses activités (étapes 1 à 3).")
    token = secrets.token_urlsafe(16)
    async with db.transaction():
        claimed = await ContentImport.update({ContentImport.status: "queued", ContentImport.token: token}).where(
            (ContentImport.id == state["id"]) & (ContentImport.status == "draft")
        ).returning(ContentImport.id)
        if not claimed:
            return state["token"]
        # The durable run commits with the launch; it reaches arq after the commit (or the sweep's).
        await jobs.CONTENT_IMPORT.submit(redis, state["id"], created_by=user.id)
    total = len(state["activity_ids"].split(","))
    await progress.best_effort(progress.start(redis, token, user.id, "Importation du contenu", total),
                               progress.update(redis, token, result_url=result_url, result_label="Continuer"))
    return token


async def give_up_content_imports(args_list: list[list], reason: str) -> int:
    """The job layer gave these content imports up (worker died on the last try, an operator
    aborted): back to a draft the manager may launch again (the copy is idempotent), not "running"
    for ever. Returns how many."""
    ids = [args[0] for args in args_list if args]
    if not ids:
        return 0
    rows = await ContentImport.update({ContentImport.status: "draft"}).where(
        ContentImport.id.is_in(ids) & ContentImport.status.is_in(["queued", "running"])).returning(ContentImport.id)
    return len(rows)


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
                                title=a["title"], content=a["content"], required=a["required"],
                                completion=a["completion"], quiz=a["quiz"], pass_mark=a["pass_mark"],
                                video_url=a["video_url"], file=a["file"], survey_phase=a["survey_phase"],
                                anonymous=a["anonymous"], assessment=a["assessment"])
                for i, a in enumerate(new)
            ])
        text_changed = await TrainingSession.exists().where(
            (TrainingSession.id == job["session"]) & (TrainingSession.certificate_text != template["certificate_text"]))
        if text_changed:  # a certificate's snapshot says which version of the text made it
            await TrainingSession.update({TrainingSession.certificate_version: TrainingSession.certificate_version + 1}).where(
                TrainingSession.id == job["session"])
        await TrainingSession.update({
            TrainingSession.template: template["id"], TrainingSession.certificate_text: template["certificate_text"],
            TrainingSession.progress_block: template["progress_block"],
            TrainingSession.discussion_block: template["discussion_block"], TrainingSession.imported_at: now(),
        }).where(TrainingSession.id == job["session"])
        if new:  # new required activities change everyone's progress (a completed session may reopen)
            await refresh_summaries(session_id=job["session"])
        await ContentImport.update({ContentImport.status: "done"}).where(ContentImport.id == import_id)
    await progress.update(redis, job["token"], state="done", done=len(ids))
    return len(new)
