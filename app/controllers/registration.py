"""Inscription en ligne (seed 003, SPEC F1-F2): the public wizard, one step per screen, the
confirmation link, and "Suivre ou annuler une demande".

The URLs are those of the mails already sent (confirmation and follow links): keep them.

Anonymous writes are rate-limited per client address (app/services/ratelimit.py): new drafts (also
per draft cookie; the address's ceiling is a setting), organisations typed by a requester, the mails
a visitor can ask for (also per recipient, app/services/registration/common.py), and the sessions
created for visitors without a session cookie (the handlers marked ``opt={"session": True}`` write
one with a flash message; the GET pages never do; the last step's, the reference of the request
sent, is counted with its draft). Past a limit: the French 429 page, and nothing done.
"""

from __future__ import annotations

import hashlib
import secrets

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from app.http.forms import as_values, parse_form, read_form
from app.http.responder import confirm_page, redirect, render, url
from app.http.web import current_user, rate_limit
from app.services import outbox, registration as reg
from app.services.errors import ValidationFailed
from app.services.ratelimit import Limit
from app.settings import get_settings
from app.tables.registration import Organisation

BASE = "/inscription"  # in the mails already sent: keep it
COOKIE = "tremplin_draft"
DRAFT_DAYS = 30
SESSION_COOKIE = "session"  # the server-side session's cookie (app/asgi.py SessionConfig key)
# New drafts, per draft cookie (a visitor clicking « Nouvelle demande » again and again) and per
# client address, whose ceiling is a setting (REGISTRATION_DRAFTS_PER_ADDRESS, README): a town hall
# registering its council from one office, or a training day on the venue's Wi-Fi, share one
# address. The mails a draft leads to are capped per recipient (reg.RECIPIENT_MAILS).
NEW_DRAFTS = Limit("registration-draft", 30, 3600)


def drafts_per_address() -> Limit:
    return Limit("registration-draft-address", get_settings().registration_drafts_per_address, 3600)


NEW_ORGANISATIONS = Limit("registration-organisation", 10, 3600)
MAIL_REQUESTS = Limit("registration-mail", 10, 3600)
NEW_SESSIONS = Limit("anonymous-session", 20, 600)
# « Recevoir un lien pour reprendre »: per draft, on top of MAIL_REQUESTS per address.
RESUME_LINKS = Limit("registration-resume", 3, 3600)
EXPIRED = ("Votre demande en cours a expiré ou a été envoyée : recommencez en saisissant le code de la "
           "session.")


def _draft_cookie(value: str) -> Cookie:
    return Cookie(key=COOKIE, value=value, max_age=DRAFT_DAYS * 86400, httponly=True, samesite="lax", path=BASE)


def _drop_draft_cookie() -> Cookie:
    return Cookie(key=COOKIE, value="", max_age=0, path=BASE)


async def _creating_session(request: Request) -> None:
    """About to write the session: for a visitor who has none yet, that creates one in Redis,
    counted per address."""
    if current_user(request) is None and SESSION_COOKIE not in request.cookies:
        await rate_limit(request, NEW_SESSIONS)


async def _new_sessions(request: Request) -> None:
    if request.route_handler.opt.get("session"):
        await _creating_session(request)


async def _context(request: Request, draft: dict, step: int, values: dict | None = None, errors: dict | None = None,
                   q: str = "") -> dict:
    user = current_user(request)
    session = await reg.open_session_by_id(draft["session"])
    step_url = url(request, "registration.step", step=step)
    context = {"draft": draft, "step": step, "steps": reg.STEPS, "session": session, "errors": errors or {},
               "values": values if values is not None else reg.prefilled(draft, user), "q": q,
               "user": user, "login_url": url(request, "login", query={"next": step_url}),
               "operator": await reg.operator_name()}
    if step == 2:
        context["fundings"] = await reg.choices("funding_method")
    elif step == 3:
        context["organisations"] = await reg.search_organisations(q)
        context["pending_mark"] = reg.PENDING_MARK
        if draft["organisation"]:
            context["chosen_organisation"] = await Organisation.select(Organisation.name, Organisation.referenced).where(
                Organisation.id == draft["organisation"]).first()
        if errors and "org_match" in errors:
            typed = context["values"]
            context["close_match"] = await reg.close_organisation(
                typed.get("org_name", ""), typed.get("org_postal_code", ""), typed.get("org_city", ""),
                exclude=draft["organisation"])
    elif step == 5:
        context["mandates"] = await reg.choices("candidate_state")
    elif step == 7:
        context["disability_email"] = await outbox.get_setting("disability_email")
    elif step == 9:
        context["cgv_text"] = await outbox.get_setting("cgv_text")
    # Once the e-mail step is done: « Recevoir un lien pour reprendre » (finish on another device).
    context["resume_offer"] = bool(draft["email"]) and draft["step"] > 4
    return context


class RegistrationController(Controller):
    path = BASE
    opt = {"public": True}
    before_request = _new_sessions

    async def _draft(self, request: Request) -> dict | None:
        return await reg.draft_for(request.cookies.get(COOKIE))

    def _start_page(self, request: Request, code: str, session: dict | None, error: str | None, draft: dict | None,
                    notice: str | None = None, status_code: int = 200) -> Template:
        return render(request, "registration/start.html", {
            "code": code, "session": session, "error": error, "draft": draft, "user": current_user(request),
            "notice": notice, "resume_step": reg.STEPS[draft["step"] - 1] if draft else None}, status_code=status_code)

    @get(["/", "/{code:str}"], name="registration.start")
    async def start(self, request: Request, code: FromPath[str | None] = None,
                    notice: FromQuery[str | None] = None) -> Template:
        draft = await self._draft(request)
        if not code and draft:
            code = draft["session_code"] or ""
        session = error = None
        if code:
            try:
                session = await reg.open_session(code)
            except reg.RegistrationClosed as closed:
                error = closed.message
        # A GET never writes the session (a flash would create one for every passing robot).
        return self._start_page(request, code or "", session, error, draft, EXPIRED if notice == "expired" else None)

    @post("/", name="registration.choose")
    async def choose(self, request: Request) -> Response:
        form = await read_form(request, reg.StartForm)
        code = form.code.upper()
        if form.action == "follow":
            return redirect(request, url(request, "registration.follow_form"))
        draft = await self._draft(request)
        user = current_user(request)
        if form.action == "resume" and draft:
            # Back to the draft where it was left (another session code: the answers follow).
            if code and code != draft["session_code"]:
                try:
                    await reg.move_draft(draft, await reg.open_session(code))
                except reg.RegistrationClosed as closed:
                    return self._start_page(request, code, None, closed.message, draft, status_code=422)
            return redirect(request, url(request, "registration.step", step=draft["step"]))
        try:
            session = await reg.open_session(code)
        except reg.RegistrationClosed as closed:
            return self._start_page(request, code, None, closed.message, draft, status_code=422)
        key = request.cookies.get(COOKIE) or secrets.token_urlsafe(24)
        await rate_limit(request, NEW_DRAFTS, key="draft:" + hashlib.sha256(key.encode()).hexdigest()[:32])
        await rate_limit(request, drafts_per_address())
        await reg.start_draft(key, session, user)
        target = url(request, "registration.step", step=2)
        if form.action == "login" and user is None:
            # "J'ai déjà un compte": log in, then back to the wizard (the draft is in the cookie).
            target = url(request, "login", query={"next": target})
        response = redirect(request, target)
        response.cookies.append(_draft_cookie(key))
        return response

    @get("/etape/{step:int}", name="registration.step")
    async def step_page(self, request: Request, step: FromPath[int], q: FromQuery[str | None] = None) -> Response:
        draft = await self._draft(request)
        if draft is None:
            return redirect(request, url(request, "registration.start", query={"notice": "expired"}))
        step = min(max(step, 2), draft["step"], 9)
        return render(request, "registration/wizard.html", await _context(request, draft, step, q=q or ""),
                      region="registration/_wizard.html")

    @post("/etape/{step:int}", name="registration.step_save")
    async def step_post(self, request: Request, step: FromPath[int]) -> Response:
        draft = await self._draft(request)
        if draft is None:
            return redirect(request, url(request, "registration.start", query={"notice": "expired"}))
        posted = await request.form()
        nav = parse_form(reg.Navigation, posted)
        if nav.go == "cancel":
            # "Annuler" asks first (the confirmation page works without JavaScript).
            return redirect(request, url(request, "registration.confirm_cancel"))
        step = min(max(step, 2), draft["step"], 9)
        if nav.go == "previous":
            if step <= 2:
                return redirect(request, url(request, "registration.start", code=draft["session_code"]))
            return redirect(request, url(request, "registration.step", step=step - 1))
        if nav.go == "search":
            return redirect(request, url(request, "registration.step", step=3, query={"q": nav.q}))
        form = parse_form(reg.STEP_FORMS[step], posted)
        try:
            if step == 3 and form.not_found:
                await rate_limit(request, NEW_ORGANISATIONS)
            # Step 9 writes the session (the reference of the request, for the next page): not
            # counted per address, the draft was (a training day's visitors share one address).
            next_step = await reg.save_step(draft, step, form)
            if step == 9:
                draft = await self._draft(request)
                submitted = await reg.submit(draft, request.app.state.redis, current_user(request))
                response = redirect(request, url(request, "registration.sent"))
                request.set_session({**(request.session or {}), "last_request": submitted["reference"]})
                response.cookies.append(_drop_draft_cookie())
                return response
        except ValidationFailed as invalid:
            draft = await self._draft(request)
            return render(request, "registration/wizard.html",
                          await _context(request, draft, step, {**reg.prefilled(draft, current_user(request)),
                                                                **as_values(form)}, invalid.errors),
                          region="registration/_wizard.html", status_code=422)
        return redirect(request, url(request, "registration.step", step=next_step))

    @get("/annuler", name="registration.confirm_cancel")
    async def confirm_cancel(self, request: Request) -> Response:
        draft = await self._draft(request)
        if draft is None:
            return redirect(request, url(request, "registration.start", query={"notice": "expired"}))
        return confirm_page(request, "Abandonner votre demande d'inscription en cours ?",
                            url(request, "registration.step", step=draft["step"]), button="Abandonner ma demande",
                            back_label="Non, revenir à ma demande",
                            details=["Les réponses déjà saisies seront effacées ; rien n'a encore été envoyé."])

    @post("/annuler", name="registration.cancel", opt={"session": True})
    async def cancel(self, request: Request) -> Response:
        draft = await self._draft(request)
        if draft is not None:
            await reg.cancel_draft(draft)
        response = redirect(request, url(request, "registration.start"), "Votre demande a été annulée.", "info")
        response.cookies.append(_drop_draft_cookie())
        return response

    @get("/envoyee", name="registration.sent")
    async def sent(self, request: Request) -> Template:
        reference = (request.session or {}).get("last_request", "")
        return render(request, "registration/sent.html", {"reference": reference})

    @get("/confirmer/{token:str}", name="registration.confirm")
    async def confirm(self, request: Request, token: FromPath[str]) -> Template:
        try:
            r = await reg.confirm(token, request.app.state.redis)
        except reg.LinkProblem as problem:
            return render(request, "registration/link_problem.html", {"message": problem.message}, status_code=400)
        # A bulletin for an organisation the requester typed waits for a manager's review.
        pending = bool(r["organisation"]) and await Organisation.exists().where(
            (Organisation.id == r["organisation"]) & (Organisation.referenced == False))  # noqa: E712
        return render(request, "registration/confirmed.html", {"request_row": r, "organisation_pending": pending})

    @post("/nouveau-lien", name="registration.new_link", opt={"session": True})
    async def new_link(self, request: Request) -> Response:
        form = await read_form(request, reg.FollowForm)
        await rate_limit(request, MAIL_REQUESTS)
        await reg.resend_confirmation(form.email, form.reference, request.app.state.redis)
        return redirect(request, url(request, "registration.start"), "Si une demande en attente correspond, un nouveau "
                                                                     "lien vient de vous être envoyé par courriel"
                                                                     f"{reg.RECIPIENT_CAP_NOTE}.", "info")

    # -- resume the draft on another device (issue 20) --------------------------------------------
    @post("/reprendre", name="registration.resume_send", opt={"session": True})
    async def resume_send(self, request: Request) -> Response:
        draft = await self._draft(request)
        if draft is None:
            return redirect(request, url(request, "registration.start", query={"notice": "expired"}))
        back = url(request, "registration.step", step=draft["step"])
        if not draft["email"] or draft["step"] <= 4:
            return redirect(request, back, "Indiquez d'abord votre adresse de courriel (étape 4).", "error")
        await rate_limit(request, MAIL_REQUESTS)
        await rate_limit(request, RESUME_LINKS, key=f"draft:{draft['id']}")
        # One more mail a visitor causes: the per-recipient cap applies (several drafts, one mailbox).
        if not await reg.may_mail(request.app.state.redis, draft["email"]):
            return redirect(request, back, reg.RECIPIENT_CAPPED, "error")
        mail_id = await reg.send_resume_link(draft)
        await outbox.dispatch(request.app.state.redis, [mail_id])
        return redirect(request, back, f"Un lien pour reprendre votre demande vient d'être envoyé à {draft['email']} "
                                       "(valable 7 jours). Ouvrez-le sur l'appareil où vous voulez la terminer.", "info")

    @get("/reprendre/{token:str}", name="registration.resume")
    async def resume_page(self, request: Request, token: FromPath[str]) -> Template:
        """A page and a button, not a GET that acts: a mail scanner following the link takes nothing."""
        try:
            draft = await reg.resumable_draft(token)
        except reg.LinkProblem as problem:
            return render(request, "registration/resume.html", {"problem": problem.message}, status_code=400)
        return render(request, "registration/resume.html", {"draft": draft, "token": token,
                                                             "resume_step": reg.STEPS[draft["step"] - 1]})

    @post("/reprendre/{token:str}", name="registration.resume_take")
    async def resume_take(self, request: Request, token: FromPath[str]) -> Response:
        try:
            key, draft = await reg.take_over_draft(token)
        except reg.LinkProblem as problem:
            return render(request, "registration/resume.html", {"problem": problem.message}, status_code=400)
        response = redirect(request, url(request, "registration.step", step=draft["step"]))
        response.cookies.append(_draft_cookie(key))
        return response

    @get("/suivi", name="registration.follow_form")
    async def follow_form(self, request: Request) -> Template:
        return render(request, "registration/follow.html", {})

    @post("/suivi", name="registration.follow_send", opt={"session": True})
    async def follow_send(self, request: Request) -> Response:
        form = await read_form(request, reg.FollowForm)
        await rate_limit(request, MAIL_REQUESTS)
        mail_id = await reg.send_follow_link(form.email, form.reference, request.app.state.redis)
        if mail_id:
            await outbox.dispatch(request.app.state.redis, [mail_id])
        return redirect(request, url(request, "registration.start"), "Si une demande correspond à cette adresse et "
                                                                     "cette référence, un lien de suivi vient de vous "
                                                                     f"être envoyé par courriel{reg.RECIPIENT_CAP_NOTE}.",
                        "info")

    @get("/suivi/{token:str}", name="registration.follow")
    async def follow(self, request: Request, token: FromPath[str]) -> Template:
        try:
            r = await reg.followed_request(token)
        except reg.LinkProblem as problem:
            return render(request, "registration/link_problem.html", {"message": problem.message}, status_code=400)
        return render(request, "registration/followed.html", {"r": r, "token": token,
                                                              "can_cancel": r["status"] in reg.OPEN_STATUSES})

    @get("/suivi/{token:str}/annuler", name="registration.follow_confirm_cancel")
    async def follow_confirm_cancel(self, request: Request, token: FromPath[str]) -> Template:
        try:
            r = await reg.followed_request(token)
        except reg.LinkProblem as problem:
            return render(request, "registration/link_problem.html", {"message": problem.message}, status_code=400)
        back = url(request, "registration.follow", token=token)
        if r["status"] not in reg.OPEN_STATUSES:
            return redirect(request, back)
        details = ["Votre place est libérée ; vous recevrez une confirmation par courriel.",
                   f"{reg.capfirst(await reg.operator_name())} en est informé, ainsi que votre collectivité si elle a "
                   "reçu votre bulletin d'inscription."]
        return confirm_page(request, f"Annuler votre demande d'inscription {r['reference']} à la session "
                                     f"{r['session_code']} ?", back, button="Annuler ma demande",
                            back_label="Non, garder ma demande", details=details)

    @post("/suivi/{token:str}/annuler", name="registration.follow_cancel", opt={"session": True})
    async def follow_cancel(self, request: Request, token: FromPath[str]) -> Response:
        try:
            await reg.cancel_by_requester(token, request.app.state.redis)
        except reg.LinkProblem as problem:
            return render(request, "registration/link_problem.html", {"message": problem.message}, status_code=400)
        return redirect(request, url(request, "registration.follow", token=token), "Votre demande est annulée.")


HANDLERS = [RegistrationController]
