"""Trainers (« Formateur », issue 22): the managers' « Formateurs » page of a session (add an account,
create an external person, remove, which slots each trains) and the trainer's own view of a session
they train (participants, practical information, the attendance of their slots, the discussion).

Every form is a plain POST to the page's address (``action`` says which), answered by a redirect with a
message, or by the page again with its French messages (422) — the same with or without JavaScript.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.http.forms import as_values, form_data, read_form
from app.http.responder import redirect, render, url, wants_fragment
from app.http.web import current_user
from app.services import convocations, learner, trainers
from app.services.bpf import entry as bpf_entry
from app.services.errors import NotFound, ValidationFailed
from app.services.roles import ADMIN, GED, GET
from app.services.sessions import session_in_scope
from app.services.slots import for_session
from app.services.trainer_scope import staff_session

MANAGERS = (ADMIN, GED, GET)
ACTIONS = ("add", "create", "remove", "assign", "bpf_status")


class TrainersController(Controller):
    """« Formateurs » of a session, for its managers."""

    path = "/sessions/{session_id:int}/formateurs"
    opt = {"roles": MANAGERS}

    async def _page(self, request: Request, session: dict, values=None, errors=None, status_code=200) -> Template:
        return render(request, "trainers/manage.html", {
            "session": session, "trainers": await trainers.session_trainers(session["id"]),
            "slots": await trainers.session_slots(session["id"]), "values": values or {}, "errors": errors or {},
            "bpf_statuses": await bpf_entry.trainer_statuses(session["id"]),
            "action_url": url(request, "trainers.manage", session_id=session["id"])}, status_code=status_code)

    @get("/", name="trainers.manage")
    async def manage(self, request: Request, session_id: FromPath[int]) -> Template:
        session = await session_in_scope(current_user(request), session_id)
        return await self._page(request, session)

    @post("/", name="trainers.save")
    async def save(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await session_in_scope(user, session_id)
        action = str((await form_data(request)).get("action") or "")
        if action not in ACTIONS:
            return await self._page(request, session, errors={"__all__": "Action inconnue : rechargez la page."},
                                    status_code=422)
        form = await read_form(request, {"add": trainers.AddForm, "create": trainers.ExternalForm,
                                         "remove": trainers.RemoveForm, "assign": trainers.AssignForm,
                                         "bpf_status": bpf_entry.TrainerStatusForm}[action])
        try:
            message = await self._apply(request, user, session, action, form)
        except ValidationFailed as invalid:
            values = {**as_values(form), "action": action} if action in ("add", "create") else {}
            return await self._page(request, session, values, invalid.errors, status_code=422)
        anchor = {"assign": "#creneaux", "bpf_status": "#h-list"}.get(action, "")
        return redirect(request, url(request, "trainers.manage", session_id=session_id) + anchor, message)

    async def _apply(self, request, user, session, action, form) -> str:
        if action == "bpf_status":
            return await bpf_entry.set_trainer_status(session, form)
        if action == "add":
            account, added = await trainers.add_existing(user, session, form)
            name = f"{account['first_name']} {account['last_name']}".strip()
            return f"{name} est formateur de la session." if added else f"{name} était déjà formateur de la session."
        if action == "create":
            made = await trainers.create_external(user, session, form, request.app.state.redis)
            return (f"Compte externe {made['username']} créé pour {made['name']}, formateur de la session : "
                    "ses identifiants lui sont envoyés par courriel.")
        if action == "remove":
            trainer = await trainers.remove(user, session, form)
            return f"{trainer['name']} n'est plus formateur de la session."
        changed = await trainers.save_assignment(session, form)
        return "Formateurs des créneaux enregistrés." if changed else "Aucune modification des formateurs des créneaux."


class TrainerSessionController(Controller):
    """A session as its trainer sees it (managers in scope may open it too); nothing else is reached
    from here: anything else answers « Session introuvable. » as a missing session does."""

    path = "/formateur/sessions/{session_id:int}"

    async def _page(self, request: Request, session: dict, as_trainer: bool, values=None, errors=None,
                    status_code=200, discussion_only=False, announce="") -> Template:
        user = current_user(request)
        return render(request, "trainers/session.html", {
            "session": session, "as_trainer": as_trainer,
            **await trainers.staff_page(user, session["id"], as_trainer),
            "practical": convocations.practical(session, await for_session(session["id"])),
            "messages": await learner.messages(session["id"], limit=50) if session["discussion_block"] else [],
            "post_url": url(request, "trainers.post_message", session_id=session["id"]),
            "values": values or {}, "errors": errors or {}, "announce": announce},
            region="learner/_discussion.html" if (errors or discussion_only) else None, status_code=status_code)

    @get("/", name="trainers.session")
    async def show(self, request: Request, session_id: FromPath[int]) -> Template:
        session, as_trainer = await staff_session(current_user(request), session_id)
        return await self._page(request, session, as_trainer)

    @post("/discussion", name="trainers.post_message")
    async def post_message(self, request: Request, session_id: FromPath[int]) -> Response:
        """A message in the session's discussion, as its trainer (the learners' rules: 10 a minute)."""
        user = current_user(request)
        session, as_trainer = await staff_session(user, session_id)
        if not session["discussion_block"]:
            raise NotFound(learner.NOT_FOUND)
        form = await read_form(request, learner.MessageForm)
        try:
            await learner.post_message(request.app.state.redis, session_id, user.id, form)
        except ValidationFailed as invalid:
            return await self._page(request, session, as_trainer, as_values(form), invalid.errors, 422)
        if wants_fragment(request):
            return await self._page(request, session, as_trainer, discussion_only=True, announce="Message publié.")
        return redirect(request, url(request, "trainers.session", session_id=session_id) + "#discuter",
                        "Message publié.")


HANDLERS = [TrainersController, TrainerSessionController]
