"""The mails after the confirmation (F2) and the release of bulletins held for an organisation
nobody has reviewed yet.

Mail to an organisation typed by an anonymous requester ("Je n'ai pas trouvé ma collectivité")
never leaves before a manager has looked at it: the bulletin (BI) for its validating instance is
written to the outbox *held* ("En attente : établissement à vérifier"), the registration managers
get their copy at once with a word about it, and the held mail leaves — to the address the manager
has checked, possibly corrected — when they reference the organisation. A request cancelled
meanwhile drops its held mail. So the platform never sends a PDF and someone's free text to an
address nobody has reviewed.

Notifications after the confirmation are sent once: ``notified_at`` is claimed in the transaction
that writes the mails."""

from __future__ import annotations

from app import db
from app.dates import now
from app.pdf.render import render_pdf
from app.services import outbox
from app.services.registration.bulletin import bulletin_context, instance_mail_body
from app.services.registration.common import (
    BI_CATEGORY, BI_COPY_CATEGORY, NOTIFIABLE, OPEN_STATUSES, operator_addresses, operator_name, record_event,
    request_details, request_key,
)
from app.settings import get_settings
from app.tables.registration import Organisation, RegistrationRequest


async def send_notifications(request_id: int, redis) -> int:
    """After the confirmation (F2): the requester gets the code and details; the organisation's
    validating instance gets the BI as a PDF, and the operator an identical copy. Once per request,
    whoever calls it (the job, the sweep, both at once): ``notified_at`` is claimed in the
    transaction that writes the mails. Returns how many mails were written."""
    r = await request_details(request_id)
    if r["notified_at"] is not None or r["status"] not in NOTIFIABLE:
        return 0
    context = bulletin_context(r)
    pdf = await render_pdf("pdf/bulletin.html", context)
    attachment = outbox.Attachment(f"bulletin_inscription_{r['reference']}.pdf", "application/pdf", pdf)
    waiting = r["status"] == "waiting_list"
    requester_body = (
        f"Bonjour {r['first_name']},\n\nVotre adresse est confirmée. Votre demande d'inscription {r['reference']} "
        f"concerne la session {context['session']['code']} :\n{context['session']['title']}\n{context['session']['dates']}\n\n"
        + ("La session est complète : vous êtes sur liste d'attente. Nous vous écrirons si une place se libère.\n"
           if waiting else
           "Attention : votre inscription n'est pas encore validée. Votre collectivité va recevoir votre bulletin "
           "d'inscription à signer.\n"))
    instance_body = instance_mail_body(r, context, await operator_name())
    instance = r["instance_email"]
    reviewed = r["organisation_referenced"] is not False
    copy_subject = f"[Copie] Bulletin d'inscription {r['reference']} à valider"
    copy_body = instance_body
    if instance and not reviewed:
        copy_subject = f"[À vérifier] Bulletin d'inscription {r['reference']} : établissement non référencé"
        copy_body = (
            f"{instance_body}\nL'établissement « {r['organisation_name']} » a été saisi par le demandeur et n'est pas "
            f"encore référencé : le bulletin n'est pas envoyé à l'adresse qu'il a indiquée ({instance}). Vérifiez "
            f"l'établissement et son adresse dans la gestion des inscriptions :\n{get_settings().base_url}/gestion-inscriptions/"
            f"etablissements/{r['organisation']}/modifier\nDès que vous le référencez, le bulletin part à son "
            "instance de validation.\n")
    if not instance:
        note = "Aucune adresse d'instance de validation pour cet établissement."
    elif not reviewed:
        note = "Bulletin pour l'instance en attente : établissement non référencé, à vérifier."
    else:
        note = ""
    ids = []
    async with db.transaction():
        claimed = await RegistrationRequest.update({RegistrationRequest.notified_at: now()}).where(
            (RegistrationRequest.id == request_id) & RegistrationRequest.notified_at.is_null()).returning(
            RegistrationRequest.id)
        if not claimed:
            return 0
        ids.append(await outbox.queue_mail([r["email"]], f"Votre demande d'inscription {r['reference']}", requester_body,
                                           category="registration", group_key=request_key(r["id"])))
        if instance:
            mail_id = await outbox.queue_mail([instance], f"Bulletin d'inscription {r['reference']} à valider",
                                              instance_body, attachments=[attachment], category=BI_CATEGORY,
                                              group_key=request_key(r["id"]), held=not reviewed)
            if reviewed:
                ids.append(mail_id)
        operators = await operator_addresses()
        if operators:
            ids.append(await outbox.queue_mail(operators, copy_subject, copy_body, attachments=[attachment],
                                               category=BI_COPY_CATEGORY, group_key=request_key(r["id"])))
        await record_event(request_id, None, "Notifications envoyées", r["status"], r["status"], note)
    await outbox.dispatch(redis, ids)
    return len(ids)


async def release_held_bulletins(organisation_id: int, redis) -> int:
    """A manager has referenced this organisation: the BIs held for it leave now, to the address
    the organisation has now (the manager may have corrected the one the requester typed); a
    request closed meanwhile drops its mail. Returns how many left."""
    org = await Organisation.select().where(Organisation.id == organisation_id).first()
    if org is None or not org["referenced"]:
        return 0
    requests = await RegistrationRequest.select(RegistrationRequest.id, RegistrationRequest.status).where(
        RegistrationRequest.organisation == organisation_id)
    keys_open = [request_key(r["id"]) for r in requests if r["status"] in OPEN_STATUSES]
    keys_closed = [request_key(r["id"]) for r in requests if r["status"] not in OPEN_STATUSES]
    async with db.transaction():
        if keys_closed:
            await outbox.drop_held(keys_closed, "Non envoyé : la demande a été close avant la vérification de "
                                                "l'établissement.")
        released = await outbox.release_held(keys_open, [org["validation_email"]] if org["validation_email"] else [])
        status = {request_key(r["id"]): r["status"] for r in requests}
        for mail in released:
            request_id = int(mail["group_key"].split(":", 1)[1])
            sent = mail["status"] == "queued"
            await record_event(request_id, None, "Établissement vérifié : bulletin envoyé à l'instance" if sent else
                               "Établissement vérifié, sans adresse : bulletin non envoyé", status[mail["group_key"]],
                               status[mail["group_key"]], mail["recipients"])
    await outbox.dispatch(redis, [m["id"] for m in released if m["status"] == "queued"])
    return sum(1 for m in released if m["status"] == "queued")
