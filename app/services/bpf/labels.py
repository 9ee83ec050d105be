"""The Cerfa 10443 wording of every BPF choice, and the few lists the forms offer."""

from __future__ import annotations

import re

from app.tables.accounts import TrainerStatus
from app.tables.catalogue import BpfObjective, Delivery
from app.tables.learning import TraineeType

OBJECTIVE_LABELS: dict[str, str] = {
    BpfObjective.rncp_6_8.value: "a. Diplôme, titre ou CQP enregistré au RNCP — niveaux 6 à 8 (licence, master, doctorat…)",
    BpfObjective.rncp_5.value: "a. Diplôme, titre ou CQP enregistré au RNCP — niveau 5 (BTS, DUT…)",
    BpfObjective.rncp_4.value: "a. Diplôme, titre ou CQP enregistré au RNCP — niveau 4 (baccalauréat…)",
    BpfObjective.rncp_3.value: "a. Diplôme, titre ou CQP enregistré au RNCP — niveau 3 (CAP, BEP…)",
    BpfObjective.rncp_2.value: "a. Diplôme, titre ou CQP enregistré au RNCP — niveau 2",
    BpfObjective.rncp_cqp.value: "a. CQP enregistré au RNCP sans niveau de qualification",
    BpfObjective.rs.value: "b. Certification ou habilitation enregistrée au répertoire spécifique (RS)",
    BpfObjective.cqp.value: "c. CQP non enregistré au RNCP ou au RS",
    BpfObjective.other.value: "d. Autres formations professionnelles",
    BpfObjective.skills_review.value: "e. Bilans de compétences",
    BpfObjective.vae.value: "f. Actions d'accompagnement à la validation des acquis de l'expérience (VAE)",
}

DELIVERY_LABELS: dict[str, str] = {
    Delivery.own.value: "Pour le compte de l'organisme",
    Delivery.subcontracted_out.value: "Confiée à un autre organisme de formation (sous-traitance, F-2)",
    Delivery.subcontracted_in.value: "Confiée à l'organisme par un autre organisme de formation (G)",
}

TRAINEE_TYPE_LABELS: dict[str, str] = {
    TraineeType.private_employee.value: "a. Salarié d'employeur privé (hors apprenti)",
    TraineeType.apprentice.value: "b. Apprenti",
    TraineeType.job_seeker.value: "c. Personne en recherche d'emploi",
    TraineeType.individual.value: "d. Particulier à ses propres frais",
    TraineeType.public_agent.value: "e. Autre stagiaire — agent public",
    TraineeType.elected.value: "e. Autre stagiaire — élu",
    TraineeType.other.value: "e. Autre stagiaire",
}

TRAINER_STATUS_LABELS: dict[str, str] = {
    TrainerStatus.internal.value: "Formateur interne (personne de l'organisme)",
    TrainerStatus.external.value: "Formateur externe (personne extérieure, sous-traitance)",
}

# Frequent NSF codes (nomenclature des spécialités de formation), offered as help on the template form.
COMMON_NSF = [
    ("100", "Formations générales"),
    ("122", "Économie"),
    ("128", "Droit, sciences politiques"),
    ("300", "Spécialités plurivalentes des services"),
    ("310", "Spécialités plurivalentes des échanges et de la gestion"),
    ("312", "Commerce, vente"),
    ("314", "Comptabilité, gestion"),
    ("315", "Ressources humaines, gestion du personnel, gestion de l'emploi"),
    ("320", "Spécialités plurivalentes de la communication"),
    ("326", "Informatique, traitement de l'information, réseaux de transmission"),
    ("330", "Spécialités plurivalentes sanitaires et sociales"),
    ("331", "Santé"),
    ("332", "Travail social"),
    ("333", "Enseignement, formation"),
    ("334", "Accueil, hôtellerie, tourisme"),
    ("344", "Sécurité des biens et des personnes, police, surveillance"),
    ("413", "Développement des capacités comportementales et relationnelles"),
    ("415", "Développement des capacités d'orientation, d'insertion ou de réinsertion sociales et professionnelles"),
]

# ASCII digits only (``\d`` would take « ٣١٥ »); the stored form has its letter in lower case.
NSF_PATTERN = re.compile(r"[0-9]{3}[a-zA-Z]?")
NSF_STORED = r"^[0-9]{3}[a-z]?$"
NSF_MESSAGE = "Le code NSF s'écrit avec 3 chiffres, suivis éventuellement d'une lettre (ex. 315 ou 315p)."


def clean_nsf(value: str | None) -> str:
    """The NSF code as stored: trimmed, its letter in lower case; ValueError (French) when malformed."""
    code = (value or "").strip().replace(" ", "")
    if not code:
        return ""
    if not NSF_PATTERN.fullmatch(code):
        raise ValueError(NSF_MESSAGE)
    return code[:3] + code[3:].lower()


# What the course template form offers for the BPF (app/templates/catalogue/form.html).
TEMPLATE_FORM_CHOICES = {"bpf_objectives": list(OBJECTIVE_LABELS.items()), "nsf_codes": COMMON_NSF}
