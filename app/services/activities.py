"""Editing activities, one implementation for a template's (TemplateActivity) and a session's own
(SessionActivity): the kind's fields (completion rule, the page's rich text sanitised, the video
link, the file with its real type checked, the quiz and its pass mark) and the order.

The owner is the template or the session (`owner` = its foreign-key column on the activity table).
Callers check who may edit and that the owner exists; session-side rules (retiring, recomputing the
learners' progress) live in app/services/session_content.py.
"""

from __future__ import annotations

import json
from typing import Annotated
from dataclasses import dataclass

from piccolo.table import Table

from app import db
from app.services import files
from app.services.assessments import ASSESSMENT_LABELS, objective_count
from app.services.errors import NotFound, ValidationFailed
from app.services.learner import HIDDEN_FROM_LEARNERS, clean_html, load_quiz, parse_quiz_text, quiz_text
from app.services.surveys import questions as survey_questions
from app.services.surveys.settings import MODELS as SURVEY_MODELS, model_text
from app.services.text import Multiline
from app.validation import IntRange, MaxLen, OneOf, Pattern, Required, declared_errors
from app.tables.catalogue import CompletionRule, SessionActivity, SurveyPhase

ACTIVITY_KINDS = [("page", "Page"), ("video", "Vidéo"), ("file", "Fichier"), ("quiz", "Test"), ("forum", "Forum"),
                  ("reminder", "Réengagement (caché pour les apprenants)"), ("survey", "Questionnaire")]
DEFAULT_RULES = {"page": "manual", "video": "view", "file": "view", "quiz": "quiz", "forum": "none", "reminder": "none",
                 "survey": "none"}
# A questionnaire (issue 23): when it is sent. It never counts for completion (the hot survey opens
# once the session is over), so it is neither required nor tracked.
SURVEY_PHASES = [("", "Aucun (depuis la page de la session)"), ("hot", "À chaud (à la fin de la session)"),
                 ("cold", "À froid (N jours après)")]


@dataclass
class ActivityForm:
    kind: Annotated[str, OneOf(tuple(dict(ACTIVITY_KINDS)), "Type d'activité inconnu.")] = "page"
    title: Annotated[str, Required("Le titre de l'activité est obligatoire."), MaxLen(255, "Le titre de l'activité")] = ""
    content: Multiline = ""
    required: bool = False
    completion: str = ""
    video_url: Annotated[str, Pattern(r"https?://[^\s]+", "Le lien de la vidéo doit commencer par https:// (ou http://)."),
                         MaxLen(500, "Le lien de la vidéo")] = ""
    pass_mark: Annotated[int | None, IntRange(0, 100, "Le seuil de réussite est un pourcentage entre 0 et 100.")] = None
    quiz_text: Multiline = ""
    remove_file: bool = False
    # Issue 23: what a quiz measures (« Positionnement (entrée) » / « Évaluation des acquis (sortie) »).
    assessment: Annotated[str, OneOf(tuple(ASSESSMENT_LABELS), "Type d'évaluation inconnu.", required=False)] = ""
    survey_phase: Annotated[str, OneOf(tuple(dict(SURVEY_PHASES)), "Envoi du questionnaire inconnu.", required=False)] = ""
    anonymous: bool = False
    survey_text: Multiline = ""
    survey_model: str = ""  # « Partir du modèle »: the model chosen
    use_model: str = ""  # set by the « Partir du modèle » button: re-show the form with the model's questions


@dataclass
class MoveForm:
    direction: str = ""  # "up" or "down"


def activity_values(row: dict) -> dict:
    """An activity as the edit form shows it (the quiz or the questionnaire in its plain-text format)."""
    if row["kind"] == "survey":
        return {**row, "quiz_text": "", "pass_mark": row["pass_mark"],
                "survey_text": survey_questions.survey_text(survey_questions.load_questions(row["quiz"]))}
    return {**row, "quiz_text": quiz_text(load_quiz(row["quiz"])), "pass_mark": row["pass_mark"], "survey_text": ""}


async def with_survey_model(values: dict, model: str) -> dict:
    """The form's values with the questions of the ready-made questionnaire ``model`` (« Partir du
    modèle »), everything else as typed; an unknown model changes nothing."""
    if model not in SURVEY_MODELS:
        return values
    phase = {"hot": "hot", "cold": "cold"}.get(model, values.get("survey_phase", ""))
    return {**values, "kind": "survey", "survey_text": await model_text(model), "survey_phase": phase}


async def get_activity(table: type[Table], owner, owner_id: int, activity_id: int) -> dict:
    """One activity of this owner with its file's name, or "Activité introuvable."."""
    row = await table.select(table.all_columns(), table.file.name.as_alias("file_name")).where(
        (table.id == activity_id) & (owner == owner_id)).first()
    if row is None:
        raise NotFound("Activité introuvable.")
    return row


def _checked_values(form: ActivityForm, objectives: int | None = None) -> dict:
    """The form's fields checked and cleaned, by column name; ValidationFailed with every error.
    ``objectives``: how many the owner's template has (a quiz's objective tags are checked against it)."""
    title, kind = form.title.strip(), form.kind
    completion = form.completion or DEFAULT_RULES.get(kind, "manual")
    errors = declared_errors(form)
    if completion not in {r.value for r in CompletionRule}:
        errors["completion"] = "Règle d'achèvement inconnue."
    elif completion == "quiz" and kind != "quiz":
        errors["completion"] = "« Test réussi » ne s'applique qu'à une activité de type Test."
    video_url = form.video_url
    pass_mark = 80 if form.pass_mark is None else form.pass_mark
    quiz = ""
    if kind == "quiz":
        try:
            questions = parse_quiz_text(form.quiz_text, objectives)
            quiz = json.dumps(questions, ensure_ascii=False) if questions else ""
        except ValidationFailed as invalid:
            errors.update(invalid.errors)
    elif kind == "survey":
        try:
            quiz = survey_questions.dump_questions(survey_questions.parse_survey_text(form.survey_text))
        except ValidationFailed as invalid:
            errors.update(invalid.errors)
    if errors:
        raise ValidationFailed(errors)
    hidden = kind in HIDDEN_FROM_LEARNERS
    untracked = hidden or kind == "survey"
    survey = kind == "survey"
    return {"kind": kind, "title": title, "required": form.required and not untracked,
            "content": clean_html(form.content) if kind == "page" else form.content,
            "completion": "none" if untracked else completion, "video_url": video_url, "pass_mark": pass_mark,
            "quiz": quiz, "survey_phase": form.survey_phase if survey else SurveyPhase.none.value,
            "anonymous": form.anonymous and survey, "assessment": form.assessment if kind == "quiz" else ""}


async def save_activity(table: type[Table], owner, owner_id: int, form: ActivityForm, current: dict | None = None,
                        upload: tuple[str, bytes] | None = None, user_id: int | None = None) -> int:
    """Add (`current` None) or edit one activity. A new or replacing upload is stored first; the
    file it replaces stays in stored_file, unreferenced, until the clean-up job removes it."""
    if current is None and form.kind == "survey" and not form.survey_text.strip():
        # A new questionnaire starts from the « Satisfaction à chaud » model (edited on its page).
        form.survey_text, form.survey_phase = await model_text("hot"), form.survey_phase or "hot"
    checked = _checked_values(form, await objective_count(owner, owner_id) if form.kind == "quiz" else None)
    file_id = None if (current is None or form.remove_file) else current["file"]
    if upload is not None:
        file_id = await files.store(upload[0], upload[1], user_id)
    values = {getattr(table, name): value for name, value in checked.items()}
    values[table.file] = file_id
    if current:
        await table.update(values).where(table.id == current["id"])
        return current["id"]
    last = await table.select(table.position).where(owner == owner_id).order_by(
        table.position, ascending=False).first()
    values[owner] = owner_id
    values[table.position] = (last["position"] + 1) if last else 0
    row = await table.insert(table(values)).returning(table.id)
    return row[0]["id"]


async def move_activity(table: type[Table], owner, owner_id: int, activity_id: int, direction: str) -> bool:
    """Move one activity up or down the owner's list; the whole list is renumbered 0, 1, 2… in one
    statement (imports and older edits may have left gaps or ties). False at either end."""
    if direction not in ("up", "down"):
        raise ValidationFailed({"direction": "Déplacement inconnu."}, "Déplacement inconnu : « monter » ou « descendre ».")
    ids = [r["id"] for r in await table.select(table.id).where(owner == owner_id).order_by(
        table.position).order_by(table.id)]
    if activity_id not in ids:
        raise NotFound("Activité introuvable.")
    i = ids.index(activity_id)
    j = i - 1 if direction == "up" else i + 1
    if not 0 <= j < len(ids):
        return False
    ids[i], ids[j] = ids[j], ids[i]
    cases = " ".join(f"WHEN {int(a)} THEN {n}" for n, a in enumerate(ids))
    name, column = table._meta.tablename, owner._meta.db_column_name
    async with db.transaction():
        await table.raw(f"UPDATE {name} SET position = CASE id {cases} END WHERE {column} = {{}}", owner_id)
    return True


# What a session's copy of a template activity takes from it: everything the template says of the
# activity (a questionnaire's sending and anonymity, a quiz's assessment included), in one place for
# every copy (session creation, content import, the demo).
COPIED_FIELDS = ("kind", "title", "content", "required", "completion", "quiz", "pass_mark", "video_url", "file",
                 "survey_phase", "anonymous", "assessment")


def copied_activity(session_id: int, activity: dict, position: int):
    """The session's own copy (a SessionActivity row, not inserted) of one template activity."""
    return SessionActivity(session=session_id, source=activity["id"], position=position,
                           **{name: activity[name] for name in COPIED_FIELDS})
