"""Back office of "Inscriptions locales" for local registration managers (seed 003): reference
lists (SPEC F4), organisations, settings and tools (F5): "Tester la génération PDF", "Emails
générés", and the requests' workflow (F3). The lists themselves are in app/lists/registration.py."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.dates import now, short_datetime_fr
from app.http.forms import as_values, parse_form, read_form
from app.http.responder import confirm_page, content_disposition, redirect, render, url
from app.http.tableview import table_view
from app.http.web import current_user
from app.lists.registration import MAIL_STATUS_LABELS, MAILS, ORGANISATIONS, REQUESTS, registration_mail
from app.pdf.render import render_pdf
from app.services import outbox, registration as reg, registration_admin as admin
from app.services.errors import NotFound, ValidationFailed
from app.services.roles import ADMIN, REGISTRATION_MANAGER
from app.tables.outbox import Mail, MailAttachment
from app.tables.registration import RequestEvent

MANAGERS = (ADMIN, REGISTRATION_MANAGER)
# The reference lists' row actions (URL segment -> what it does).
ITEM_ACTIONS = ("monter", "descendre", "masquer", "supprimer")


async def _type_options() -> list[tuple[str, str]]:
    return [(str(i["id"]), i["label"]) for i in await admin.items("establishment_type")]


async def _mail(mail_id: int) -> dict:
    """A mail of the registration, its secret masked; any other mail is "not found"."""
    row = await Mail.select(Mail.all_columns(exclude=[Mail.secret])).where(
        (Mail.id == mail_id) & registration_mail()).first()
    if row is None:
        raise NotFound("Courriel introuvable.")
    row["body_text"] = outbox.masked(row["body_text"])
    return row


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
    path = "/gestion-inscriptions"
    opt = {"roles": MANAGERS}

    @get("/", name="registration_admin.index")
    async def index(self, request: Request) -> Template:
        return render(request, "registration_admin/index.html", {"kinds": admin.REF_KINDS,
                                                                  "waiting": await reg.waiting_count()})

    # -- simple lists ---------------------------------------------------------------------------
    async def _list_page(self, request, kind, values=None, errors=None, status_code=200):
        return render(request, "registration_admin/list.html", {
            "kind": kind, "title": admin.kind_label(kind), "items": await admin.items(kind),
            "values": values or {}, "errors": errors or {}, "actions": ITEM_ACTIONS}, status_code=status_code)

    @get("/listes/{kind:str}", name="registration_admin.list")
    async def list_page(self, request: Request, kind: FromPath[str]) -> Template:
        return await self._list_page(request, kind)

    @post("/listes/{kind:str}", name="registration_admin.save_item")
    async def save_item(self, request: Request, kind: FromPath[str]) -> Response:
        form = await read_form(request, admin.ItemForm)
        try:
            await admin.save_item(kind, form)
        except ValidationFailed as invalid:
            return await self._list_page(request, kind, as_values(form), invalid.errors, status_code=422)
        return redirect(request, url(request, "registration_admin.list", kind=kind), "Liste enregistrée.")

    @post("/listes/{kind:str}/{item_id:int}/{action:str}", name="registration_admin.item_action")
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
        return redirect(request, url(request, "registration_admin.list", kind=kind), message)

    # -- organisations --------------------------------------------------------------------------
    @get("/etablissements", name="registration_admin.organisations")
    async def organisations(self, request: Request) -> Response:
        return await table_view(request, ORGANISATIONS, "registration_admin/organisations.html",
                                "registration_admin/_organisations.html",
                                {"url": url(request, "registration_admin.organisations")})

    async def _org_form(self, request, values, errors, org_id, status_code=200):
        return render(request, "registration_admin/organisation_form.html", {
            "values": values, "errors": errors, "org_id": org_id, "types": await _type_options()},
            status_code=status_code)

    @get("/etablissements/nouveau", name="registration_admin.new_organisation")
    async def new_organisation(self, request: Request) -> Template:
        return await self._org_form(request, {"referenced": True}, {}, None)

    @post("/etablissements/nouveau", name="registration_admin.create_organisation")
    async def create_organisation(self, request: Request) -> Response:
        return await self._org_save(request, None)

    @get("/etablissements/{org_id:int}/modifier", name="registration_admin.edit_organisation")
    async def edit_organisation(self, request: Request, org_id: FromPath[int]) -> Template:
        return await self._org_form(request, await admin.organisation(org_id), {}, org_id)

    @post("/etablissements/{org_id:int}/modifier", name="registration_admin.save_organisation")
    async def save_organisation(self, request: Request, org_id: FromPath[int]) -> Response:
        return await self._org_save(request, org_id)

    async def _org_save(self, request: Request, org_id: int | None) -> Response:
        form = await read_form(request, admin.OrganisationForm)
        try:
            org_id = await admin.save_organisation(form, org_id)
        except ValidationFailed as invalid:
            return await self._org_form(request, as_values(form), invalid.errors, org_id, status_code=422)
        message = "Établissement enregistré."
        if form.referenced:
            sent = await reg.release_held_bulletins(org_id, request.app.state.redis)
            if sent:
                message += f" {sent} bulletin(s) d'inscription en attente envoyé(s) à son instance de validation."
        return redirect(request, url(request, "registration_admin.organisations"), message)

    @post("/etablissements/{org_id:int}/referencer", name="registration_admin.reference_organisation")
    async def org_reference(self, request: Request, org_id: FromPath[int]) -> Response:
        row = await admin.reference_organisation(org_id)
        message = f"« {row['name']} » est maintenant référencé."
        sent = await reg.release_held_bulletins(org_id, request.app.state.redis)
        if sent:
            message += f" {sent} bulletin(s) d'inscription en attente envoyé(s) à {row['validation_email']}."
        return redirect(request, url(request, "registration_admin.organisations"), message)

    @get("/etablissements/{org_id:int}/supprimer", name="registration_admin.confirm_delete_organisation")
    async def org_confirm_delete(self, request: Request, org_id: FromPath[int]) -> Template:
        row = await admin.organisation(org_id)
        return confirm_page(request, f"Supprimer l'établissement « {row['name']} » ?",
                            url(request, "registration_admin.organisations"))

    @post("/etablissements/{org_id:int}/supprimer", name="registration_admin.delete_organisation")
    async def org_delete(self, request: Request, org_id: FromPath[int]) -> Response:
        row = await admin.delete_organisation(org_id)
        return redirect(request, url(request, "registration_admin.organisations"), f"« {row['name']} » supprimé.")

    # -- merging duplicates (a page, a confirmation, the merge) --------------------------------
    # Hidden: whoever is not a registration manager or an administrator gets "not found".
    async def _merge_page(self, request, org_id, form, errors=None, status_code=200):
        keep, candidates = await admin.merge_candidates(org_id, form.q)
        return render(request, "registration_admin/merge.html", {
            "keep": keep, "candidates": candidates, "q": form.q, "chosen": set(form.duplicate),
            "errors": errors or {}}, status_code=status_code)

    @get("/etablissements/{org_id:int}/fusionner", name="registration_admin.merge", opt={"hidden": True})
    async def merge(self, request: Request, org_id: FromPath[int]) -> Template:
        return await self._merge_page(request, org_id, parse_form(admin.MergeForm, request.query_params))

    @get("/etablissements/{org_id:int}/fusionner/confirmer", name="registration_admin.confirm_merge",
         opt={"hidden": True})
    async def confirm_merge(self, request: Request, org_id: FromPath[int]) -> Template:
        form = parse_form(admin.MergeForm, request.query_params)
        try:
            keep, duplicates = await admin.merge_plan(org_id, form.duplicate)
        except ValidationFailed as invalid:
            return await self._merge_page(request, org_id, form, invalid.errors, status_code=422)
        moving = sum(d["requests"] for d in duplicates)
        details = [f"{moving} demande(s) d'inscription passeront sur « {keep['name']} » ({keep['postal_code']} "
                   f"{keep['city']}), qui garde son nom, son adresse et son instance de validation.",
                   *(f"« {d['name']} » ({d['postal_code']} {d['city']}) : {d['requests']} demande(s) ; il sera "
                     "marqué fusionné et ne sera plus proposé." for d in duplicates)]
        if not keep["referenced"]:
            details.append("L'établissement gardé n'est pas encore référencé : les bulletins en attente partiront "
                           "quand vous le référencerez.")
        return confirm_page(request, f"Fusionner {len(duplicates)} doublon(s) dans « {keep['name']} » ?",
                            url(request, "registration_admin.merge", org_id=org_id), button="Fusionner",
                            details=details, back_label="Revenir au choix des doublons", tone="primary",
                            fields=[("duplicate", str(d["id"])) for d in duplicates])

    @post("/etablissements/{org_id:int}/fusionner/confirmer", name="registration_admin.do_merge", opt={"hidden": True})
    async def do_merge(self, request: Request, org_id: FromPath[int]) -> Response:
        form = await read_form(request, admin.MergeForm)
        try:
            keep, duplicates, moved = await admin.merge_organisations(current_user(request), org_id, form.duplicate)
        except ValidationFailed as invalid:
            return await self._merge_page(request, org_id, form, invalid.errors, status_code=422)
        message = f"{len(duplicates)} doublon(s) fusionné(s) dans « {keep['name']} » : {moved} demande(s) déplacée(s)."
        sent = await reg.release_held_bulletins(org_id, request.app.state.redis)
        if sent:
            message += f" {sent} bulletin(s) d'inscription en attente envoyé(s) à {keep['validation_email']}."
        return redirect(request, url(request, "registration_admin.organisations"), message)

    # -- settings and tools (F5) --------------------------------------------------------------
    @get("/reglages", name="registration_admin.settings")
    async def settings_page(self, request: Request) -> Template:
        return render(request, "registration_admin/settings.html", {"values": await admin.settings(), "errors": {}})

    @post("/reglages", name="registration_admin.save_settings")
    async def settings_save(self, request: Request) -> Response:
        form = await read_form(request, admin.SettingsForm)
        try:
            await admin.save_settings(form)
        except ValidationFailed as invalid:
            return render(request, "registration_admin/settings.html", {"values": as_values(form),
                                                                        "errors": invalid.errors}, status_code=422)
        return redirect(request, url(request, "registration_admin.settings"), "Réglages enregistrés.")

    @get("/test-pdf", name="registration_admin.test_pdf")
    async def test_pdf(self) -> Response:
        pdf = await render_pdf("pdf/bulletin.html", sample_bulletin())
        return Response(content=pdf, media_type="application/pdf",
                        headers={"Content-Disposition": 'inline; filename="bulletin_inscription_test.pdf"'})

    @get("/emails", name="registration_admin.mails")
    async def mails(self, request: Request) -> Response:
        return await table_view(request, MAILS, "registration_admin/mails.html", "registration_admin/_mails.html",
                                {"url": url(request, "registration_admin.mails"), "status_labels": MAIL_STATUS_LABELS})

    @get("/emails/{mail_id:int}", name="registration_admin.mail")
    async def mail(self, request: Request, mail_id: FromPath[int]) -> Template:
        row = await _mail(mail_id)
        attachments = await MailAttachment.select(MailAttachment.id, MailAttachment.filename,
                                                  MailAttachment.content_type).where(MailAttachment.mail == mail_id)
        return render(request, "registration_admin/mail.html", {"mail": row, "attachments": attachments,
                                                                "status_labels": MAIL_STATUS_LABELS})

    @get("/emails/{mail_id:int}/pieces/{attachment_id:int}", name="registration_admin.attachment")
    async def attachment(self, mail_id: FromPath[int], attachment_id: FromPath[int]) -> Response:
        await _mail(mail_id)
        row = await MailAttachment.select().where(
            (MailAttachment.id == attachment_id) & (MailAttachment.mail == mail_id)).first()
        if row is None:
            raise NotFound("Pièce jointe introuvable.")
        return Response(content=bytes(row["content"]), media_type=row["content_type"],
                        headers={"Content-Disposition": content_disposition(row["filename"])})

    @post("/emails/{mail_id:int}/renvoyer", name="registration_admin.resend")
    async def resend(self, request: Request, mail_id: FromPath[int]) -> Response:
        await _mail(mail_id)
        back = url(request, "registration_admin.mail", mail_id=mail_id)
        if await outbox.retry_now(request.app.state.redis, mail_id):
            return redirect(request, back, "Nouvel envoi demandé.")
        return redirect(request, back, "Ce courriel est déjà envoyé, en cours d'envoi ou en attente de vérification.",
                        "info")


class RequestController(Controller):
    path = "/gestion-inscriptions/demandes"
    opt = {"roles": MANAGERS}

    @get("/", name="registration_admin.requests")
    async def index(self, request: Request) -> Response:
        return await table_view(request, REQUESTS, "registration_admin/requests.html", "registration_admin/_requests.html",
                                {"url": url(request, "registration_admin.requests"), "status_labels": reg.STATUS_LABELS,
                                 "counts": await reg.counts_by_status()})

    async def _detail(self, request, request_id, errors=None, status_code=200):
        r = await reg.request_details(request_id)
        events = await RequestEvent.select(RequestEvent.all_columns(), RequestEvent.actor.username.as_alias("actor_name")).where(
            RequestEvent.request == request_id).order_by(RequestEvent.at).order_by(RequestEvent.id)
        mails = await Mail.select(Mail.id, Mail.subject, Mail.recipients, Mail.status, Mail.created_at).where(
            Mail.group_key == reg.request_key(request_id)).order_by(Mail.id)
        action = reg.next_action(r["status"])
        confirmed = set(reg.CONFIRMED_ACTIONS)
        if action == "validate_instance" and await reg.bulletin_state(request_id) != "sent":
            confirmed.add(action)  # « BI signé » while the BI never left: asked first
        return render(request, "registration_admin/request.html", {
            "r": r, "events": events, "mails": mails, "next_action": action,
            "next_label": reg.WORKFLOW[action][2] if action else None, "open": r["status"] in reg.OPEN_STATUSES,
            "workflow": reg.WORKFLOW, "confirmed_actions": confirmed, "errors": errors or {},
            "status_labels": reg.STATUS_LABELS, "mail_status_labels": MAIL_STATUS_LABELS, "yes_no": reg.YES_NO,
        }, status_code=status_code)

    @get("/{request_id:int}", name="registration_admin.request")
    async def detail(self, request: Request, request_id: FromPath[int]) -> Template:
        return await self._detail(request, request_id)

    @get("/{request_id:int}/bulletin.pdf", name="registration_admin.bulletin")
    async def bulletin(self, request_id: FromPath[int]) -> Response:
        r = await reg.request_details(request_id)
        pdf = await render_pdf("pdf/bulletin.html", reg.bulletin_context(r))
        return Response(content=pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="bulletin_inscription_{r["reference"]}.pdf"'})

    @get("/{request_id:int}/{action:str}", name="registration_admin.confirm_action")
    async def confirm_action(self, request: Request, request_id: FromPath[int], action: FromPath[str]) -> Response:
        """Steps 8 and 10 (an account created and mailed, the final enrolment) are asked first."""
        r, question, details = await reg.confirmation_details(request_id, action)
        back = url(request, "registration_admin.request", request_id=request_id)
        if reg.next_action(r["status"]) != action:
            return redirect(request, back)
        if action == "validate_instance":  # only while the BI has not left (else NotFound above)
            return confirm_page(request, question, back, button="Confirmer : BI signé reçu, bulletin jamais parti",
                                details=details, back_label="Revenir à la demande", tone="primary",
                                fields=[("bi_never_sent", "1")])
        return confirm_page(request, question, back, button=reg.WORKFLOW[action][2], details=details,
                            back_label="Revenir à la demande", tone="primary")

    @post("/{request_id:int}/{action:str}", name="registration_admin.act")
    async def act(self, request: Request, request_id: FromPath[int], action: FromPath[str]) -> Response:
        form = await read_form(request, reg.ActionForm)
        try:
            r = await reg.apply_action(current_user(request), request_id, action, request.app.state.redis, form.reason,
                                       bi_never_sent=form.bi_never_sent)
        except ValidationFailed as invalid:
            return await self._detail(request, request_id, invalid.errors, status_code=422)
        return redirect(request, url(request, "registration_admin.request", request_id=request_id),
                        f"Demande {r['reference']} : {r['status_label']}.")


HANDLERS = [RegistrationAdminController, RequestController]
