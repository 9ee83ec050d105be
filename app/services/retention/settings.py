"""The retention periods of personal data (issue 25): one PlatformSetting each, edited by the
administrator on « Conservation des données » (app/controllers/retention.py), read by the daily job
(app/services/retention/job.py) and by the « Registre des traitements ».

Each period is declared once (``PERIODS``): its key, its French label, its unit, its default and its
bounds; the form's rules are built from the same declaration."""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass, field as dataclass_field
from typing import Annotated

from app import db
from app.services.errors import ValidationFailed
from app.services.outbox import set_setting
from app.settings import get_settings
from app.tables.outbox import PlatformSetting
from app.validation import IntRange, declared_errors

MONTHS, DAYS, YEARS = "mois", "jours", "ans"
AUDIT_MONTHS = "retention_audit_months"  # the audit trail's (app/services/audit.py purge)


@dataclass(frozen=True)
class Period:
    key: str  # the PlatformSetting key, also the form field
    label: str
    unit: str
    default: int
    low: int
    high: int
    help: str = ""

    def message(self) -> str:
        return f"« {self.label} » : indiquez un nombre entier de {self.unit} entre {self.low} et {self.high}."


PERIODS = [
    Period("retention_inactive_months", "Compte sans connexion, pseudonymisé après", MONTHS, 24, 6, 120,
           "Sans connexion pendant cette durée, le compte est désactivé et ses données personnelles remplacées "
           "(nom, courriel, matricule, identifiant). Les comptes ayant un rôle de gestion ne le sont jamais."),
    Period("retention_warning_days", "Avertissement par courriel, avant la pseudonymisation", DAYS, 30, 7, 180,
           "Le courriel part une seule fois ; une connexion après l'avertissement l'annule."),
    Period("retention_evidence_years", "Preuves de formation (attestations, émargements et signatures, heures)",
           YEARS, 3, 3, 30, "Après la fin de la session, 3 ans au moins (obligation légale). Conservées sous ce délai "
           "même si le compte est pseudonymisé."),
    Period("retention_supporting_years", "Pièces justificatives (feuilles d'émargement signées)", YEARS, 6, 6, 30,
           "Après la fin de la session, 6 ans au moins."),
    Period("retention_fse_years", "Pièces d'une session cofinancée par le FSE", YEARS, 10, 10, 30,
           "Après la fin de la session, 10 ans au moins ; s'applique aussi à ses preuves de formation."),
    Period("retention_drafts_days", "Brouillons d'inscription et demandes jamais confirmées", DAYS, 30, 1, 365,
           "Après leur création."),
    Period("retention_requests_years", "Demandes d'inscription", YEARS, 3, 1, 10,
           "Après la fin de la session demandée (après la demande si elle n'a pas de session) : la durée des "
           "preuves de formation, dont la demande est la pièce d'origine."),
    Period("retention_documents_months", "Bulletins d'inscription (pièces jointes des courriels)", MONTHS, 12, 1, 120,
           "Après l'envoi du courriel qui les porte."),
    Period("retention_import_months", "Rapports d'import de comptes (lignes des fichiers importés)", MONTHS, 12,
           1, 120, "Après l'import. Un fichier jamais importé (aperçu abandonné, refusé, en échec) est effacé "
           "avec les brouillons d'inscription."),
    Period("retention_mail_body_days", "Contenu des courriels envoyés", DAYS, 90, 7, 3650,
           "Le texte est effacé ; la trace de l'envoi (destinataire, objet, date, état) reste."),
    Period(AUDIT_MONTHS, "Journal d'audit", MONTHS, 36, 1, 240,
           "Après l'action enregistrée."),
]
BY_KEY = {p.key: p for p in PERIODS}

RetentionForm = make_dataclass("RetentionForm", [
    (p.key, Annotated[int | None, IntRange(p.low, p.high, p.message())], dataclass_field(default=None))
    for p in PERIODS])


async def periods() -> dict[str, int]:
    """Every period, from the settings (one query), its default when unset or unreadable."""
    rows = await PlatformSetting.select(PlatformSetting.key, PlatformSetting.value).where(
        PlatformSetting.key.is_in(list(BY_KEY)))
    stored = {r["key"]: r["value"] for r in rows}
    values = {}
    for p in PERIODS:
        try:
            values[p.key] = min(max(int(stored.get(p.key, p.default)), p.low), p.high)
        except ValueError:
            values[p.key] = p.default
    return values


async def period(key: str) -> int:
    """One period (a key of PERIODS), as ``periods()`` reads it."""
    return (await periods())[key]


def job_log_days() -> int:
    """The job history's own retention (JOBS_KEEP_DAYS, purged daily by purge_job_runs): shown, not edited here."""
    return get_settings().jobs.keep_days


async def save(form) -> None:
    """Check everything, then write everything (or nothing: ValidationFailed with every error). Each
    changed period is one « Paramètre modifié » of the audit trail."""
    errors = declared_errors(form)
    for p in PERIODS:
        if getattr(form, p.key) is None and p.key not in errors:
            errors[p.key] = f"« {p.label} » : indiquez une durée."
    if not errors and form.retention_warning_days >= form.retention_inactive_months * 30:
        errors["retention_warning_days"] = "L'avertissement doit partir avant la pseudonymisation : indiquez moins de jours."
    if not errors and form.retention_supporting_years < form.retention_evidence_years:
        errors["retention_supporting_years"] = ("Les pièces justificatives (feuilles signées) reprennent les preuves "
                                                "de formation : conservez-les au moins aussi longtemps.")
    if errors:
        raise ValidationFailed(errors)
    current = await periods()
    async with db.transaction():
        for p in PERIODS:
            # Only what changes: a default saved as it was is no « Paramètre modifié ».
            if getattr(form, p.key) != current[p.key]:
                await set_setting(p.key, str(getattr(form, p.key)))
