"""Back office of "Inscriptions locales" for local registration managers (seed 003): reference
lists (SPEC F4), settings and tools (F5): "Tester la génération PDF", "Emails générés"."""

from __future__ import annotations


from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.dates import now, short_datetime_fr
from app.datatable import Col, DataTable, Filter
from app.pdf.render import render_pdf
from app.services import outbox, registration as reg, registration_admin as admin
from app.services.errors import NotFound, ValidationFailed
from app.services.roles import ADMIN, REGISTRATION_MANAGER
from app.tables.outbox import Mail, MailAttachment
from app.tables.registration import Organisation, RegistrationRequest, RequestEvent
from app.http.tableview import table_view
from app.lists import register
from app.http.responder import confirm_page, render
from app.http.web import current_user
from app.http.responder import redirect
from app.http.forms import form_data

BASE = "/gestion-inscriptions"
STATUS_LABELS = {"queued": "En file", "sending": "En cours d'envoi", "sent": "Envoyé", "retry": "Nouvel essai prévu",
                 "failed": "Échec"}



async def _type_options(user):
    return [(str(i["id"]), i["label"]) for i in await admin.items("establishment_type")]


MAILS = register(
    DataTable(
        name="mails",
        table=Mail,
        select=(Mail.id, Mail.recipients, Mail.intended_recipients, Mail.subject, Mail.status, Mail.tries,
                Mail.last_error, Mail.is_test, Mail.category, Mail.created_at, Mail.sent_at),
        columns=(
            Col("created_at", "Créé le", Mail.created_at, export=lambda r: short_datetime_fr(r["created_at"])),
            Col("recipients", "Destinataires", Mail.recipients),
            Col("subject", "Sujet", Mail.subject),
            Col("status", "État", Mail.status, export=lambda r: STATUS_LABELS.get(r["status"], r["status"])),
            Col("tries", "Essais", Mail.tries),
            Col("last_error", "Dernière erreur"),
        ),
        filters=(
            Filter("statut", "État", lambda v: Mail.status == v if v in STATUS_LABELS else None, kind="select",
                   options=list(STATUS_LABELS.items())),
            Filter("q", "Destinataire ou sujet", lambda v: Mail.recipients.ilike(f"%{v}%") | Mail.subject.ilike(f"%{v}%")),
        ),
        default_sort="-created_at",
        # The registration back office sees the mails of the registration, nothing else (not the
        # credentials of accounts created by the establishments).
        base_where=lambda user, scope: _registration_mail(),
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
            Col("postal_code", "Code postal", Organisation.postal_code),
            Col("validation_email", "Instance de validation (courriel)", Organisation.validation_email),
            Col("referenced", "Référencé", Organisation.referenced, export=lambda r: "Oui" if r["referenced"] else "Non référencé"),
            Col("under_agreement", "Conventionné", Organisation.under_agreement,
                export=lambda r: "Oui" if r["under_agreement"] else "Non"),
        ),
        filters=(
            Filter("q", "Nom", lambda v: Organisation.name.ilike(f"%{v}%")),
            Filter("reference", "Référencement", lambda v: {"oui": Organisation.referenced == True,  # noqa: E712
                                                            "non": Organisation.referenced == False}.get(v),  # noqa: E712
                   kind="select", options=[("oui", "Référencés"), ("non", "Non référencés")]),
            Filter("convention", "Convention", lambda v: {"oui": Organisation.under_agreement == True,  # noqa: E712
                                                          "non": Organisation.under_agreement == False}.get(v),  # noqa: E712
                   kind="select", options=[("oui", "Conventionnés"), ("non", "Non conventionnés")]),
            Filter("type", "Type", lambda v: Organisation.kind == int(v) if v.isdigit() else None, kind="select",
                   options=_type_options),
        ),
        default_sort="name",
        export_filename="etablissements_inscriptions",
    )
)


def _registration_mail():
    return (Mail.category == outbox.REGISTRATION_CATEGORY) | Mail.category.like(f"{outbox.REGISTRATION_CATEGORY}-%")


async def _mail(mail_id: int) -> dict:
    """A mail of the registration, its secret masked; any other mail is "not found"."""
    row = await Mail.select(Mail.all_columns(exclude=[Mail.secret])).where(
        (Mail.id == mail_id) & _registration_mail()).first()
    if row is None:
        raise NotFound("Courriel introuvable.")
    row["body_text"] = outbox.masked(row["body_text"])
    return row


def _status_filter(v):
    return RegistrationRequest.status == v if v in reg.STATUS_LABELS else None


def _int_filter(column):
    return lambda v: column == int(v) if v.isdigit() else None


async def _session_options(user):
    from app.tables.catalogue import TrainingSession

    rows = await TrainingSession.select(TrainingSession.id, TrainingSession.code).order_by(TrainingSession.code)
    return [(str(r["id"]), r["code"]) for r in rows]


async def _organisation_options(user):
    rows = await Organisation.select(Organisation.id, Organisation.name).order_by(Organisation.name)
    return [(str(r["id"]), r["name"]) for r in rows]


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
                export=lambda r: short_datetime_fr(r["submitted_at"])),
            Col("reference", "Référence", RegistrationRequest.reference),
            Col("last_name", "Demandeur", RegistrationRequest.last_name,
                export=lambda r: f"{r['first_name']} {r['last_name']}"),
            Col("email", "Courriel", RegistrationRequest.email),
            Col("session_code", "Session", RegistrationRequest.session.code),
            Col("organisation_name", "Établissement", RegistrationRequest.organisation.name),
            Col("status", "État", RegistrationRequest.status, export=lambda r: reg.STATUS_LABELS.get(r["status"], r["status"])),
        ),
        filters=(
            Filter("statut", "État", _status_filter, kind="select",
                   options=[(k, v) for k, v in reg.STATUS_LABELS.items() if k != "draft"]),
            Filter("session", "Session", _int_filter(RegistrationRequest.session), kind="select", options=_session_options),
            Filter("etablissement", "Établissement", _int_filter(RegistrationRequest.organisation), kind="select",
                   options=_organisation_options),
            Filter("depuis", "Envoyée depuis le", lambda v: RegistrationRequest.submitted_at >= _date(v), kind="date"),
            Filter("q", "Nom, courriel ou référence", lambda v: RegistrationRequest.last_name.ilike(f"%{v}%")
                   | RegistrationRequest.email.ilike(f"%{v}%") | RegistrationRequest.reference.ilike(f"%{v}%")),
        ),
        default_sort="-submitted_at",
        base_where=lambda user, scope: RegistrationRequest.status != "draft",
        export_filename="demandes_inscription",
    )
)


def _date(value: str):
    from datetime import date, datetime, timezone

    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), timezone.utc)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=timezone.utc)


def sample_bulletin() -> dict:
    """The data of a made-up request, for "Tester la génération PDF"."""
    return {
        "reference": "DEMANDE-TEST", "generated": short_datetime_fr(now()),
        "session": {"title": "Transformer le patrimoine communal: stratégies et actions pour rénover, agrandir, mutualiser",
                    "dates": "Du vendredi 2 octobre 2026, 11:00 au vendredi 2 octobre 2026, 12:15", "code": "26C03S1"},
        "trainee": {"civility": "Mme", "first_name": "Élodie", "last_name": "D'Artagnan-Lé", "email": "elodie@example.org",
                    "postal_code": "26170", "phone": "04 75 00 00 00",
                    "expectations": "Mieux comprendre les leviers de mutualisation."},
        "funding": "Financement par ma collectivité", "organisation": "Mairie de Buis-les-Baronnies (non référencé)",
        "mandate": "Adjoint.e au Maire", "mandate_year": "2020", "dietary": "Oui : végétarien",
        "disability": "Oui : un aménagement est nécessaire", "consents": [
            ("Liste diffusée aux participants (covoiturage)", "Oui"), ("Liste de diffusion de l'offre de formation", "Non"),
            ("Droit à l'image", "Oui")],
    }


class RegistrationAdminController(Controller):
    path = BASE
    opt = {"roles": (ADMIN, REGISTRATION_MANAGER)}

    @get("/")
    async def index(self) -> Template:
        return Template("registration_admin/index.html", context={"kinds": admin.REF_KINDS, "base": BASE})

    # -- simple lists ---------------------------------------------------------------------------
    async def _list_page(self, request, kind, values=None, errors=None, status_code=200):
        return render(request, "registration_admin/list.html", {
            "kind": kind, "title": admin.kind_label(kind), "items": await admin.items(kind), "base": BASE,
            "values": values or {}, "errors": errors or {}}, status_code=status_code)

    @get("/listes/{kind:str}")
    async def list_page(self, request: Request, kind: FromPath[str]) -> Template:
        return await self._list_page(request, kind)

    @post("/listes/{kind:str}")
    async def add_item(self, request: Request, kind: FromPath[str]) -> Response:
        data = await form_data(request)
        try:
            await admin.save_item(kind, data, int(data["item_id"]) if str(data.get("item_id", "")).isdigit() else None)
        except ValidationFailed as invalid:
            return await self._list_page(request, kind, data, invalid.errors, status_code=422)
        return redirect(request, f"{BASE}/listes/{kind}", "Liste enregistrée.")

    @post("/listes/{kind:str}/{item_id:int}/{action:str}")
    async def item_action(self, request: Request, kind: FromPath[str], item_id: FromPath[int], action: FromPath[str]) -> Response:
        if action == "monter":
            await admin.move_item(kind, item_id, -1)
            message = "Ordre enregistré."
        elif action == "descendre":
            await admin.move_item(kind, item_id, +1)
            message = "Ordre enregistré."
        elif action == "masquer":
            row = await admin.toggle_hidden(kind, item_id)
            message = f"« {row['label']} » {'affiché' if row['hidden'] else 'masqué'}."
        elif action == "supprimer":
            row = await admin.delete_item(kind, item_id)
            message = f"« {row['label']} » supprimé."
        else:
            raise NotFound("Action inconnue.")
        return redirect(request, f"{BASE}/listes/{kind}", message)

    # -- organisations --------------------------------------------------------------------------
    @get("/etablissements")
    async def organisations(self, request: Request) -> Response:
        return await table_view(request, ORGANISATIONS, "registration_admin/organisations.html",
                                "registration_admin/_organisations.html", {"url": f"{BASE}/etablissements", "base": BASE})

    async def _org_form(self, request, values, errors, org_id, status_code=200):
        return render(request, "registration_admin/organisation_form.html", {
            "values": values, "errors": errors, "org_id": org_id, "base": BASE,
            "types": await _type_options(None)}, status_code=status_code)

    @get(["/etablissements/nouveau", "/etablissements/{org_id:int}/modifier"])
    async def org_form(self, request: Request, org_id: FromPath[int | None] = None) -> Template:
        values = await admin.organisation(org_id) if org_id else {"referenced": True}
        return await self._org_form(request, values, {}, org_id)

    @post(["/etablissements/nouveau", "/etablissements/{org_id:int}/modifier"])
    async def org_save(self, request: Request, org_id: FromPath[int | None] = None) -> Response:
        data = await form_data(request)
        try:
            await admin.save_organisation(data, org_id)
        except ValidationFailed as invalid:
            return await self._org_form(request, data, invalid.errors, org_id, status_code=422)
        return redirect(request, f"{BASE}/etablissements", "Établissement enregistré.")

    @post("/etablissements/{org_id:int}/referencer")
    async def org_reference(self, request: Request, org_id: FromPath[int]) -> Response:
        row = await admin.reference_organisation(org_id)
        return redirect(request, f"{BASE}/etablissements", f"« {row['name']} » est maintenant référencé.")

    @get("/etablissements/{org_id:int}/supprimer")
    async def org_confirm_delete(self, request: Request, org_id: FromPath[int]) -> Template:
        row = await admin.organisation(org_id)
        return confirm_page(request, f"Supprimer l'établissement « {row['name']} » ?", f"{BASE}/etablissements")

    @post("/etablissements/{org_id:int}/supprimer")
    async def org_delete(self, request: Request, org_id: FromPath[int]) -> Response:
        row = await admin.delete_organisation(org_id)
        return redirect(request, f"{BASE}/etablissements", f"« {row['name']} » supprimé.")

    # -- settings and tools (F5) --------------------------------------------------------------
    @get("/reglages")
    async def settings_page(self, request: Request) -> Template:
        return render(request, "registration_admin/settings.html", {"values": await admin.settings(), "errors": {},
                                                                    "base": BASE})

    @post("/reglages")
    async def settings_save(self, request: Request) -> Response:
        data = await form_data(request)
        try:
            await admin.save_settings(data)
        except ValidationFailed as invalid:
            return render(request, "registration_admin/settings.html", {"values": data, "errors": invalid.errors,
                                                                        "base": BASE}, status_code=422)
        return redirect(request, f"{BASE}/reglages", "Réglages enregistrés.")

    @get("/test-pdf")
    async def test_pdf(self) -> Response:
        pdf = await render_pdf("pdf/bulletin.html", sample_bulletin())
        return Response(content=pdf, media_type="application/pdf",
                        headers={"Content-Disposition": 'inline; filename="bulletin_inscription_test.pdf"'})

    @get("/emails")
    async def mails(self, request: Request) -> Response:
        return await table_view(request, MAILS, "registration_admin/mails.html", "registration_admin/_mails.html",
                                {"url": f"{BASE}/emails", "base": BASE, "status_labels": STATUS_LABELS})

    @get("/emails/{mail_id:int}")
    async def mail(self, request: Request, mail_id: FromPath[int]) -> Template:
        row = await _mail(mail_id)
        attachments = await MailAttachment.select(MailAttachment.id, MailAttachment.filename,
                                                  MailAttachment.content_type).where(MailAttachment.mail == mail_id)
        return Template("registration_admin/mail.html", context={"mail": row, "attachments": attachments,
                                                                 "base": BASE, "status_labels": STATUS_LABELS})

    @get("/emails/{mail_id:int}/pieces/{attachment_id:int}")
    async def attachment(self, mail_id: FromPath[int], attachment_id: FromPath[int]) -> Response:
        await _mail(mail_id)
        row = await MailAttachment.select().where(
            (MailAttachment.id == attachment_id) & (MailAttachment.mail == mail_id)).first()
        if row is None:
            raise NotFound("Pièce jointe introuvable.")
        return Response(content=bytes(row["content"]), media_type=row["content_type"],
                        headers={"Content-Disposition": f'attachment; filename="{row["filename"]}"'})

    @post("/emails/{mail_id:int}/renvoyer")
    async def resend(self, request: Request, mail_id: FromPath[int]) -> Response:
        await _mail(mail_id)
        if await outbox.retry_now(request.app.state.redis, mail_id):
            return redirect(request, f"{BASE}/emails/{mail_id}", "Nouvel envoi demandé.")
        return redirect(request, f"{BASE}/emails/{mail_id}", "Ce courriel est déjà envoyé ou en cours d'envoi.", "info")


class RequestController(Controller):
    path = f"{BASE}/demandes"
    opt = {"roles": (ADMIN, REGISTRATION_MANAGER)}

    @get("/")
    async def index(self, request: Request) -> Response:
        return await table_view(request, REQUESTS, "registration_admin/requests.html", "registration_admin/_requests.html",
                                {"url": f"{BASE}/demandes", "base": BASE, "status_labels": reg.STATUS_LABELS,
                                 "counts": await reg.counts_by_status()})

    async def _detail(self, request, request_id, errors=None, status_code=200):
        r = await reg.request_details(request_id)
        events = await RequestEvent.select(RequestEvent.all_columns(), RequestEvent.actor.username.as_alias("actor_name")).where(
            RequestEvent.request == request_id).order_by(RequestEvent.at).order_by(RequestEvent.id)
        mails = await Mail.select(Mail.id, Mail.subject, Mail.recipients, Mail.status, Mail.created_at).where(
            Mail.group_key == reg.request_key(request_id)).order_by(Mail.id)
        action = reg.next_action(r["status"])
        return render(request, "registration_admin/request.html", {
            "r": r, "events": events, "mails": mails, "base": BASE, "next_action": action,
            "next_label": reg.WORKFLOW[action][2] if action else None, "open": r["status"] in reg.OPEN_STATUSES,
            "workflow": reg.WORKFLOW, "errors": errors or {}, "status_labels": reg.STATUS_LABELS,
            "mail_status_labels": STATUS_LABELS,
        }, status_code=status_code)

    @get("/{request_id:int}")
    async def detail(self, request: Request, request_id: FromPath[int]) -> Template:
        return await self._detail(request, request_id)

    @get("/{request_id:int}/bulletin.pdf")
    async def bulletin(self, request_id: FromPath[int]) -> Response:
        r = await reg.request_details(request_id)
        pdf = await render_pdf("pdf/bulletin.html", reg.bulletin_context(r))
        return Response(content=pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="bulletin_inscription_{r["reference"]}.pdf"'})

    @post("/{request_id:int}/{action:str}")
    async def act(self, request: Request, request_id: FromPath[int], action: FromPath[str]) -> Response:
        data = await form_data(request)
        try:
            r = await reg.apply_action(current_user(request), request_id, action, request.app.state.redis,
                                       str(data.get("reason", "")))
        except ValidationFailed as invalid:
            return await self._detail(request, request_id, invalid.errors, status_code=422)
        return redirect(request, f"{BASE}/demandes/{request_id}", f"Demande {r['reference']} : {r['status_label']}.")


HANDLERS = [RegistrationAdminController, RequestController]
