"""The surveys' platform settings (PlatformSetting): the delays of the cold survey and of the two
reminders, and the three ready-made questionnaires an administrator edits (« Questionnaires : modèles
et envois »). The models are kept in the editor's text format (questions.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from app import db
from app.services.errors import ValidationFailed
from app.services.outbox import get_setting, set_setting
from app.services.surveys.questions import parse_survey_text
from app.services.text import Multiline
from app.tables.outbox import PlatformSetting
from app.validation import IntRange, declared_errors

HOT_MODEL = """Dans l'ensemble, êtes-vous satisfait(e) de cette formation ?
[échelle 1-5]

Les objectifs de la formation ont-ils été atteints ?
[choix unique]
- Tout à fait
- En grande partie
- Partiellement
- Pas du tout

Le contenu de la formation correspondait-il à vos attentes ?
[échelle 1-5]

Comment évaluez-vous l'animation du formateur ou de la formatrice (clarté, écoute, disponibilité) ?
[échelle 1-5]

Le rythme et la durée de la formation étaient-ils adaptés ?
[échelle 1-5]

Comment évaluez-vous l'organisation et la logistique (convocation, accueil, salle, supports) ?
[échelle 1-5]

Quels points de la formation vous ont été les plus utiles ?
[choix multiple]
- Les apports théoriques
- Les exercices et mises en situation
- Les échanges avec le groupe
- Les supports remis
- Les conseils du formateur

Recommanderiez-vous cette formation à un ou une collègue ?
[échelle 1-10]

Vos commentaires et suggestions d'amélioration
[texte libre] [facultatif]"""

COLD_MODEL = """Avec le recul, êtes-vous satisfait(e) de la formation suivie ?
[échelle 1-5]

Avez-vous pu mettre en pratique ce que vous avez appris ?
[choix unique]
- Oui, régulièrement
- Oui, occasionnellement
- Pas encore, mais c'est prévu
- Non

Cette formation a-t-elle fait évoluer vos pratiques professionnelles ?
[échelle 1-5]

Qu'est-ce qui a freiné la mise en pratique, le cas échéant ?
[choix multiple] [facultatif]
- Le manque de temps
- Le manque de moyens ou d'outils
- L'organisation de mon service
- Des contenus trop éloignés de mon poste
- Rien de particulier

Les objectifs de la formation vous semblent-ils atteints aujourd'hui ?
[échelle 1-5]

Recommanderiez-vous cette formation à un ou une collègue ?
[échelle 1-10]

Avez-vous besoin d'une formation complémentaire ou d'un accompagnement ?
[texte libre] [facultatif]

Vos commentaires
[texte libre] [facultatif]"""

FINANCERS_MODEL = """Dans l'ensemble, êtes-vous satisfait(e) des formations suivies par vos agents ou vos élus cette année ?
[échelle 1-5]

Les formations proposées répondent-elles aux besoins de votre structure ?
[échelle 1-5]

Comment évaluez-vous la qualité des échanges avec notre organisme (information, réactivité, suivi des inscriptions) ?
[échelle 1-5]

Les documents administratifs (convocations, attestations, certificats de réalisation) vous sont-ils parvenus dans les délais ?
[choix unique]
- Toujours
- Le plus souvent
- Parfois
- Rarement

Avez-vous constaté des effets des formations sur les pratiques de vos agents ou de vos élus ?
[choix unique]
- Oui, nettement
- Oui, un peu
- Pas encore
- Non

Recommanderiez-vous notre organisme de formation ?
[échelle 1-10]

Quels thèmes de formation souhaiteriez-vous voir proposés ?
[texte libre] [facultatif]

Vos remarques et suggestions
[texte libre] [facultatif]"""

MODELS = {  # key → (setting, label, default)
    "hot": ("survey_model_hot", "Satisfaction à chaud", HOT_MODEL),
    "cold": ("survey_model_cold", "Satisfaction à froid", COLD_MODEL),
    "financers": ("survey_model_financers", "Enquête de satisfaction financeurs", FINANCERS_MODEL),
}
DELAYS = {"survey_cold_days": 60, "survey_reminder_1_days": 7, "survey_reminder_2_days": 14}


async def _settings(keys: list[str]) -> dict[str, str]:
    rows = await PlatformSetting.select(PlatformSetting.key, PlatformSetting.value).where(
        PlatformSetting.key.is_in(keys))
    return {r["key"]: r["value"] for r in rows}


async def delays() -> dict[str, int]:
    """The three delays in days (one query): survey_cold_days, survey_reminder_1_days, _2_days."""
    stored = await _settings(list(DELAYS))
    out = {}
    for key, default in DELAYS.items():
        try:
            out[key] = int(stored.get(key, default))
        except ValueError:
            out[key] = default
    return out


async def model_text(key: str) -> str:
    setting, _, default = MODELS[key]
    return await get_setting(setting, default) or default


def model_questions(key: str) -> list[dict]:
    """The questions of a built-in ready-made questionnaire (« hot », « cold » or « financers ») as
    shipped, not as edited — for a survey made by code (the demo's); ``model_text`` for the edited one."""
    return parse_survey_text(MODELS[key][2])


async def models() -> dict[str, str]:
    stored = await _settings([m[0] for m in MODELS.values()])
    return {key: stored.get(setting) or default for key, (setting, _, default) in MODELS.items()}


def model_choices() -> list[tuple[str, str]]:
    return [(key, label) for key, (_, label, _) in MODELS.items()]


@dataclass
class SurveySettingsForm:
    survey_cold_days: Annotated[int | None, IntRange(1, 730, "Le délai du questionnaire à froid est un nombre de "
                                                              "jours entre 1 et 730.")] = None
    survey_reminder_1_days: Annotated[int | None, IntRange(1, 180, "Le délai de la première relance est un nombre "
                                                                   "de jours entre 1 et 180.")] = None
    survey_reminder_2_days: Annotated[int | None, IntRange(1, 365, "Le délai de la seconde relance est un nombre "
                                                                   "de jours entre 1 et 365.")] = None
    model_hot: Multiline = ""
    model_cold: Multiline = ""
    model_financers: Multiline = ""


async def save_settings(form: SurveySettingsForm) -> None:
    """Check everything, then write everything (or nothing: ValidationFailed with every error)."""
    errors = declared_errors(form)
    for key in DELAYS:
        if getattr(form, key) is None and key not in errors:
            errors[key] = "Indiquez un nombre de jours."
    if not errors and form.survey_reminder_2_days <= form.survey_reminder_1_days:
        errors["survey_reminder_2_days"] = "La seconde relance part après la première : indiquez un délai plus long."
    for key in MODELS:
        text = getattr(form, f"model_{key}")
        try:
            if not parse_survey_text(text):
                errors[f"model_{key}"] = "Le modèle doit compter au moins une question."
        except ValidationFailed as invalid:
            errors[f"model_{key}"] = invalid.errors["survey"]
    if errors:
        raise ValidationFailed(errors)
    async with db.transaction():
        for key in DELAYS:
            await set_setting(key, str(getattr(form, key)))
        for key, (setting, _, _) in MODELS.items():
            await set_setting(setting, getattr(form, f"model_{key}").strip())
