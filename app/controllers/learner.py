"""The learner's space (SPEC D1): a session's page, its activities, « J'ai terminé », quizzes, files
and the « Discuter » block. Access is decided by the enrolment (learner.learner_session): anything a
learner may not see answers like a missing session. Managers read and moderate the discussion from
their side (sessions.discussion)."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.http.forms import as_values, read_form
from app.http.responder import content_disposition, redirect, render, streamed, url, wants_fragment
from app.http.web import current_user
from app.lists._common import int_or_none
from app.services import certificates, convocations, files, learner, slots, trainers
from app.services.errors import NotFound, ValidationFailed
from app.services.roles import ADMIN, GED, GET
from app.services.sessions import session_in_scope

MANAGERS = (ADMIN, GED, GET)
# Posting in a discussion: enough for a lively exchange, not for a flood.


async def _session_page(request: Request, session: dict, values=None, errors=None, status_code=200,
                        discussion_only: bool = False, announce: str = "") -> Template:
    kinds = await certificates.for_enrolment_kinds(session["enrolment_id"])
    return render(request, "learner/session.html", {
        "session": session,
        "activities": await learner.activities_with_state(session["id"], session["enrolment_id"]),
        "messages": await learner.messages(session["id"], limit=50) if session["discussion_block"] else [],
        "post_url": url(request, "learner.post_message", session_id=session["id"]),
        "values": values or {}, "errors": errors or {}, "announce": announce,
        # D3: « Attestation de fin de formation » once complete, and the certificat de réalisation (issue 22)
        # once issued (hidden before).
        "certificate": kinds.get("completion"), "realisation": kinds.get("realisation"), "session_id": session["id"],
        # Issue 12: the session's time slots, place and contact, as on the convocation.
        "practical": convocations.practical(session, await slots.for_session(session["id"])),
        # Issue 22: who trains it, as the convocation names them.
        "trainers": (await trainers.session_trainer_names([session["id"]])).get(session["id"], [])},
        region="learner/_discussion.html" if (errors or discussion_only) else None,
        status_code=status_code)


class LearnerController(Controller):
    path = "/mes-sessions/{session_id:int}"

    @get("/", name="learner.session")
    async def session(self, request: Request, session_id: FromPath[int]) -> Template:
        session = await learner.learner_session(current_user(request).id, session_id)
        return await _session_page(request, session)

    async def _activity(self, request, session_id, activity_id):
        session = await learner.learner_session(current_user(request).id, session_id)
        return session, await learner.session_activity(session_id, activity_id)

    async def _activity_page(self, request, session, activity, errors=None, status_code=200, region=None,
                             announce=""):
        questions = learner.load_quiz(activity["quiz"]) if activity["kind"] == "quiz" else []
        attempts = await learner.attempts(session["enrolment_id"], activity["id"]) if activity["kind"] == "quiz" else []
        return render(request, "learner/activity.html", {
            "session": session, "activity": activity,
            "content": learner.clean_html(activity["content"]) if activity["kind"] == "page" else "",
            "completed_at": await learner.completion_of(session["enrolment_id"], activity["id"]),
            "progress": await learner.progress_block(session["enrolment_id"]),
            "questions": questions, "attempts": attempts,
            # Issue 20 point 14: after a failed attempt, which questions were wrong.
            "feedback": learner.feedback(questions, attempts[0]) if attempts and not attempts[0]["passed"] else [],
            "started": int(datetime.now(timezone.utc).timestamp()), "errors": errors or {},
            "activities": await learner.activities_with_state(session["id"], session["enrolment_id"]),
            "announce": announce,  # read out after an htmx swap (static/app.js)
        }, region=region, status_code=status_code)

    @get("/activites/{activity_id:int}", name="learner.activity")
    async def activity(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Template:
        session, activity = await self._activity(request, session_id, activity_id)
        if activity["kind"] == "forum":
            await learner.open_activity(session, activity)
            return redirect(request, url(request, "learner.session", session_id=session_id) + "#discuter")
        await learner.open_activity(session, activity)
        if activity["kind"] == "survey":  # a questionnaire is answered on its own page (app/controllers/surveys.py)
            return redirect(request, url(request, "surveys.learner", session_id=session_id, activity_id=activity_id))
        return await self._activity_page(request, session, activity)

    @post("/activites/{activity_id:int}/terminer", name="learner.complete")
    async def complete(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        session, activity = await self._activity(request, session_id, activity_id)
        done = (await request.form()).get("done", "1") != "0"
        try:
            await learner.mark_done(session, activity, done)
        except ValidationFailed as invalid:
            return await self._activity_page(request, session, activity, invalid.errors, 422)
        message = "Activité marquée terminée." if done else "Activité marquée non terminée."
        if wants_fragment(request):
            return await self._activity_page(request, session, activity, region="learner/_state.html",
                                             announce=message)
        return redirect(request, url(request, "learner.activity", session_id=session_id, activity_id=activity_id),
                        message)

    @post("/activites/{activity_id:int}/test", name="learner.quiz")
    async def quiz(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        session, activity = await self._activity(request, session_id, activity_id)
        form = await request.form()
        answers: dict[int, list[int]] = {}
        # Forged values (not numbers, "²", a date beyond time_t) are ignored, never a 500.
        for key in form:
            index = int_or_none(key[1:]) if key.startswith("q") else None
            if index is not None:
                answers[index] = [c for c in (int_or_none(v) for v in form.getall(key)) if c is not None]
        started = int_or_none(form.get("started"))
        started_at = datetime.fromtimestamp(started, timezone.utc) if started and 0 < started < 2**32 else None
        try:
            result = await learner.submit_quiz(session, activity, answers, started_at)
        except ValidationFailed as invalid:
            return await self._activity_page(request, session, activity, invalid.errors, 422)
        back = url(request, "learner.activity", session_id=session_id, activity_id=activity_id)
        if result["passed"]:
            return redirect(request, back, f"Test réussi : {result['score']} % (seuil {activity['pass_mark']} %).")
        return redirect(request, back, f"Test non réussi : {result['score']} % (seuil {activity['pass_mark']} %). "
                                       "Relisez le cours et réessayez.", "error")

    @get("/activites/{activity_id:int}/fichier", name="learner.file", opt={"no_compression": True})
    async def file(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        _, activity = await self._activity(request, session_id, activity_id)
        if not activity["file"]:
            raise NotFound("Fichier introuvable.")
        return await serve_file(request, activity["file"])

    @post("/discussion", name="learner.post_message")
    async def post_message(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await learner.learner_session(user.id, session_id)
        if not session["discussion_block"]:
            raise NotFound(learner.NOT_FOUND)
        form = await read_form(request, learner.MessageForm)
        try:
            await learner.post_message(request.app.state.redis, session_id, user.id, form)
        except ValidationFailed as invalid:
            return await _session_page(request, session, as_values(form), invalid.errors, 422)
        if wants_fragment(request):  # htmx: the discussion block again, with the new message
            return await _session_page(request, session, discussion_only=True, announce="Message publié.")
        return redirect(request, url(request, "learner.session", session_id=session_id) + "#discuter",
                        "Message publié.")


async def serve_file(request: Request, file_id: int) -> Response:
    """The file, or the byte range asked for (206), so a video can be sought without downloading it."""
    info = await files.info(file_id)
    size = info["size"]
    inline = info["content_type"].startswith(("video/", "audio/", "image/")) or info["content_type"] == "application/pdf"
    headers = {
        "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600", "ETag": f'"{info["sha256"]}"',
        "Content-Disposition": content_disposition(info["name"], inline),
    }
    wanted = files.parse_range(request.headers.get("range"), size)
    if wanted is False:
        return Response(b"", status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    first, last = wanted or (0, size - 1)
    if wanted:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    # A chunk at a time from the database: a video sought or watched costs the process one chunk.
    return streamed(files.pieces(file_id, first, last), last - first + 1, info["content_type"], headers,
                    status_code=206 if wanted else 200)


class SessionDiscussionController(Controller):
    """The session's discussion as its managers see it: every message, hidden ones marked, and hiding."""

    path = "/sessions/{session_id:int}/discussion"
    opt = {"roles": MANAGERS}

    async def _page(self, request, session, values=None, errors=None, status_code=200):
        return render(request, "learner/manage_discussion.html", {
            "session": session, "messages": await learner.messages(session["id"], with_hidden=True),
            "post_url": url(request, "sessions.post_message", session_id=session["id"]), "manager": True,
            "values": values or {}, "errors": errors or {}}, status_code=status_code)

    @get("/", name="sessions.discussion")
    async def show(self, request: Request, session_id: FromPath[int]) -> Template:
        session = await session_in_scope(current_user(request), session_id)
        return await self._page(request, session)

    @post("/", name="sessions.post_message")
    async def post_message(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await session_in_scope(user, session_id)
        form = await read_form(request, learner.MessageForm)
        try:
            await learner.post_message(request.app.state.redis, session_id, user.id, form)
        except ValidationFailed as invalid:
            return await self._page(request, session, as_values(form), invalid.errors, 422)
        return redirect(request, url(request, "sessions.discussion", session_id=session_id), "Message publié.")

    @post("/{message_id:int}/masquer", name="sessions.hide_message")
    async def hide(self, request: Request, session_id: FromPath[int], message_id: FromPath[int]) -> Response:
        user = current_user(request)
        await session_in_scope(user, session_id)
        await learner.hide_message(session_id, message_id, user.id)
        return redirect(request, url(request, "sessions.discussion", session_id=session_id),
                        "Message masqué : les apprenants ne le voient plus.")


HANDLERS = [LearnerController, SessionDiscussionController]
