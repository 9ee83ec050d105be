"""The catalogue of template courses (SPEC B1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.services.errors import NotFound, ValidationFailed
from app.services.text import search_text
from app.services.uniqueness import fields_unique
from app.tables.catalogue import CompletionRule, CourseTemplate, TemplateActivity

ACTIVITY_KINDS = [("page", "Page"), ("video", "Vidéo"), ("file", "Fichier"), ("quiz", "Test"), ("forum", "Forum")]
CODE_RE = re.compile(r"^[A-Z][0-9A-Z]{1,7}$")


async def get_template(template_id: int) -> dict:
    row = await CourseTemplate.select().where(CourseTemplate.id == template_id).first()
    if row is None:
        raise NotFound("Cours modèle introuvable.")
    return row


@dataclass
class TemplateForm:
    code: str = ""
    title: str = ""
    short_name: str = ""
    objectives: str = ""
    duration: str = ""
    certificate_text: str = ""
    progress_block: bool = False
    discussion_block: bool = False
    visible: bool = False

    def __post_init__(self) -> None:
        self.code = self.code.strip().upper()


@dataclass
class ActivityForm:
    kind: str = "page"
    title: str = ""
    content: str = ""
    required: bool = False
    completion: str = ""
    video_url: str = ""
    pass_mark: int | None = None
    quiz_text: str = ""
    remove_file: bool = False


DEFAULT_RULES = {"page": "manual", "video": "view", "file": "view", "quiz": "quiz", "forum": "none"}


def activity_values(row: dict) -> dict:
    """An activity as the edit form shows it (the quiz in its plain-text format)."""
    from app.services.learner import load_quiz, quiz_text

    return {**row, "quiz_text": quiz_text(load_quiz(row["quiz"])), "pass_mark": row["pass_mark"]}


async def get_activity(template_id: int, activity_id: int) -> dict:
    row = await TemplateActivity.select(
        TemplateActivity.all_columns(), TemplateActivity.file.name.as_alias("file_name")).where(
        (TemplateActivity.id == activity_id) & (TemplateActivity.template == template_id)).first()
    if row is None:
        raise NotFound("Activité introuvable.")
    return row


async def template_activities(template_id: int) -> list[dict]:
    return await TemplateActivity.select().where(TemplateActivity.template == template_id).order_by(
        TemplateActivity.position)


async def delete_activity(template_id: int, activity_id: int) -> None:
    await get_activity(template_id, activity_id)
    await TemplateActivity.delete().where(TemplateActivity.id == activity_id)


async def save_template(form: TemplateForm, template_id: int | None = None) -> int:
    errors = {}
    code, title = form.code, form.title
    if not CODE_RE.match(code):
        errors["code"] = "Code catalogue : une lettre puis 1 à 7 lettres ou chiffres (ex. C03)."
    if not title:
        errors["title"] = "Le titre est obligatoire."
    for key, label, value, limit in (("title", "Le titre", title, 255), ("short_name", "Le nom abrégé", form.short_name, 255),
                                     ("duration", "La durée", form.duration, 64)):
        if len(value) > limit and key not in errors:
            errors[key] = f"{label} ne peut pas dépasser {limit} caractères."
    if "code" not in errors:
        clash = CourseTemplate.exists().where(CourseTemplate.code == code)
        if template_id:
            clash = clash.where(CourseTemplate.id != template_id)
        if await clash:
            errors["code"] = f"Le code {code} est déjà utilisé."
    if errors:
        raise ValidationFailed(errors)
    short_name = form.short_name or title
    values = {
        CourseTemplate.code: code, CourseTemplate.title: title, CourseTemplate.short_name: short_name,
        CourseTemplate.objectives: form.objectives, CourseTemplate.duration: form.duration,
        CourseTemplate.certificate_text: form.certificate_text, CourseTemplate.progress_block: form.progress_block,
        CourseTemplate.discussion_block: form.discussion_block, CourseTemplate.visible: form.visible,
        CourseTemplate.search_text: search_text(code, title, short_name),
    }
    async with fields_unique():
        if template_id:
            await get_template(template_id)
            await CourseTemplate.update(values).where(CourseTemplate.id == template_id)
            return template_id
        row = await CourseTemplate.insert(CourseTemplate(values)).returning(CourseTemplate.id)
    return row[0]["id"]


async def add_activity(template_id: int, form: ActivityForm, upload=None, user_id: int | None = None) -> int:
    return await save_activity(template_id, form, None, upload, user_id)


async def save_activity(template_id: int, form: ActivityForm, activity_id: int | None = None,
                        upload: tuple[str, bytes] | None = None, user_id: int | None = None) -> int:
    """Add or edit one activity with its kind's fields: the completion rule, the page's rich text
    (sanitised), the video link, the file (type checked), the quiz and its pass mark."""
    import json

    from app.services import files
    from app.services.learner import clean_html, parse_quiz_text

    await get_template(template_id)
    current = await get_activity(template_id, activity_id) if activity_id else None
    title, kind = form.title, form.kind
    completion = form.completion or DEFAULT_RULES.get(kind, "manual")
    errors = {}
    if not title:
        errors["title"] = "Le titre de l'activité est obligatoire."
    elif len(title) > 255:
        errors["title"] = "Le titre de l'activité ne peut pas dépasser 255 caractères."
    if kind not in dict(ACTIVITY_KINDS):
        errors["kind"] = "Type d'activité inconnu."
    if completion not in {r.value for r in CompletionRule}:
        errors["completion"] = "Règle d'achèvement inconnue."
    elif completion == "quiz" and kind != "quiz":
        errors["completion"] = "« Test réussi » ne s'applique qu'à une activité de type Test."
    video_url = form.video_url.strip()
    if video_url and not re.match(r"^https?://[^\s]+$", video_url):
        errors["video_url"] = "Le lien de la vidéo doit commencer par https:// (ou http://)."
    elif len(video_url) > 500:
        errors["video_url"] = "Le lien de la vidéo ne peut pas dépasser 500 caractères."
    pass_mark = 80 if form.pass_mark is None else form.pass_mark
    if not 0 <= pass_mark <= 100:
        errors["pass_mark"] = "Le seuil de réussite est un pourcentage entre 0 et 100."
    quiz = ""
    if kind == "quiz":
        try:
            questions = parse_quiz_text(form.quiz_text)
            quiz = json.dumps(questions, ensure_ascii=False) if questions else ""
        except ValidationFailed as invalid:
            errors.update(invalid.errors)
    if errors:
        raise ValidationFailed(errors)
    file_id = None if (current is None or form.remove_file) else current["file"]
    if upload is not None:
        file_id = await files.store(upload[0], upload[1], user_id)
    values = {
        TemplateActivity.kind: kind, TemplateActivity.title: title, TemplateActivity.required: form.required,
        TemplateActivity.content: clean_html(form.content) if kind == "page" else form.content,
        TemplateActivity.completion: completion, TemplateActivity.video_url: video_url,
        TemplateActivity.pass_mark: pass_mark, TemplateActivity.quiz: quiz, TemplateActivity.file: file_id,
    }
    if current:
        await TemplateActivity.update(values).where(TemplateActivity.id == activity_id)
        return activity_id
    values[TemplateActivity.template] = template_id
    values[TemplateActivity.position] = await TemplateActivity.count().where(TemplateActivity.template == template_id)
    row = await TemplateActivity.insert(TemplateActivity(values)).returning(TemplateActivity.id)
    return row[0]["id"]
