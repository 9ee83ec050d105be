"""Satisfaction surveys, the answering side (issue 23, Qualiopi indicator 30): a learner answers
from the session page or from the signed link of the mail (no login, phone-sized); a financer from
the link of the yearly survey; administrators edit the ready-made questionnaires and the delays,
and (with the registration managers) launch the financers' survey and follow its answers.

A survey answered is answered once (app/services/surveys/answer.py); a refused answer re-shows the
form with what was typed and a French message per question. A link forged or expired answers with
a French page (400), an invitation that no longer leads anywhere like a missing survey (404)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.http.forms import CSRF_FIELD, as_values, read_form
from app.http.responder import redirect, render, url
from app.http.web import current_user
from app.dates import today
from app.lists._common import int_or_none
from app.services import learner
from app.services.errors import NotFound, ValidationFailed
from app.services.roles import ADMIN, REGISTRATION_MANAGER
from app.services.surveys import answer as answering, financers, settings as survey_settings
from app.services.surveys.links import SurveyLinkProblem
from app.services.surveys.questions import FORMAT_HELP, TEXT_MAX

# An answer form holds free texts of 5,000 characters at most; room above the app's form cap so a
# longer paste is refused with a message on the form (what was typed kept), not a bare 413.
ANSWER_MAX_BYTES = 2 * 1024 * 1024
# After an answer (recorded, or a second one refused) the page itself says « Merci, votre réponse a
# été enregistrée… »: no flash message on top of it, one thank-you box.


async def _posted(request: Request) -> dict[str, list[str]]:
    """The posted answers by field (q0, q1…), every value of each."""
    form = await request.form()
    return {key: [str(v) for v in form.getall(key)] for key in form.keys() if key != CSRF_FIELD}


def _context(state_or_questions, values=None, errors=None, **more) -> dict:
    return {"values": values or {}, "errors": errors or {}, "text_max": TEXT_MAX, **state_or_questions, **more}


class LearnerSurveyController(Controller):
    """A survey from the learner's session page (logged in, enrolled)."""

    path = "/mes-sessions/{session_id:int}/questionnaires"
    request_max_body_size = ANSWER_MAX_BYTES

    async def _load(self, request, session_id, activity_id):
        session = await learner.learner_session(current_user(request).id, session_id)
        activity = await learner.session_activity(session_id, activity_id)
        if activity["kind"] != "survey":
            raise NotFound(learner.ACTIVITY_NOT_FOUND)
        return session, activity

    async def _page(self, request, session, activity, values=None, errors=None, status_code=200):
        state = await answering.survey_state(session["id"], session["start_date"], session["enrolment_id"],
                                             session["completed_at"], activity)
        if request.method == "GET":
            await answering.shown(session["enrolment_id"], activity, state)
        return render(request, "surveys/learner.html", _context(
            state, values, errors, session=session, activity=activity,
            training=await answering.training_of(session),
            action=url(request, "surveys.learner_answer", session_id=session["id"], activity_id=activity["id"])),
            status_code=status_code)

    @get("/{activity_id:int}", name="surveys.learner")
    async def show(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Template:
        session, activity = await self._load(request, session_id, activity_id)
        return await self._page(request, session, activity)

    @post("/{activity_id:int}", name="surveys.learner_answer")
    async def answer(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        session, activity = await self._load(request, session_id, activity_id)
        posted = await _posted(request)
        try:
            await answering.answer(session, session["enrolment_id"], session["completed_at"], activity, posted)
        except ValidationFailed as invalid:
            return await self._page(request, session, activity, posted, invalid.errors, 422)
        return redirect(request, url(request, "surveys.learner", session_id=session_id, activity_id=activity_id))


class SurveyLinkController(Controller):
    """A learner's survey from the mail's signed link: no login; only that survey."""

    path = "/questionnaire"
    opt = {"public": True}
    request_max_body_size = ANSWER_MAX_BYTES

    async def _page(self, request, token, values=None, errors=None, status_code=200, done=None):
        try:
            found = await answering.invitation_by_token(token)
        except SurveyLinkProblem as problem:
            return render(request, "surveys/link_problem.html", {"message": problem.message}, status_code=400)
        session, activity = found["session"], found["activity"]
        state = await answering.survey_state(session["id"], session["start_date"], found["enrolment_id"],
                                             found["completed_at"], activity)
        if request.method == "GET":
            await answering.shown(found["enrolment_id"], activity, state)
        return render(request, "surveys/public.html", _context(
            state, values, errors, session=session, activity=activity, first_name=found["first_name"], done=done,
            action=url(request, "surveys.link_answer", token=token)), status_code=status_code, no_store=True)

    @get("/{token:str}", name="surveys.link")
    async def show(self, request: Request, token: FromPath[str]) -> Template:
        return await self._page(request, token)

    @post("/{token:str}", name="surveys.link_answer")
    async def answer(self, request: Request, token: FromPath[str]) -> Response:
        try:
            found = await answering.invitation_by_token(token)
        except SurveyLinkProblem:
            return await self._page(request, token)
        posted = await _posted(request)
        try:
            await answering.answer(found["session"], found["enrolment_id"], found["completed_at"],
                                   found["activity"], posted)
        except ValidationFailed as invalid:
            return await self._page(request, token, posted, invalid.errors, 422)
        return redirect(request, url(request, "surveys.link", token=token))


class FinancerLinkController(Controller):
    """A financer's answer to the yearly survey, from the mail's signed link: no login."""

    path = "/enquete-financeurs"
    opt = {"public": True}
    request_max_body_size = ANSWER_MAX_BYTES

    async def _page(self, request, token, values=None, errors=None, status_code=200):
        try:
            invitation = await financers.invitation_by_token(token)
        except SurveyLinkProblem as problem:
            return render(request, "surveys/link_problem.html", {"message": problem.message}, status_code=400)
        return render(request, "surveys/financer.html", _context(
            {"questions": invitation["questions"]}, values, errors, invitation=invitation,
            action=url(request, "surveys.financer_answer", token=token)), status_code=status_code, no_store=True)

    @get("/{token:str}", name="surveys.financer")
    async def show(self, request: Request, token: FromPath[str]) -> Template:
        return await self._page(request, token)

    @post("/{token:str}", name="surveys.financer_answer")
    async def answer(self, request: Request, token: FromPath[str]) -> Response:
        posted = await _posted(request)
        try:
            await financers.answer(token, posted)
        except SurveyLinkProblem:
            return await self._page(request, token)
        except ValidationFailed as invalid:
            return await self._page(request, token, posted, invalid.errors, 422)
        return redirect(request, url(request, "surveys.financer", token=token))


class SurveySettingsController(Controller):
    """« Questionnaires : modèles et envois » (administrators): the three ready-made questionnaires
    and the delays of the cold survey and of the reminders."""

    path = "/catalogue/questionnaires"
    opt = {"roles": (ADMIN,)}

    async def _page(self, request, values=None, errors=None, status_code=200):
        if values is None:
            delays, models = await survey_settings.delays(), await survey_settings.models()
            values = {**delays, **{f"model_{k}": v for k, v in models.items()}}
        return render(request, "surveys/settings.html", {
            "values": values, "errors": errors or {}, "models": survey_settings.model_choices(),
            "format_help": FORMAT_HELP}, status_code=status_code)

    @get("/", name="surveys.settings")
    async def show(self, request: Request) -> Template:
        return await self._page(request)

    @post("/", name="surveys.save_settings")
    async def save(self, request: Request) -> Response:
        form = await read_form(request, survey_settings.SurveySettingsForm)
        try:
            await survey_settings.save_settings(form)
        except ValidationFailed as invalid:
            return await self._page(request, as_values(form), invalid.errors, 422)
        return redirect(request, url(request, "surveys.settings"), "Modèles et délais des questionnaires enregistrés.")


class FinancerSurveyController(Controller):
    """The financers' yearly survey: launch it for a year, follow who answered."""

    path = "/catalogue/questionnaires/financeurs"
    opt = {"roles": (ADMIN, REGISTRATION_MANAGER)}

    async def _page(self, request, year, errors=None, status_code=200, years=None):
        years = await financers.years_to_ask() if years is None else years
        return render(request, "surveys/financers.html", {
            "surveys": await financers.surveys(), "year": year, "errors": errors or {}, "years": years,
            "candidates": await financers.candidates_count(year) if year else None}, status_code=status_code)

    @get("/", name="surveys.financers")
    async def index(self, request: Request) -> Template:
        year = int_or_none(request.query_params.get("year"))
        year = year if year and 2000 <= year <= 2100 else None
        years = await financers.years_to_ask()
        # By default the latest year with organisations to ask (last year when none has any).
        return await self._page(request, year or (years[0] if years else today().year - 1), years=years)

    @post("/", name="surveys.launch_financers")
    async def launch(self, request: Request) -> Response:
        year = int_or_none((await request.form()).get("year"))
        try:
            done = await financers.launch(request.app.state.redis, year, current_user(request).id)
        except ValidationFailed as invalid:
            return await self._page(request, year if year and 2000 <= year <= 2100 else None, invalid.errors, 422)
        return redirect(request, url(request, "surveys.financers_year", year=year),
                        f"Enquête financeurs {year} lancée : {done['invited']} structure(s) invitée(s) par courriel.")

    @get("/{year:int}", name="surveys.financers_year")
    async def year(self, request: Request, year: FromPath[int]) -> Template:
        return render(request, "surveys/financers_year.html", await financers.year_invitations(year))


HANDLERS = [LearnerSurveyController, SurveyLinkController, FinancerLinkController, SurveySettingsController,
            FinancerSurveyController]
