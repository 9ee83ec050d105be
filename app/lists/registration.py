"""The lists of the registration back office (seed 003): requests, organisations, generated mails."""

from __future__ import annotations

from datetime import date, datetime, timezone

from app.dates import local_naive
from app.datatable import Choices, Col, DataTable, Filter, choice_filter
from app.lists import register
from app.lists._common import int_or_none, yes_no
from app.services import outbox
from app.services.registration import STATUS_LABELS
from app.services.registration_admin import items
from app.services.text import contains, loose, search
from app.tables.catalogue import TrainingSession
from app.tables.outbox import Mail
from app.tables.registration import Organisation, RegistrationRequest

MAIL_STATUS_LABELS = {"queued": "En file", "sending": "En cours d'envoi", "sent": "Envoyé", "retry": "Nouvel essai prévu",
                      "failed": "Échec", outbox.HELD: "En attente : établissement à vérifier",
                      outbox.DROPPED: "Non envoyé (demande close)"}
YES_NO_FILTER = [("yes", "Oui"), ("no", "Non")]


def registration_mail():
    """The mails of the registration, and nothing else (not the credentials of accounts created by
    the establishments)."""
    return (Mail.category == outbox.REGISTRATION_CATEGORY) | Mail.category.like(f"{outbox.REGISTRATION_CATEGORY}-%")


def _boolean(column):
    return lambda v: {"yes": column == True, "no": column == False}.get(v)  # noqa: E712


def _int_filter(column):
    return lambda v: column == int_or_none(v) if int_or_none(v) is not None else None


def _since(value: str):
    try:
        return RegistrationRequest.submitted_at >= datetime.combine(date.fromisoformat(value), datetime.min.time(),
                                                                     timezone.utc)
    except ValueError:
        return None


async def _type_options(user):
    return [(str(i["id"]), i["label"]) for i in await items("establishment_type")]


def _organisation_label(row: dict) -> str:
    """« Mairie de Nyons (26110 Nyons) »: homonyms told apart by their place."""
    place = " ".join(p for p in (row["postal_code"], row["city"]) if p)
    return f"{row['name']} ({place})" if place else row["name"]


# A session or an organisation the list may be filtered on: one that some request refers to
# (organisations are public sign-ups and sessions add up year after year: suggested as one types,
# never all listed).
SESSION_CHOICES = Choices(
    table=TrainingSession,
    columns=(TrainingSession.code, TrainingSession.full_name),
    label=lambda r: f"{r['code']} — {r['full_name']}",
    order=TrainingSession.code,
    search=lambda text: search(TrainingSession.search_text, text),
    among_rows=True,
)
ORGANISATION_CHOICES = Choices(
    table=Organisation,
    columns=(Organisation.name, Organisation.postal_code, Organisation.city),
    label=_organisation_label,
    order=Organisation.name,
    search=lambda text: search(Organisation.search_text, loose(text)),
    allowed=lambda user, scope: Organisation.merged_into.is_null(),
    among_rows=True,
)


MAILS = register(
    DataTable(
        name="mails",
        table=Mail,
        select=(Mail.id, Mail.recipients, Mail.intended_recipients, Mail.subject, Mail.status, Mail.tries,
                Mail.last_error, Mail.is_test, Mail.category, Mail.created_at, Mail.sent_at),
        columns=(
            Col("created_at", "Créé le", Mail.created_at, export=lambda r: local_naive(r["created_at"])),
            Col("recipients", "Destinataires", Mail.recipients),
            Col("subject", "Sujet", Mail.subject),
            Col("status", "État", Mail.status, export=lambda r: MAIL_STATUS_LABELS.get(r["status"], r["status"])),
            Col("tries", "Essais", Mail.tries),
            Col("last_error", "Dernière erreur"),
        ),
        filters=(
            Filter("status", "État", lambda v: Mail.status == v if v in MAIL_STATUS_LABELS else None, kind="select",
                   options=list(MAIL_STATUS_LABELS.items())),
            Filter("q", "Destinataire ou sujet", lambda v: contains(Mail.recipients, v, True) | contains(Mail.subject, v, True)),
        ),
        default_sort="-created_at",
        base_where=lambda user, scope: registration_mail(),
        export_filename="emails_generes",
    )
)

ORGANISATIONS = register(
    DataTable(
        name="organisations",
        table=Organisation,
        select=(Organisation.id, Organisation.name, Organisation.postal_code, Organisation.city,
                Organisation.validation_email, Organisation.referenced, Organisation.under_agreement,
                Organisation.hidden, Organisation.kind.label.as_alias("kind_label")),
        columns=(
            Col("name", "Établissement", Organisation.name),
            Col("kind_label", "Type", Organisation.kind.label),
            Col("postal_code", "Code postal et ville", Organisation.postal_code,
                export=lambda r: f"{r['postal_code']} {r['city']}".strip()),
            Col("validation_email", "Instance de validation (courriel)", Organisation.validation_email),
            Col("referenced", "Référencé", Organisation.referenced, export=lambda r: "Oui" if r["referenced"] else "Non référencé"),
            Col("under_agreement", "Conventionné", Organisation.under_agreement,
                export=lambda r: yes_no(r["under_agreement"])),
        ),
        filters=(
            Filter("q", "Nom, code postal ou ville", lambda v: search(Organisation.search_text, loose(v))),
            Filter("referenced", "Référencement", _boolean(Organisation.referenced), kind="select",
                   options=[("yes", "Référencés"), ("no", "Non référencés")]),
            Filter("agreement", "Convention", _boolean(Organisation.under_agreement), kind="select",
                   options=[("yes", "Conventionnés"), ("no", "Non conventionnés")]),
            Filter("kind", "Type", _int_filter(Organisation.kind), kind="select", options=_type_options),
        ),
        default_sort="name",
        # A duplicate merged into another is kept for the record, not listed.
        base_where=lambda user, scope: Organisation.merged_into.is_null(),
        export_filename="etablissements_inscriptions",
    )
)

REQUESTS = register(
    DataTable(
        name="registration_requests",
        table=RegistrationRequest,
        select=(RegistrationRequest.id, RegistrationRequest.reference, RegistrationRequest.status,
                RegistrationRequest.first_name, RegistrationRequest.last_name, RegistrationRequest.email,
                RegistrationRequest.submitted_at, RegistrationRequest.waiting_list,
                RegistrationRequest.session.code.as_alias("session_code"),
                RegistrationRequest.organisation.name.as_alias("organisation_name")),
        columns=(
            Col("submitted_at", "Envoyée le", RegistrationRequest.submitted_at,
                export=lambda r: local_naive(r["submitted_at"])),  # a date cell, not text
            Col("reference", "Référence", RegistrationRequest.reference),
            Col("last_name", "Demandeur", RegistrationRequest.last_name,
                export=lambda r: f"{r['first_name']} {r['last_name']}"),
            Col("email", "Courriel", RegistrationRequest.email),
            Col("session_code", "Session", RegistrationRequest.session.code),
            Col("organisation_name", "Établissement", RegistrationRequest.organisation.name),
            Col("status", "État", RegistrationRequest.status, export=lambda r: STATUS_LABELS.get(r["status"], r["status"])),
        ),
        filters=(
            Filter("status", "État", lambda v: RegistrationRequest.status == v if v in STATUS_LABELS else None,
                   kind="select", options=[(k, v) for k, v in STATUS_LABELS.items() if k != "draft"]),
            choice_filter("session", "Session", RegistrationRequest.session, SESSION_CHOICES),
            choice_filter("organisation", "Établissement", RegistrationRequest.organisation, ORGANISATION_CHOICES),
            Filter("since", "Envoyée depuis le", _since, kind="date"),
            Filter("q", "Nom, courriel ou référence", lambda v: contains(RegistrationRequest.last_name, v, True)
                   | contains(RegistrationRequest.email, v, True)
                   | contains(RegistrationRequest.reference, v, True)),
        ),
        default_sort="-submitted_at",
        base_where=lambda user, scope: RegistrationRequest.status != "draft",
        export_filename="demandes_inscription",
    )
)
