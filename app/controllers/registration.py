"""Inscription en ligne (seed 003, SPEC F1-F2): the public wizard, one step per screen, the
confirmation link, and "Suivre ou annuler une demande"."""

from __future__ import annotations

import secrets

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from app.services import outbox, registration as reg
from app.services.errors import ValidationFailed
from app.tables.registration import Organisation
from app.http.responder import render
from app.http.web import current_user
from app.http.responder import redirect
from app.http.forms import form_data

COOKIE = "tremplin_draft"
DRAFT_DAYS = 30


def _draft_cookie(value: str) -> Cookie:
    return Cookie(key=COOKIE, value=value, max_age=DRAFT_DAYS * 86400, httponly=True, samesite="lax", path="/inscription")


async def _context(request: Request, draft: dict, step: int, values: dict | None = None, errors: dict | None = None,
                   q: str = "") -> dict:
    session = await reg.open_session_by_id(draft["session"])
    context = {"draft": draft, "step": step, "steps": reg.STEPS, "session": session, "errors": errors or {},
               "values": values if values is not None else draft, "q": q}
    if step == 2:
        context["fundings"] = await reg.choices("funding_method")
    elif step == 3:
        context["organisations"] = await reg.search_organisations(q)
        if draft["organisation"]:
            context["chosen_organisation"] = await Organisation.select(Organisation.name).where(
                Organisation.id == draft["organisation"]).first()
    elif step == 5:
        context["mandates"] = await reg.choices("candidate_state")
    elif step == 7:
        context["disability_email"] = await outbox.get_setting("disability_email")
    elif step == 9:
        context["cgv_text"] = await outbox.get_setting("cgv_text")
    return context


class RegistrationController(Controller):
    path = "/inscription"
    opt = {"public": True}

    @get(["/", "/{code:str}"])
    async def start(self, request: Request, code: FromPath[str | None] = None) -> Template | Response:
        draft = await reg.draft_for(request.cookies.get(COOKIE))
        session = None
        error = None
        if code:
            try:
                session = await reg.open_session(code)
            except reg.RegistrationClosed as closed:
                error = closed.message
        return render(request, "registration/start.html", {"code": code or "", "session": session, "error": error,
                                                            "draft": draft, "user": current_user(request)})

    @post("/")
    async def choose(self, request: Request) -> Response:
        data = await form_data(request)
        code = str(data.get("code", "")).strip().upper()
        action = data.get("action", "new")
        if action == "follow":
            return redirect(request, "/inscription/suivi")
        if action == "resume":
            draft = await reg.draft_for(request.cookies.get(COOKIE))
            if draft:
                return redirect(request, f"/inscription/etape/{draft['step']}")
        try:
            session = await reg.open_session(code)
        except reg.RegistrationClosed as closed:
            return render(request, "registration/start.html", {"code": code, "session": None, "error": closed.message,
                                                                "draft": None, "user": current_user(request)},
                          status_code=422)
        user = current_user(request)
        if action == "login" and user is None:
            return redirect(request, f"/connexion?next=/inscription/{code}")
        key = request.cookies.get(COOKIE) or secrets.token_urlsafe(24)
        await reg.start_draft(key, session, user)
        response = redirect(request, "/inscription/etape/2")
        response.cookies.append(_draft_cookie(key))
        return response

    async def _draft(self, request: Request):
        return await reg.draft_for(request.cookies.get(COOKIE))

    @get("/etape/{step:int}")
    async def step_page(self, request: Request, step: FromPath[int], q: FromQuery[str | None] = None) -> Response:
        draft = await self._draft(request)
        if draft is None:
            return redirect(request, "/inscription", "Votre demande en cours a expiré ou a été envoyée : recommencez en "
                                                     "saisissant le code de la session.", "info")
        step = min(max(step, 2), draft["step"], 9)
        return render(request, "registration/wizard.html", await _context(request, draft, step, q=q or ""),
                      region="registration/_wizard.html")

    @post("/etape/{step:int}")
    async def step_post(self, request: Request, step: FromPath[int]) -> Response:
        draft = await self._draft(request)
        if draft is None:
            return redirect(request, "/inscription", "Votre demande en cours a expiré ou a été envoyée.", "info")
        data = await form_data(request)
        go = data.get("go", "next")
        if go == "cancel":
            await reg.cancel_draft(draft)
            response = redirect(request, "/inscription", "Votre demande a été annulée.", "info")
            response.cookies.append(Cookie(key=COOKIE, value="", max_age=0, path="/inscription"))
            return response
        if go == "previous":
            return redirect(request, f"/inscription/etape/{max(2, step - 1)}")
        if go == "search":
            return redirect(request, f"/inscription/etape/3?q={data.get('q', '')}")
        step = min(max(step, 2), draft["step"], 9)
        try:
            next_step = await reg.save_step(draft, step, data)
            if step == 9:
                draft = await self._draft(request)
                submitted = await reg.submit(draft, request.app.state.redis)
                response = redirect(request, "/inscription/envoyee")
                request.set_session({**(request.session or {}), "last_request": submitted["reference"]})
                response.cookies.append(Cookie(key=COOKIE, value="", max_age=0, path="/inscription"))
                return response
        except ValidationFailed as invalid:
            draft = await self._draft(request)
            return render(request, "registration/wizard.html",
                          await _context(request, draft, step, {**draft, **data}, invalid.errors),
                          region="registration/_wizard.html", status_code=422)
        return redirect(request, f"/inscription/etape/{next_step}")

    @get("/envoyee")
    async def sent(self, request: Request) -> Template:
        reference = (request.session or {}).get("last_request", "")
        return Template("registration/sent.html", context={"reference": reference})

    @get("/confirmer/{token:str}")
    async def confirm(self, request: Request, token: FromPath[str]) -> Template:
        try:
            r = await reg.confirm(token, request.app.state.redis)
        except reg.LinkProblem as problem:
            return Template("registration/link_problem.html", context={"message": problem.message}, status_code=400)
        return Template("registration/confirmed.html", context={"request_row": r})

    @post("/nouveau-lien")
    async def new_link(self, request: Request) -> Response:
        data = await form_data(request)
        await reg.resend_confirmation(str(data.get("email", "")), str(data.get("reference", "")), request.app.state.redis)
        return redirect(request, "/inscription", "Si une demande en attente correspond, un nouveau lien vient de vous "
                                                 "être envoyé par courriel.", "info")

    @get("/suivi")
    async def follow_form(self) -> Template:
        return Template("registration/follow.html", context={})

    @post("/suivi")
    async def follow_send(self, request: Request) -> Response:
        data = await form_data(request)
        mail_id = await reg.send_follow_link(str(data.get("email", "")), str(data.get("reference", "")))
        if mail_id:
            await outbox.dispatch(request.app.state.redis, [mail_id])
        return redirect(request, "/inscription", "Si une demande correspond à cette adresse et cette référence, un lien "
                                                 "de suivi vient de vous être envoyé par courriel.", "info")

    @get("/suivi/{token:str}")
    async def follow(self, token: FromPath[str]) -> Template:
        try:
            r = await reg.followed_request(token)
        except reg.LinkProblem as problem:
            return Template("registration/link_problem.html", context={"message": problem.message}, status_code=400)
        return Template("registration/followed.html", context={"r": r, "token": token,
                                                               "can_cancel": r["status"] in reg.OPEN_STATUSES})

    @post("/suivi/{token:str}/annuler")
    async def follow_cancel(self, request: Request, token: FromPath[str]) -> Response:
        try:
            await reg.cancel_by_requester(token, request.app.state.redis)
        except reg.LinkProblem as problem:
            return Template("registration/link_problem.html", context={"message": problem.message}, status_code=400)
        return redirect(request, f"/inscription/suivi/{token}", "Votre demande est annulée.")


HANDLERS = [RegistrationController]
