"""The catalogue of template courses (SPEC B1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from app.services import activities
from app.services.activities import ACTIVITY_KINDS, ActivityForm, activity_values  # noqa: F401 (the editor's names)
from app.services.certificates import template_errors
from app.services.errors import NotFound, ValidationFailed
from app.services.text import Multiline, search_text
from app.services.uniqueness import fields_unique
from app.tables.catalogue import BpfObjective, CourseTemplate, TemplateActivity
from app.validation import MaxLen, OneOf, Pattern, Required, declared_errors

CODE_RE = re.compile(r"^[A-Z][0-9A-Z]{1,7}$")


async def get_template(template_id: int) -> dict:
    row = await CourseTemplate.select().where(CourseTemplate.id == template_id).first()
    if row is None:
        raise NotFound("Cours modèle introuvable.")
    return row


@dataclass
class TemplateForm:
    code: Annotated[str, Pattern(CODE_RE, "Code catalogue : une lettre puis 1 à 7 lettres ou chiffres (ex. C03).",
                                 required=True)] = ""
    title: Annotated[str, Required("Le titre est obligatoire."), MaxLen(255, "Le titre")] = ""
    short_name: Annotated[str, MaxLen(255, "Le nom abrégé")] = ""
    # One objective per line (app/services/assessments.py numbers them for the quizzes' tags): a
    # textarea, its line breaks kept — a one-line field would merge them into one objective.
    objectives: Multiline = Multiline("")
    duration: Annotated[str, MaxLen(64, "La durée")] = ""
    certificate_text: str = ""
    progress_block: bool = False
    discussion_block: bool = False
    visible: bool = False
    # The BPF (issue 23): « Code NSF » (3 ASCII digits, an optional letter) and « Objectif (BPF) ».
    nsf_code: Annotated[str, Pattern(r"[0-9]{3}[a-z]?", "Le code NSF s'écrit avec 3 chiffres, suivis éventuellement "
                                                     "d'une lettre (ex. 315 ou 315p).")] = ""
    bpf_objective: Annotated[str, OneOf(tuple(o.value for o in BpfObjective if o.value),
                                        "Choisissez un objectif BPF de la liste.", required=False)] = ""

    def __post_init__(self) -> None:
        self.code = self.code.strip().upper()
        self.nsf_code = self.nsf_code.replace(" ", "").lower()


async def get_activity(template_id: int, activity_id: int) -> dict:
    return await activities.get_activity(TemplateActivity, TemplateActivity.template, template_id, activity_id)


async def template_activities(template_id: int) -> list[dict]:
    return await TemplateActivity.select().where(TemplateActivity.template == template_id).order_by(
        TemplateActivity.position)


async def delete_activity(template_id: int, activity_id: int) -> None:
    await get_activity(template_id, activity_id)
    await TemplateActivity.delete().where(TemplateActivity.id == activity_id)


async def save_template(form: TemplateForm, template_id: int | None = None) -> int:
    code, title = form.code, form.title
    errors = declared_errors(form)
    if form.certificate_text:  # copied into the sessions made from it: the sessions' own check
        problem = template_errors(form.certificate_text)
        if problem is None and len(form.certificate_text) > 5000:
            problem = "Le texte de l'attestation ne peut pas dépasser 5 000 caractères."
        if problem:
            errors["certificate_text"] = problem
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
        CourseTemplate.nsf_code: form.nsf_code, CourseTemplate.bpf_objective: form.bpf_objective,
    }
    async with fields_unique():
        if template_id:
            await get_template(template_id)
            await CourseTemplate.update(values).where(CourseTemplate.id == template_id)
            return template_id
        row = await CourseTemplate.insert(CourseTemplate(values)).returning(CourseTemplate.id)
    return row[0]["id"]


async def save_activity(template_id: int, form: ActivityForm, activity_id: int | None = None,
                        upload: tuple[str, bytes] | None = None, user_id: int | None = None) -> int:
    """Add or edit one activity of the template (the shared editor: app/services/activities.py)."""
    await get_template(template_id)
    current = await get_activity(template_id, activity_id) if activity_id else None
    return await activities.save_activity(TemplateActivity, TemplateActivity.template, template_id, form, current,
                                          upload, user_id)


async def move_activity(template_id: int, activity_id: int, direction: str) -> bool:
    return await activities.move_activity(TemplateActivity, TemplateActivity.template, template_id, activity_id,
                                          direction)
