"""The registration bulletin (BI): what it says, and where the one mailed to the organisation's
validating instance is (sent, pending, held, failed or none)."""

from __future__ import annotations

from app.dates import datetime_fr, now
from app.services import outbox
from app.services.registration.common import BI_CATEGORY, YES_NO, request_key
from app.services.registration.sessions import session_dates
from app.tables.outbox import Mail


def bulletin_context(r: dict) -> dict:
    yes_no = {**YES_NO, "": "—"}
    return {
        "reference": r["reference"], "generated": datetime_fr(now()),
        "session": {"title": r["session_title"] or r["session_name"], "code": r["session_code"],
                    "dates": session_dates({"start_date": r["start_date"], "end_date": r["end_date"]})},
        "trainee": {"civility": r["civility"], "first_name": r["first_name"], "last_name": r["last_name"],
                    "email": r["email"], "postal_code": r["postal_code"], "phone": r["phone"],
                    "expectations": r["expectations"]},
        "funding": r["funding_label"] or "—",
        "organisation": (r["organisation_name"] or "—") + ("" if r["organisation_referenced"] in (True, None) else " (non référencé)"),
        "mandate": r["mandate_label"] or "—", "mandate_year": r["mandate_year"],
        "dietary": f"Oui : {r['dietary_details']}" if r["dietary"] == "yes" else "Non",
        "disability": "Oui : un aménagement est nécessaire" if r["disability"] else "Non",
        "consents": [("Liste diffusée aux participants (covoiturage)", yes_no.get(r["consent_carpool"], "—")),
                     ("Liste de diffusion de l'offre de formation", yes_no.get(r["consent_mailing"], "—")),
                     ("Droit à l'image", yes_no.get(r["consent_image"], "—"))],
    }


def instance_mail_body(r: dict, context: dict, operator: str) -> str:
    return (f"Bonjour,\n\n{r['civility']} {r['first_name']} {r['last_name']} demande à suivre la formation "
            f"« {context['session']['title']} » ({context['session']['dates']}).\n\nVous trouverez en pièce "
            f"jointe son bulletin d'inscription (BI), à signer et retourner à {operator}.\n")


BI_STATES = {
    "held": "le bulletin est retenu : l'établissement « {org} » n'est pas encore vérifié et référencé",
    "none": "aucun bulletin n'a été envoyé (pas d'adresse d'instance de validation, ou notifications pas encore "
            "parties)",
    "pending": "le bulletin est en cours d'envoi, il n'est pas encore parti",
    "failed": "l'envoi du bulletin a échoué",
}


async def bulletin_state(request_id: int) -> str:
    """Where the request's BI to its validating instance is: "sent" (it left), "pending" (queued,
    being sent or retried), "held" (an unreviewed organisation), "failed" (given up), "none"."""
    rows = await Mail.select(Mail.status).where(
        (Mail.group_key == request_key(request_id)) & (Mail.category == BI_CATEGORY))
    statuses = {r["status"] for r in rows}
    for state, among in (("sent", {"sent"}), ("pending", {"queued", "sending", "retry"}), ("held", {outbox.HELD}),
                         ("failed", {"failed"})):
        if statuses & among:
            return state
    return "none"


def bulletin_problem(r: dict, state: str) -> str:
    """Why « BI signé » cannot be recorded with one click: the BI never left."""
    return (f"Le bulletin d'inscription n'est jamais parti vers l'instance de validation : "
            f"{BI_STATES[state].format(org=r['organisation_name'] or '—')}.")
