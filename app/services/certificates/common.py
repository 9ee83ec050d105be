"""Certificates: verification codes, placeholders, the certificate's text."""

from __future__ import annotations

import secrets
from datetime import timedelta

from app.services import user_templates
from app.tables.certificates import CertificateKind, CertificateStatus


ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 characters: no 0 O 1 I L
BODY_LENGTH = 9
CODE_LENGTH = BODY_LENGTH + 1
VERIFY_PATH = "/verifier/{code}"  # the route certificates.verify_code; kept in the snapshot's URL
NOT_FOUND = "Attestation introuvable."
# The certificate's layout is part of its snapshot ("layout"): a layout change never alters the bytes
# of a certificate already issued (its SHA-256 is kept). Snapshots without it were made with layout 1.
# Layout 3 (issue 20): one duration — the planned hours from the slots (the template's estimate only
# for a session without slots) — and the hours attended; a session name whose dates are stale is not printed.
# Layout 4 (issue 22): the attestation de fin de formation (article L6353-1): objectives, nature of the
# action, duration, the results of the evaluation of learning (the quizzes), retitled.
LAYOUTS = {1: "pdf/certificate_v1.html", 2: "pdf/certificate.html", 3: "pdf/certificate_v3.html",
           4: "pdf/certificate_v4.html"}
LAYOUT = 4
# The certificat de réalisation (kind "realisation", the Ministry of Labour's model) has layouts of its own.
REALISATION_LAYOUTS = {1: "pdf/certificate_realisation.html"}
REALISATION_LAYOUT = 1
NATURE = "Action de formation"
KIND_LABELS = {
    CertificateKind.completion.value: "Attestation de fin de formation",
    CertificateKind.realisation.value: "Certificat de réalisation",
}
UPLOAD_MAX_BYTES = 5 * 1024 * 1024
RESEND_AFTER = timedelta(minutes=10)  # « Envoyer par courriel » again within this: not mailed twice
JUST_SENT = ("Cette attestation vient d'être envoyée à l'apprenant : elle ne lui est pas envoyée une seconde fois "
             "(réessayez dans quelques minutes si nécessaire).")

PLACEHOLDERS = {
    "civilite": "civilité (M. / Mme)",
    "prenom": "prénom",
    "nom": "nom",
    "session": "intitulé de la session",
    "date_debut": "date de début",
    "date_fin": "date de fin",
    "duree": "durée",
    "etablissement": "établissement",
    "date_delivrance": "date de délivrance",
    "code": "code de vérification",
}
DEFAULT_TEXT = (
    "Je soussigné(e), responsable de la formation, atteste que {civilite} {prenom} {nom} a suivi "
    "la formation « {session} » du {date_debut} au {date_fin} ({duree}), organisée pour "
    "l'établissement {etablissement}, et en a achevé toutes les activités obligatoires."
)
STATUS_LABELS = {
    CertificateStatus.valid.value: "Valide",
    CertificateStatus.revoked.value: "Révoquée",
    CertificateStatus.superseded.value: "Remplacée par une version plus récente",
}


# -- codes -------------------------------------------------------------------------------------
def check_char(body: str) -> str:
    return ALPHABET[sum((i + 1) * ALPHABET.index(c) for i, c in enumerate(body)) % len(ALPHABET)]


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + check_char(body)


def normalize_code(typed: str) -> str | None:
    """The stored form of a typed code, or None when it cannot be one (length, alphabet, check)."""
    code = "".join(c for c in (typed or "").upper() if c not in " -\t.")
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code if check_char(code[:-1]) == code[-1] else None


def display_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


# -- the template text -------------------------------------------------------------------------
def template_errors(text: str) -> str | None:
    """A French message when a certificate text (a session's, a course template's) has an unknown
    placeholder, a placeholder with a format ({prenom:>1000000}) or a stray brace; None when it can
    be filled in (app/services/user_templates.py)."""
    return user_templates.problem(text, PLACEHOLDERS)


def fill(text: str, values: dict) -> str:
    """By substitution only, capped: a text stored before formats were refused is filled safely too."""
    return user_templates.fill(text or DEFAULT_TEXT, {k: values.get(k, "") for k in PLACEHOLDERS})
