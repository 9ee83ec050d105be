"""Results of the satisfaction surveys (issue 23): a session's, all of a manager's sessions by course
template, period and phase, and the financers' yearly survey — one page layout, one aggregation
(app/services/surveys/results.py), within the caller's scope. The counting (JSON answers) and the
downloads are built in a worker thread: the event loop keeps serving meanwhile."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromPath

from app.dates import local_now
from app.http.responder import content_disposition, render, url
from app.datatable import pick
from app.http.tableview import choice_suggestions, file_response, match_links
from app.http.web import current_user
from app.numbers import to_int
from app.services.roles import ADMIN, GED, GET, REGISTRATION_MANAGER
from app.services.scope import establishment_scope
from app.services.sessions import session_in_scope
from app.services.surveys import results
from app.lists._common import TEMPLATE_CHOICES

MANAGERS = {"roles": (ADMIN, GED, GET)}
FINANCERS = {"roles": (ADMIN, REGISTRATION_MANAGER)}


def _count(sources: dict, answers: list, by_phase: bool, one_session: bool, whole: bool) -> tuple[dict, list[dict]]:
    """Each moment's results apart for « Moment : Tous » (``by_phase``), and the whole (for a
    download or a page of free-text answers: ``whole``), in a worker thread."""
    parts = results.sections(sources, answers, one_session) if by_phase else []
    if whole or not by_phase:
        result = results.aggregate(sources, answers, one_session)
    else:  # the page shows the parts only: what the links need
        result = {"answers": sum(p["answers"] for p in parts), "withheld": False}
    if not by_phase:
        parts = [{**result, "phase": None, "label": ""}]
    if any(part["withheld"] for part in parts):  # nor in the downloads, nor through the whole
        result = results.withhold(result) if "questions" in result else {**result, "withheld": True}
    return result, parts


async def _answer(request: Request, fetched: tuple, by_phase: bool, heading: tuple[str, ...], base: str, query: dict,
                  context: dict) -> Response:
    """The page, one question's free-text answers (?question=&page=), or a download (?export=)."""
    export = request.query_params.get("export")
    question = request.query_params.get("question")
    result, parts = await asyncio.to_thread(_count, *fetched, by_phase, context["kind"] == "session",
                                            export is not None or question is not None)
    export = export if result["answers"] and not result["withheld"] else None
    name = f"{results.filename(heading[0])}_{local_now():%Y%m%d_%H%M}"
    if export == "xlsx":
        return file_response(await asyncio.to_thread(results.workbook, result, heading), name + ".xlsx")
    if export == "csv":
        # text/csv: the framework adds the one « charset=utf-8 ».
        return Response(await asyncio.to_thread(results.csv_bytes, result, heading), media_type="text/csv",
                        headers={"Content-Disposition": content_disposition(name + ".csv"), "Cache-Control": "no-store"})
    page = {"result": result, "sections": parts, "heading": heading, "base": base, "query": query,
            "phases": results.PHASES, "preview": results.TEXT_PREVIEW, "withheld_text": results.WITHHELD,
            "page_url": base + ("?" + urlencode(query) if query else ""),
            "downloads": {fmt: base + "?" + urlencode({**query, "export": fmt}) for fmt in ("xlsx", "csv")}
            if result["answers"] and not result["withheld"] else {}, **context}
    if question is not None:
        if result["withheld"]:
            raise results.NotFound("Question introuvable.")
        page["texts"] = results.text_page(result, to_int(question, -1, low=0),
                                          to_int(request.query_params.get("page"), 1, low=1))
        return render(request, "survey_results/texts.html", page)
    return render(request, "survey_results/results.html", page)


@get("/sessions/{session_id:int}/questionnaires", name="survey_results.session", opt=MANAGERS)
async def session_results(request: Request, session_id: FromPath[int]) -> Response:
    user = current_user(request)
    session = await session_in_scope(user, session_id)  # out of scope: « Session introuvable. » as missing
    q = results.parse_query({"phase": request.query_params.get("phase", "")}, session=session_id)
    fetched = await results.fetch(await establishment_scope(user), q)
    heading = (f"Questionnaires — {session['code']} {session['full_name']}",
               results.PHASES.get(q.phase, "Tous les questionnaires"))
    return await _answer(request, fetched, not q.phase, heading,
                         url(request, "survey_results.session", session_id=session_id),
                         q.params(), {"session": session, "filters": q, "kind": "session"})


@get("/questionnaires", name="survey_results.index", opt=MANAGERS)
async def results_index(request: Request) -> Response:
    user = current_user(request)
    if request.query_params.get("suggest") == "template":
        return await choice_suggestions(request, "template", TEMPLATE_CHOICES)
    q = results.parse_query(request.query_params, default_period=True)
    picked = await pick(TEMPLATE_CHOICES, user, request.query_params.get("template"),
                        request.query_params.get("template_q"))
    if not picked.refused:  # else a forged id, kept: 404 below
        q.template = picked.id
    template = await results.template_or_404(q.template) if q.template else None  # a forged id: 404
    fetched = await results.fetch(await establishment_scope(user), q)
    period = (f"du {q.start:%d/%m/%Y}" if q.start else "") + (f" au {q.end:%d/%m/%Y}" if q.end else "")
    heading = ("Questionnaires — " + (f"{template['code']} {template['title']}" if template else "toutes les formations"),
               (results.PHASES.get(q.phase, "Tous les questionnaires") + (f", {period.strip()}" if period else "")))
    base = url(request, "survey_results.index")
    return await _answer(request, fetched, not q.phase, heading, base, q.params(), {
        "filters": q, "kind": "index", "template": template, "picked": picked,
        "template_links": match_links(picked, "template", base, q.params())})


@get("/questionnaires/financeurs", name="survey_results.financers", opt=FINANCERS)
async def financers(request: Request) -> Response:
    years = await results.financer_years()
    raw = (request.query_params.get("year") or "").strip()[:8]
    year = to_int(raw, low=results.MIN_YEAR, high=results.MAX_YEAR) if raw else (years[0] if years else None)
    error = "Année invalide." if raw and year is None else ""
    if year is not None and year not in years:
        error, year = ("Aucun questionnaire des financeurs pour cette année." if raw else ""), (years[0] if years else None)
    survey, sources, answers = await results.fetch_financers(year) if year else (None, {}, [])
    heading = (f"Questionnaire des financeurs {year or ''}".strip(), survey["title"] if survey else "Aucun questionnaire")
    return await _answer(request, (sources, answers), False, heading, url(request, "survey_results.financers"),
                         {"year": year} if year else {},
                         {"kind": "financers", "years": years, "year": year, "survey": survey, "error": error})


HANDLERS = [session_results, results_index, financers]
