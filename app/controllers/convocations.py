"""Convocations (issue 12, X2): « Envoyer les convocations » for a session (a job with the progress
page), one learner's convocation and invitation for the session's managers, the learner's own, and
« Annuler la session »."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.http.forms import read_form
from app.http.responder import confirm_page, private_download, redirect, render, url
from app.dates import today
from app.http.web import current_user
from app.services import convocations, progress, sessions
from app.services.errors import DomainError
from app.services.roles import ADMIN, GED, GET

MANAGERS = (ADMIN, GED, GET)

ICS = "text/calendar"  # Litestar adds "; charset=utf-8" to a text/ type


@dataclass
class SendForm:
    # "new": only the learners never convoked (the default); "all": every active learner without the
    # convocation of their current SEQUENCE. Either way a second click or a second tab mails no one twice.
    who: str = "new"


class SessionConvocationsController(Controller):
    path = "/sessions/{session_id:int}"
    opt = {"roles": MANAGERS}

    @get("/convocations", name="convocations.session")
    async def page(self, request: Request, session_id: FromPath[int]) -> Template:
        session = await sessions.session_in_scope(current_user(request), session_id)
        return render(request, "convocations/send.html", {
            "session": session, "summary": await convocations.summary(session_id), "values": {"who": "new"}})

    @post("/convocations", name="convocations.send")
    async def send(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        form = await read_form(request, SendForm)
        back = url(request, "convocations.session", session_id=session_id)
        try:
            queued = await convocations.queue_for_session(session, only_new=form.who != "all")
        except DomainError as refused:
            return redirect(request, back, refused.message, "error")
        if not queued:
            return redirect(request, back, "Aucune convocation à envoyer : chaque apprenant inscrit a déjà reçu sa "
                            "convocation à jour, ou elle est en cours d'envoi.", "info")
        redis = request.app.state.redis
        token = secrets.token_urlsafe(16)
        await progress.start(redis, token, user.id, f"Convocations de la session {session['code']} ({queued})",
                             total=queued)
        await progress.update(redis, token, result_url=url(request, "sessions.show", session_id=session_id),
                              result_label="Revenir à la session")
        await convocations.request_build(redis, session_id, f"send:{token}", token)
        return redirect(request, url(request, "jobs.show", token=token))

    @get("/convocations/{user_id:int}/convocation.pdf", name="convocations.learner_pdf")
    async def learner_pdf(self, request: Request, session_id: FromPath[int], user_id: FromPath[int]) -> Response:
        session = await sessions.session_in_scope(current_user(request), session_id)
        f = await convocations.for_manager(session, user_id)
        return private_download(await convocations.render_pdf(f), convocations.pdf_filename(f))

    @get("/convocations/{user_id:int}/invitation.ics", name="convocations.learner_ics")
    async def learner_ics(self, request: Request, session_id: FromPath[int], user_id: FromPath[int]) -> Response:
        session = await sessions.session_in_scope(current_user(request), session_id)
        f = await convocations.for_manager(session, user_id)
        return private_download(convocations.invitation_ics(f, publish=True), convocations.ics_filename(f), ICS)

    @get("/annuler", name="sessions.confirm_cancel")
    async def confirm_cancel(self, request: Request, session_id: FromPath[int]) -> Template:
        session = await sessions.session_in_scope(current_user(request), session_id)
        return confirm_page(
            request, f"Annuler la session « {session['full_name']} » ?",
            url(request, "sessions.settings", session_id=session_id), button="Annuler la session",
            back_label="Ne pas annuler", details=[
                "La session est marquée « annulée » ; elle n'est pas supprimée : inscriptions, progression et "
                "attestations restent enregistrées.",
                "Elle est terminée : aucun courriel n'est envoyé." if session["end_date"] < today() else
                "Chaque apprenant qui a reçu une convocation reçoit un courriel d'annulation qui retire la "
                "formation de son agenda.",
                "Plus personne ne peut y être inscrit. Cette action est définitive."])

    @post("/annuler", name="sessions.cancel")
    async def cancel(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)  # out of scope: 404, like missing
        back = url(request, "sessions.show", session_id=session_id)
        try:
            await sessions.cancel_session(user, session_id)
        except DomainError as refused:
            return redirect(request, back, refused.message, "error")
        await convocations.dispatch_pending(request.app.state.redis, [session_id])
        if session["end_date"] < today():
            return redirect(request, back, "Session annulée. Elle était terminée : aucun courriel n'est envoyé.")
        return redirect(request, back, "Session annulée : les apprenants convoqués sont prévenus par courriel.")


@get("/mes-sessions/{session_id:int}/convocation.pdf", name="convocations.mine_pdf")
async def my_convocation(request: Request, session_id: FromPath[int]) -> Response:
    """The learner's own convocation (before the session starts too); anyone else's is « introuvable »."""
    f = await convocations.for_learner(current_user(request).id, session_id)
    return private_download(await convocations.render_pdf(f), convocations.pdf_filename(f))


@get("/mes-sessions/{session_id:int}/invitation.ics", name="convocations.mine_ics")
async def my_invitation(request: Request, session_id: FromPath[int]) -> Response:
    f = await convocations.for_learner(current_user(request).id, session_id)
    return private_download(convocations.invitation_ics(f, publish=True), convocations.ics_filename(f), ICS)


HANDLERS = [SessionConvocationsController, my_convocation, my_invitation]
