"""« Vue d'ensemble des inscrits » (SPEC D2): a session's learners and their progress, the download of
a selection or of the whole list, and a learner's detail where a manager marks an activity done."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.datatable import EXPORT_FORMATS
from app.http.forms import read_form
from app.http.responder import redirect, render, url
from app.http.tableview import export_response, table_view
from app.http.web import current_user
from app.lists._common import int_or_none
from app.lists.progress import PROGRESS, STATES
from app.services import assessments, enrolments, learning, sessions
from app.services.errors import DomainError, NotFound
from app.services.roles import ADMIN, GED, GET
from app.tables.learning import Enrolment

MANAGERS = (ADMIN, GED, GET)
HOW = {"manual": "par l'apprenant", "automatic": "automatiquement"}  # "manager": "marquée par <name>"


@dataclass
class CompletionForm:
    activity: int | None = None
    done: bool = False


class ProgressController(Controller):
    path = "/sessions/{session_id:int}/progression"
    opt = {"roles": MANAGERS}

    @get("/", name="progress.overview")
    async def overview(self, request: Request, session_id: FromPath[int]) -> Response:
        session = await sessions.session_in_scope(current_user(request), session_id)
        query = request.query_params
        params = {k: v for k, v in query.items() if k not in ("selected", "which")}
        params["session"] = str(session_id)  # what the table is about (see PROGRESS.about)
        here = url(request, "progress.overview", session_id=session_id)
        error = None
        if query.get("export") in EXPORT_FORMATS and query.get("which") == "selected":
            selected = [i for i in (int_or_none(v) for v in query.getall("selected", [])) if i]
            if selected:
                return await export_response(request, PROGRESS, params, query["export"],
                                             extra=Enrolment.id.is_in(selected[:10000]))
            error = "Sélectionnez au moins un inscrit, ou téléchargez toute la liste."
            params.pop("export")
        activities = await sessions.session_activities(session_id)
        response = await table_view(
            request, PROGRESS, "progress/overview.html", "progress/_table.html",
            {"session": session, "activities": activities, "url": here, "error": error, "states": STATES,
             "formats": EXPORT_FORMATS},
            params=params, options={"cohort": await enrolments.cohort_choices(session["establishment"])},
        )
        if error:
            response.status_code = 422
        return response

    @get("/acquis", name="progress.assessments")
    async def assessment_overview(self, request: Request, session_id: FromPath[int]) -> Template:
        """« Positionnement et acquis » (issue 23): per objective, entry vs exit, for the session's learners."""
        session = await sessions.session_in_scope(current_user(request), session_id)
        return render(request, "progress/assessments.html", {
            "session": session, "result": await assessments.session_overview(session_id)})

    @get("/{enrolment_id:int}", name="progress.learner")
    async def learner(self, request: Request, session_id: FromPath[int], enrolment_id: FromPath[int]) -> Template:
        session = await sessions.session_in_scope(current_user(request), session_id)
        enrolment = await learning.enrolment_of_session(session_id, enrolment_id)
        return render(request, "progress/learner.html", {
            "session": session, "enrolment": enrolment, "how": HOW,
            "activities": await learning.learner_activities(session_id, enrolment_id),
            "attempts": await learning.quiz_attempts(enrolment_id),
            "assessment": (await assessments.for_enrolments({enrolment_id: session_id})).get(enrolment_id)})

    @post("/{enrolment_id:int}", name="progress.set_completion")
    async def set_completion(self, request: Request, session_id: FromPath[int], enrolment_id: FromPath[int]) -> Response:
        user = current_user(request)
        await sessions.session_in_scope(user, session_id)
        form = await read_form(request, CompletionForm)
        back = url(request, "progress.learner", session_id=session_id, enrolment_id=enrolment_id)
        try:
            changed = await learning.set_completion_by_manager(user.id, session_id, enrolment_id, form.activity,
                                                               form.done)
        except NotFound:
            raise
        except DomainError as refused:  # no longer enrolled
            return redirect(request, back, refused.message, "error")
        if form.done:
            message = "Activité marquée comme terminée." if changed else "Cette activité était déjà terminée."
        else:
            message = "Achèvement annulé." if changed else "Cette activité n'était pas terminée."
        return redirect(request, back, message, "success" if changed else "info")


HANDLERS = [ProgressController]
