"""The « Registre des traitements » (RGPD article 30, issue 25): every processing of personal data
Tremplin does — what it collects, why (purpose and legal basis), for how long (read from the retention
settings, so the register says what the daily job applies) and who sees it. Built for one page the
administrator reads or prints (app/templates/admin/register.html)."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.outbox import get_setting
from app.services.retention.settings import job_log_days, periods


@dataclass(frozen=True)
class Processing:
    name: str
    collected: list[str]
    purpose: str
    legal_basis: str
    retention: list[str]
    recipients: list[str]


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if unit != "an" else (f"{n} an" if n == 1 else f"{n} ans")


async def processings() -> list[Processing]:
    p = await periods()
    inactive, warning = p["retention_inactive_months"], p["retention_warning_days"]
    evidence, supporting, fse = p["retention_evidence_years"], p["retention_supporting_years"], p["retention_fse_years"]
    evidence_line = (f"Preuves de formation : {_plural(evidence, 'an')} après la fin de la session "
                     f"({_plural(max(evidence, fse), 'an')} pour une session cofinancée par le FSE), "
                     "y compris pour un compte pseudonymisé (conservation légale), puis suppression")
    account_line = (f"Compte : tant qu'il sert ; sans connexion pendant {inactive} mois, avertissement par courriel "
                    f"{warning} jours avant, puis désactivation et pseudonymisation (nom, courriel, matricule, "
                    "identifiant remplacés). Les comptes ayant un rôle de gestion ne sont jamais pseudonymisés "
                    "automatiquement")
    return [*_accounts_and_registration(p, account_line, evidence_line),
            *_evidence_and_traces(p, evidence_line, supporting, fse)]


def _accounts_and_registration(p: dict, account_line: str, evidence_line: str) -> list[Processing]:
    fse = p["retention_fse_years"]
    return [
        Processing(
            "Comptes et gestion de la formation",
            ["Identité : nom, prénom, identifiant, courriel, matricule, statut (FPH, FPT…), établissement ou organisme",
             "Rôles et périmètres", "Inscriptions aux sessions, progression dans les activités, résultats des quiz",
             "Messages des discussions", "Date de dernière connexion"],
            "Organiser les formations des établissements : inscrire, suivre la progression, produire les bilans "
            "(BPF, rapport des élus, indicateurs Qualiopi).",
            "Exécution d'une mission d'intérêt public et obligations légales de l'organisme de formation "
            "(Code du travail, L. 6353-1 et suivants).",
            [account_line, evidence_line,
             f"Fichiers d'import de comptes : lignes du rapport {p['retention_import_months']} mois après l'import ; "
             f"un fichier jamais importé, {p['retention_drafts_days']} jours après son dépôt"],
            ["Administrateurs", "GED de la délégation", "GET de l'établissement (ses agents)",
             "Formateur de la session (ses participants)", "La personne elle-même"]),
        Processing(
            "Inscription en ligne",
            ["Civilité, nom, prénom, courriel, téléphone, code postal", "Organisme, mandat (élus), financement",
             "Attentes, régime alimentaire, besoin d'aménagement (handicap)", "Consentements (covoiturage, "
             "diffusion, droit à l'image), acceptation des CGV", "Bulletin d'inscription (PDF)"],
            "Recevoir et instruire les demandes d'inscription aux sessions, les faire valider par l'instance "
            "de l'organisme, créer le compte du stagiaire.",
            "Mesures précontractuelles et contrat (CGV acceptées) ; consentement pour les options facultatives.",
            [f"Brouillons et demandes jamais confirmées : {p['retention_drafts_days']} jours",
             f"Demandes : {_plural(p['retention_requests_years'], 'an')} après la fin de la session demandée "
             f"({_plural(max(p['retention_requests_years'], fse), 'an')} si elle est cofinancée par le FSE)",
             f"Bulletins d'inscription joints aux courriels : {p['retention_documents_months']} mois"],
            ["Administrateurs", "Gestionnaires d'inscriptions locales", "Instance de validation de l'organisme "
             "(bulletin reçu par courriel)", "Le demandeur (ses courriels)"]),
    ]


def _evidence_and_traces(p: dict, evidence_line: str, supporting: int, fse: int) -> list[Processing]:
    return [
        Processing(
            "Émargement électronique",
            ["Présence par créneau, mode d'émargement, date et heure", "Signature manuscrite dessinée (image)",
             "Empreinte du navigateur et de l'adresse (clé, non réversible)", "Contre-signature du formateur, "
             "feuille d'émargement signée (PDF et empreinte)"],
            "Prouver la réalisation de la formation auprès des financeurs et des contrôles.",
            "Obligation légale (justification de l'exécution de l'action de formation, R. 6332-26 du Code du travail) "
            "et exigences des financeurs.",
            [evidence_line, f"Feuilles d'émargement signées (pièces justificatives) : {_plural(supporting, 'an')} "
                            f"après la fin de la session ({_plural(max(supporting, fse), 'an')} si cofinancée par le FSE)"],
            ["Administrateurs", "GED et GET de la session", "Formateur (ses créneaux)", "La personne elle-même"]),
        Processing(
            "Attestations et certificats de réalisation",
            ["Nom du stagiaire, session, dates, heures réalisées, taux de réalisation", "Code de vérification"],
            "Délivrer l'attestation de fin de formation et le certificat de réalisation ; permettre de vérifier "
            "leur authenticité.",
            "Obligation légale (L. 6353-1 du Code du travail).",
            [evidence_line + ". L'attestation d'un compte pseudonymisé reste lisible telle qu'émise jusque-là"],
            ["Administrateurs", "GED et GET de la session", "La personne elle-même",
             "Toute personne ayant le code de vérification (validité seulement)"]),
        Processing(
            "Enquêtes de satisfaction",
            ["Réponses aux questionnaires à chaud et à froid (anonymes si le questionnaire l'est)",
             "Invitations et relances (courriel)"],
            "Mesurer la satisfaction et l'impact des formations (indicateur 30 du référentiel Qualiopi).",
            "Intérêt légitime de l'organisme et obligation de certification Qualiopi.",
            [evidence_line, f"Courriels d'invitation : contenu effacé après {p['retention_mail_body_days']} jours"],
            ["Administrateurs", "GED et GET de la session (résultats)", "Financeurs (résultats agrégés)"]),
        Processing(
            "Journal d'audit",
            ["Auteur, date, adresse IP, action sensible (rôle attribué, compte modifié, émargement corrigé, "
             "attestation révoquée, export, paramètre modifié), objet concerné"],
            "Sécurité et traçabilité des actions sensibles.",
            "Intérêt légitime (sécurité du système d'information) et obligation de sécurité (RGPD, article 32).",
            [f"{p['retention_audit_months']} mois après l'action, puis suppression"],
            ["Administrateurs"]),
        Processing(
            "Courriels",
            ["Destinataire, objet, date, état de l'envoi", "Contenu du courriel et pièces jointes "
                                                           "(convocations, bulletins)"],
            "Envoyer les identifiants, convocations, confirmations, rappels et avertissements.",
            "Les bases des traitements dont ils relèvent.",
            [f"Contenu : {p['retention_mail_body_days']} jours après l'envoi, puis effacé (la trace de l'envoi reste)",
             f"Pièces jointes : {p['retention_documents_months']} mois",
             f"Historique des tâches de fond : {job_log_days()} jours"],
            ["Administrateurs", "Gestionnaires d'inscriptions locales (courriels de l'inscription)",
             "Exploitation (états d'envoi, sans contenu)"]),
    ]


async def controller() -> dict:
    """The organisation responsible, as entered on « Organisme de formation » (empty: not yet entered)."""
    return {"name": await get_setting("provider_name", ""), "address": await get_setting("provider_address", "")}
