"""Émargement (issue 22): the trainer's slot page (rotating QR code, live list, marks, closing) and
the learner's signing page (reached by the QR code or from the home page). Every form works
without JavaScript; the learner's page is light (no htmx, one small static script)."""

from __future__ import annotations

import segno
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from app.dates import date_fr
from app.http.forms import form_data
from app.http.responder import redirect, render, url, wants_fragment
from app.http.web import current_user
from app.numbers import to_int
from app.services.errors import DomainError, ValidationFailed
from app.services.certificates.common import display_code
from app.services import attendance
from app.services.signing import closing, common, learner, pad, trainer, window
from app.services.trainer_scope import slot_trainers, staff_slot
from app.settings import get_settings

LIST_POLL_SECONDS = 5


def _slot_fr(slot: dict) -> str:
    return f"{date_fr(slot['day'])}, {slot['starts']:%H:%M}–{slot['ends']:%H:%M}"


def _client(request: Request) -> str:
    """The keyed hash of this device (user agent and address): kept on the record, bound to the pass."""
    return window.client_hash(request.headers.get("user-agent", ""), request.client.host if request.client else "")


def _qr(request: Request, slot: dict, session: dict, closed: bool) -> dict:
    """The QR partial's context: the code (inline SVG) while the slot is open and not closed, and its
    session not cancelled."""
    state = window.state(slot, session["signing_grace"])
    opens, closes = window.bounds(slot, session["signing_grace"])
    cancelled = session.get("cancelled_at") is not None
    qr = {"state": state, "closed": closed, "cancelled": cancelled, "opens_fr": learner.when_fr(opens), "closes_fr": learner.when_fr(closes),
          "poll": url(request, "signing.qr", slot_id=slot["id"]),
          "refresh": url(request, "signing.trainer", slot_id=slot["id"])}
    if state == window.OPEN and not closed and not cancelled:
        target = get_settings().base_url + url(request, "signing.scan", slot_id=slot["id"],
                                                token=window.qr_token(slot["id"]))
        qr.update(url=target, svg=segno.make(target, error="m").svg_inline(omitsize=True, dark="#000", light="#fff"))
    return qr


class TrainerSigningController(Controller):
    """The slot's trainers and the managers in scope (trainer_scope.staff_slot: anyone else gets the
    same 404 as for a missing slot)."""

    path = "/creneaux/{slot_id:int}"

    async def _context(self, request: Request, slot_id: int) -> dict:
        user = current_user(request)
        slot, session, as_trainer = await staff_slot(user, slot_id)
        listing = await trainer.live_list(slot_id, session["id"], session["cancelled_at"] is not None)
        trainers = (await slot_trainers([slot_id]))[slot_id]
        return {"slot": slot, "session": session, "as_trainer": as_trainer, "slot_fr": _slot_fr(slot), "list": listing,
                "qr": _qr(request, slot, session, listing.closed), "trainers": trainers,
                "can_close": user.id in {t["id"] for t in trainers},
                "closure": await common.closure_of(slot_id) if listing.closed else None,
                "poll_seconds": LIST_POLL_SECONDS, "errors": {}, "values": {}, "reason_max": attendance.REASON_MAX}

    async def _page(self, request: Request, slot_id: int, status_code: int = 200, **extra) -> Template:
        context = await self._context(request, slot_id)
        context.update(extra)
        if context["closure"]:
            context["closure"]["closed_at_fr"] = learner.when_fr(context["closure"]["closed_at"])
            context["closure"]["display_code"] = display_code(context["closure"]["code"])
        # Live state (who has signed, the QR code of this moment): never shown again from the
        # browser's cache, the Back button included — a stale « En attente » would mislead the trainer.
        return render(request, "signing/trainer.html", context, status_code=status_code, no_store=True)

    @get("/emargement", name="signing.trainer")
    async def page(self, request: Request, slot_id: FromPath[int], excuse: FromQuery[str | None] = None) -> Template:
        """``?excuse=<enrolment>``: the « Excusé… » link of a row, that learner chosen in the excuse form."""
        return await self._page(request, slot_id, values={"enrolment": to_int(excuse, low=1) or ""},
                                focus_reason=excuse is not None)

    @get("/emargement/liste", name="signing.list")
    async def live_list(self, request: Request, slot_id: FromPath[int]) -> Template:
        if not wants_fragment(request):
            return await self._page(request, slot_id)
        slot, session, _ = await staff_slot(current_user(request), slot_id)
        listing = await trainer.live_list(slot_id, session["id"], session["cancelled_at"] is not None)
        return render(request, "signing/_list.html", {"slot": slot, "list": listing, "poll_seconds": LIST_POLL_SECONDS})

    @get("/emargement/qr", name="signing.qr")
    async def qr(self, request: Request, slot_id: FromPath[int]) -> Template:
        if not wants_fragment(request):
            return await self._page(request, slot_id)
        slot, session, _ = await staff_slot(current_user(request), slot_id)
        return render(request, "signing/_qr.html", {"qr": _qr(request, slot, session, await common.is_closed(slot_id))})

    @post("/emargement/marquer", name="signing.mark")
    async def mark(self, request: Request, slot_id: FromPath[int]) -> Response:
        user = current_user(request)
        slot, session, _ = await staff_slot(user, slot_id)
        form = await form_data(request)
        status = str(form.get("status") or "")
        reason = str(form.get("reason") or "")
        # Recorded as what happened: by one of the slot's trainers, or by a manager (who is none of them).
        by_trainer = user.id in {t["id"] for t in (await slot_trainers([slot_id]))[slot_id]}
        try:
            name = await trainer.mark(user.id, slot, session, to_int(form.get("enrolment"), low=1), status, reason,
                                      request.app.state.redis, method="trainer" if by_trainer else "manager")
        except (ValidationFailed, DomainError) as refused:
            errors = refused.errors if isinstance(refused, ValidationFailed) else {"mark": refused.message}
            return await self._page(request, slot_id, refused.status_code if refused.status_code != 404 else 422,
                                    errors=errors, values={"enrolment": form.get("enrolment"), "reason": reason})
        message = (f"{name} : présent (marqué par {'le formateur' if by_trainer else 'la gestion'})."
                   if status == "present" else f"{name} : excusé.")
        if wants_fragment(request) and form.get("from") == "list":
            listing = await trainer.live_list(slot_id, session["id"], session["cancelled_at"] is not None)
            return render(request, "signing/_list.html", {"slot": slot, "list": listing, "notice": message,
                                                          "poll_seconds": LIST_POLL_SECONDS})
        return redirect(request, url(request, "signing.trainer", slot_id=slot_id), message)

    @post("/cloturer", name="signing.close")
    async def close(self, request: Request, slot_id: FromPath[int]) -> Response:
        user = current_user(request)
        slot, session, _ = await staff_slot(user, slot_id)
        form = await form_data(request)
        certified = str(form.get("certified") or "") in ("1", "on", "yes", "true")
        try:
            done = await closing.close(user, slot, session, str(form.get("countersignature") or ""), certified,
                                       request.app.state.redis)
        except (ValidationFailed, DomainError) as refused:
            errors = refused.errors if isinstance(refused, ValidationFailed) else {"close": refused.message}
            return await self._page(request, slot_id, refused.status_code, errors=errors)
        totals = done.totals
        return redirect(request, url(request, "signing.trainer", slot_id=slot_id),
                        f"Créneau clôturé le {done.closed_at_fr} : {totals['present']} présent(s), "
                        f"{totals['absent']} absent(s), {totals['excused']} excusé(s). Code de vérification "
                        f"{display_code(done.code)}.")


class ScanController(Controller):
    """The QR code's target, public (no login needed to scan)."""

    path = "/s"
    opt = {"public": True}

    @get("/{slot_id:int}/{token:str}", name="signing.scan")
    async def scan(self, request: Request, slot_id: FromPath[int], token: FromPath[str]) -> Response:
        """A token of this slot and of the last minute: the signing page with a pass (which survives
        the login). Anything else: why, and nothing recorded."""
        problem = window.token_problem(slot_id, token)
        if problem:
            return render(request, "signing/message.html", {"title": "Code QR refusé", "message": problem},
                          status_code=400)
        return Redirect(path=url(request, "signing.page", {"p": window.make_pass(slot_id, _client(request))},
                                 slot_id=slot_id),
                        status_code=HTTP_303_SEE_OTHER)


def _signing_context(request: Request, t: learner.Target, p: str | None) -> dict:
    valid = bool(p) and window.pass_problem(t.slot["id"], p, _client(request)) is None
    return {"target": t, "slot_fr": _slot_fr(t.slot), "p": p if valid else "",
            "action": url(request, "signing.sign", slot_id=t.slot["id"])}


def _pass_refused(request: Request, t: learner.Target, p: str) -> Template | None:
    """The page saying why a pass is refused (another slot's, expired, forwarded to another device)."""
    problem = window.pass_problem(t.slot["id"], p, _client(request)) if p else None
    if problem is None:
        return None
    return render(request, "signing/page.html", {**_signing_context(request, t, None), "problem": problem},
                  status_code=400)


@get("/signer/{slot_id:int}", name="signing.page")
async def signing_page(request: Request, slot_id: FromPath[int], p: FromQuery[str | None] = None) -> Template:
    t = await learner.target(current_user(request).id, slot_id)
    return _pass_refused(request, t, p or "") or render(
        request, "signing/page.html", {**_signing_context(request, t, p), "problem": learner.problem(t)})


@post("/signer/{slot_id:int}", name="signing.sign")
async def sign(request: Request, slot_id: FromPath[int]) -> Template:
    user = current_user(request)
    t = await learner.target(user.id, slot_id)
    form = await form_data(request)
    p = str(form.get("p") or "")
    refused_pass = _pass_refused(request, t, p)
    if refused_pass is not None:
        return refused_pass
    try:
        signature = await pad.read(str(form.get("signature") or ""))
        at = await learner.sign(user.id, slot_id, signature, "qr" if p else "link", _client(request),
                                request.app.state.redis)
    except pad.BadSignature as bad:
        return render(request, "signing/page.html", {**_signing_context(request, t, p), "problem": None,
                                                     "error": bad.message}, status_code=422)
    except learner.SigningRefused as refused:
        return render(request, "signing/page.html", {**_signing_context(request, t, p), "problem": refused.message},
                      status_code=409)
    return render(request, "signing/page.html", {**_signing_context(request, t, None), "problem": None,
                                                 "done": f"Présence enregistrée, {learner.when_fr(at)}"})


HANDLERS = [TrainerSigningController, ScanController, signing_page, sign]
