"""The catalogue of template courses (SPEC B1)."""

from __future__ import annotations

import re

from app.services.errors import NotFound, ValidationFailed
from app.tables.catalogue import CourseTemplate, TemplateActivity

ACTIVITY_KINDS = [("page", "Page"), ("video", "Vidéo"), ("file", "Fichier"), ("quiz", "Test"), ("forum", "Forum")]
CODE_RE = re.compile(r"^[A-Z][0-9A-Z]{1,7}$")


async def get_template(template_id: int) -> dict:
    row = await CourseTemplate.select().where(CourseTemplate.id == template_id).first()
    if row is None:
        raise NotFound("Cours modèle introuvable.")
    return row


async def save_template(data: dict, template_id: int | None = None) -> int:
    errors = {}
    code = (data.get("code") or "").strip().upper()
    title = (data.get("title") or "").strip()
    if not CODE_RE.match(code):
        errors["code"] = "Code catalogue : une lettre puis 1 à 7 lettres ou chiffres (ex. C03)."
    if not title:
        errors["title"] = "Le titre est obligatoire."
    if "code" not in errors:
        clash = CourseTemplate.exists().where(CourseTemplate.code == code)
        if template_id:
            clash = clash.where(CourseTemplate.id != template_id)
        if await clash:
            errors["code"] = f"Le code {code} est déjà utilisé."
    if errors:
        raise ValidationFailed(errors)
    values = {
        CourseTemplate.code: code, CourseTemplate.title: title[:255],
        CourseTemplate.short_name: ((data.get("short_name") or "").strip() or title)[:255],
        CourseTemplate.objectives: (data.get("objectives") or "").strip(),
        CourseTemplate.duration: (data.get("duration") or "").strip()[:64],
        CourseTemplate.certificate_text: (data.get("certificate_text") or "").strip(),
        CourseTemplate.progress_block: bool(data.get("progress_block")),
        CourseTemplate.discussion_block: bool(data.get("discussion_block")),
        CourseTemplate.visible: bool(data.get("visible")),
    }
    if template_id:
        await get_template(template_id)
        await CourseTemplate.update(values).where(CourseTemplate.id == template_id)
        return template_id
    row = await CourseTemplate.insert(CourseTemplate(**{c._meta.name: v for c, v in values.items()})).returning(
        CourseTemplate.id)
    return row[0]["id"]


async def add_activity(template_id: int, data: dict) -> int:
    await get_template(template_id)
    title = (data.get("title") or "").strip()
    kind = data.get("kind") or "page"
    errors = {}
    if not title:
        errors["title"] = "Le titre de l'activité est obligatoire."
    if kind not in dict(ACTIVITY_KINDS):
        errors["kind"] = "Type d'activité inconnu."
    if errors:
        raise ValidationFailed(errors)
    position = await TemplateActivity.count().where(TemplateActivity.template == template_id)
    row = await TemplateActivity.insert(TemplateActivity(
        template=template_id, position=position, kind=kind, title=title[:255],
        content=(data.get("content") or "").strip(), required=bool(data.get("required")),
    )).returning(TemplateActivity.id)
    return row[0]["id"]
