"""Certificates: the certificat de réalisation (kind "realisation", issue 22), the Ministry of Labour's
model that funders and OPCOs require: the provider (dispensateur) with its NDA, the learner and their
employer, the nature of the action (action de formation), dates, planned and attended hours, the taux
de réalisation, place, signature and stamp.

When: per enrolment, never before the session's last slot has ended and attendance is recorded for
every slot (`certificate_due_sql`, as the attestation), only with hours attended (no certificat of
0 h) — whether or not the learner completed the session's activities; a session without slots gets
none (no hours are recorded for it); and only once the provider's name and NDA are filled in. Its
snapshot is frozen like any certificate's: a correction of attendance afterwards changes nothing
until a manager's « Réémettre » makes a new version with the new hours.
"""

from __future__ import annotations

from datetime import datetime

from app.dates import day_fr
from app.numbers import number_fr, rate_percent
from app.services.session_names import name_for_documents
from app.services.slots import hours_text
from app.settings import get_settings
from app.tables.certificates import CertificateKind
from app.pdf.render import TAGGED
from app.services.certificates.common import REALISATION_LAYOUT, VERIFY_PATH, display_code
from app.services.certificates.provider import city_of, nda_display

KIND = CertificateKind.realisation.value
# An enrolment that may get a certificat de réalisation (with certificate_due_sql and the provider set):
# hours attended, in a session with slots, and none of this kind yet. Needs the alias e (enrolment).
CANDIDATE_SQL = (
    "e.attended_minutes > 0 AND EXISTS (SELECT 1 FROM session_slot rsl WHERE rsl.session = e.session) "
    "AND NOT EXISTS (SELECT 1 FROM certificate rc WHERE rc.enrolment = e.id AND rc.kind = 'realisation')"
)
NO_HOURS = "Aucune heure de présence enregistrée : pas de certificat de réalisation."


def hours_number(minutes: int) -> str:
    """10,5 — hours as the model writes them (« pour une durée de 10,5 heures »)."""
    return number_fr(round((minutes or 0) / 60, 2))


def issuable(facts: dict) -> bool:
    """The facts allow one: a session with slots, and hours attended."""
    return bool(facts.get("planned_minutes")) and (facts.get("attended_minutes") or 0) > 0


def _made_at(provider: dict, place: str) -> str:
    """« Fait à … »: the city of the provider's address, else the session's place (its first line)."""
    lines = [line.strip() for line in place.splitlines() if line.strip()]
    return city_of(provider.get("address", "")) or (lines[0] if lines else "")


def snapshot(facts: dict, provider: dict, code: str, version: int, issued_at: datetime) -> dict:
    planned, attended = facts["planned_minutes"], facts["attended_minutes"] or 0
    place = facts.get("place") or ""
    return {
        "kind": KIND, "layout": REALISATION_LAYOUT, TAGGED: True, "version": version, "issued_at": issued_at.isoformat(),
        "code": display_code(code), "verify_url": get_settings().base_url + VERIFY_PATH.format(code=code),
        "civilite": facts["civility"] or "", "prenom": facts["first_name"], "nom": facts["last_name"],
        "employeur": facts.get("employer") or "",
        "session": name_for_documents(facts["session_name"], facts["start_date"], facts["end_date"]),
        "session_code": facts["session_code"],
        "date_debut": day_fr(facts.get("first_day") or facts["start_date"]),
        "date_fin": day_fr(facts.get("last_day") or facts["end_date"]),
        "lieu": place, "horaires": facts.get("hours") or "",
        "minutes_prevues": planned, "minutes_realisees": attended,
        "heures_prevues": hours_number(planned), "heures_realisees": hours_number(attended),
        "duree_prevue": hours_text(planned), "duree_realisee": hours_text(attended),
        "taux": rate_percent(attended, planned),
        "etablissement": facts["establishment_name"], "date_delivrance": day_fr(issued_at),
        "fait_a": _made_at(provider, place),
        "organisme": {
            "nom": provider["name"], "nda": nda_display(provider["nda"]), "adresse": provider.get("address", ""),
            "signataire": provider.get("signatory", ""), "qualite": provider.get("signatory_title", ""),
            "cachet": provider.get("stamp", ""),
        },
    }
