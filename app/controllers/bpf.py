"""« Bilan pédagogique et financier » (BPF, Cerfa 10443) and the élus' yearly report (CGCT
R1221-22-1), for administrators only: the training organisation's own declaration (issue 23).

The figures of a year are computed by a job (« Calculer / Recalculer », its progress page refreshes
itself with JS off) and kept (YearReport); every figure links to the learners behind it; a
completeness check says what is missing before the figures can be trusted, with links to fix it.
Also the « Type de stagiaire (BPF) » page of a session, for its managers.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from app.dates import datetime_fr
from app.http.forms import form_data, read_form
from app.http.responder import private_download, redirect, render, start_job, url
from app.http.web import current_user
from app.jobs import kinds
from app.numbers import to_int
from app.services.bpf import entry, layout, reports
from app.services.bpf.labels import TRAINEE_TYPE_LABELS
from app.services.errors import NotFound, ValidationFailed
from app.services.roles import ADMIN, GED, GET
from app.services.sessions import session_in_scope

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _page(request: Request) -> int:
    return max(1, to_int(request.query_params.get("page")) or 1)



async def _workbook(kind: str, year: int, not_computed: str, build, filename: str) -> Response:
    """A stored year report as its Excel workbook (``build(year, figures, computed)``), or the French
    not-found page while it has not been computed."""
    year = reports.checked_year(year)
    report = await reports.load(kind, year)
    if report is None:
        raise NotFound(not_computed)
    content = build(year, report["figures"], datetime_fr(report["computed_at"]))
    return private_download(content, filename.format(year), XLSX)

class BpfController(Controller):
    path = "/bpf"
    opt = {"roles": (ADMIN,)}

    @get("/", name="bpf.index")
    async def index(self, request: Request) -> Template:
        asked = request.query_params.get("year")
        year = reports.parse_year(asked) if asked not in (None, "") else reports.last_closed_year()
        year_error = "" if year is not None else f"{reports.year_message()} Voici l'exercice {reports.last_closed_year()}."
        year = year if year is not None else reports.last_closed_year()
        report = await reports.load("bpf", year)
        figures = report["figures"].get("figures", {}) if report else {}
        return render(request, "bpf/index.html", {
            "year": year, "years": reports.years(), "report": report, "year_error": year_error,
            "frames": layout.frames(figures) if report else [], "rounding": layout.ROUNDING_NOTE,
            "computed": datetime_fr(report["computed_at"]) if report else "",
            "checks": await reports.completeness(year)})

    @post("/calculer", name="bpf.compute")
    async def compute(self, request: Request) -> Response:
        user = current_user(request)
        year = reports.checked_year((await form_data(request)).get("year"))
        return await start_job(request, kinds.BPF_YEAR, f"Bilan pédagogique et financier {year} et rapport des élus",
                               lambda token: (year, user.id, token), result_route="bpf.computed",
                               result_params={"year": year}, once=f"year:{year}",
                               again=f"Le calcul du bilan {year} est déjà en cours : le voici.")

    @get("/{year:int}/calcul/{token:str}", name="bpf.computed")
    async def computed(self, request: Request, year: FromPath[int], token: FromPath[str]) -> Redirect:
        year = reports.checked_year(year)
        return Redirect(path=url(request, "bpf.index", {"year": year}))

    @get("/{year:int}/chiffres/{key:str}", name="bpf.figure")
    async def figure(self, request: Request, year: FromPath[int], key: FromPath[str]) -> Template:
        """The learners (or trainers, frame E) behind one figure, as the job computed it."""
        year = reports.checked_year(year)
        if key.startswith("elus."):
            report = await reports.load("elus", year)
            session_id = to_int(key[5:])
            training = next((t for t in (report or {}).get("figures", {}).get("trainings", [])
                             if t["session_id"] == session_id), None)
            if training is None:
                raise NotFound("Ce chiffre n'existe pas dans le rapport de cette année.")
            rows, label = training["rows"], f"Élus participants — {training['title']}"
            people, minutes, rounded, lines = len({r[0] for r in rows}), sum(r[2] for r in rows), None, {}
        else:
            report = await reports.load("bpf", year)
            if report is None:
                raise NotFound("Le bilan de cette année n'est pas encore calculé.")
            figures = report["figures"].get("figures", {})
            rows = await reports.stored_rows(year, figures, key)
            lines = {line["key"]: line["label"] for frame in layout.frames(figures) for line in frame["lines"]}
            label = next((f"{frame['code']} — {line['label']}" for frame in layout.frames(figures)
                          for line in frame["lines"] if line["key"] == key), key)
            # The figure as the frame shows it: its people, its exact minutes and its rounded hours.
            figure = figures.get(key, {})
            people, minutes = figure.get("people", 0), figure.get("minutes", 0)
            rounded = layout.rounded_hours(figures, key)
        page_rows, pages = await reports.named_rows(rows, _page(request))
        return render(request, "bpf/figure.html", {
            "year": year, "key": key, "label": label, "rows": page_rows, "pages": pages,
            "page": min(_page(request), pages), "count": len(rows), "trainers": key.startswith("e."),
            "total": bool(figures.get(key, {}).get("parts")) if not key.startswith("elus.") else False,
            "people": people, "minutes": minutes, "rounded": rounded, "lines": lines,
            "rounding": layout.ROUNDING_NOTE, "hours": layout.hours_minutes,
            "computed": datetime_fr(report["computed_at"])})

    @get("/{year:int}/manques/{item:str}", name="bpf.missing")
    async def missing(self, request: Request, year: FromPath[int], item: FromPath[str]) -> Template:
        year = reports.checked_year(year)
        if item not in reports.MISSING_LABELS:
            raise NotFound("Vérification inconnue.")
        page = _page(request)
        rows, count = await reports.missing(item, year, reports.PAGE_SIZE, (page - 1) * reports.PAGE_SIZE)
        pages = max(1, -(-count // reports.PAGE_SIZE))
        return render(request, "bpf/missing.html", {
            "year": year, "item": item, "label": reports.MISSING_LABELS[item], "rows": rows, "count": count,
            "page": page, "pages": pages})

    @get("/{year:int}/bpf.xlsx", name="bpf.xlsx")
    async def xlsx(self, request: Request, year: FromPath[int]) -> Response:
        return await _workbook("bpf", year, "Le bilan de cette année n'est pas encore calculé : lancez le calcul.",
                               lambda y, figures, at: layout.bpf_xlsx(y, figures.get("figures", {}), at), "BPF {}.xlsx")

    @get("/{year:int}/elus", name="bpf.elus")
    async def elus(self, request: Request, year: FromPath[int]) -> Template:
        year = reports.checked_year(year)
        report = await reports.load("elus", year)
        trainings = (report or {}).get("figures", {}).get("trainings", []) if report else []
        return render(request, "bpf/elus.html", {
            "year": year, "years": reports.years(), "report": report, "trainings": trainings,
            "rows": layout.elus_rows(trainings), "columns": layout.ELUS_COLUMNS,
            "computed": datetime_fr(report["computed_at"]) if report else ""})

    @get("/{year:int}/elus.xlsx", name="bpf.elus_xlsx")
    async def elus_xlsx(self, request: Request, year: FromPath[int]) -> Response:
        return await _workbook("elus", year,
                               "Le rapport de cette année n'est pas encore calculé : lancez le calcul du bilan.",
                               lambda y, figures, at: layout.elus_xlsx(y, figures.get("trainings", []), at),
                               "Formation des élus {}.xlsx")


class TraineeTypesController(Controller):
    """« Type de stagiaire (BPF) » of a session's participants, for the session's managers."""

    path = "/sessions/{session_id:int}/types-stagiaires"
    opt = {"roles": (ADMIN, GED, GET)}

    async def _page(self, request, session, errors=None, values=None, status_code=200) -> Template:
        return render(request, "bpf/trainee_types.html", {
            "session": session, "participants": await entry.participants(session["id"]),
            "choices": entry.TRAINEE_CHOICES, "labels": TRAINEE_TYPE_LABELS, "errors": errors or {},
            "values": values or {}}, status_code=status_code)

    @get("/", name="bpf.trainee_types")
    async def show(self, request: Request, session_id: FromPath[int]) -> Template:
        return await self._page(request, await session_in_scope(current_user(request), session_id))

    @post("/", name="bpf.save_trainee_types")
    async def save(self, request: Request, session_id: FromPath[int]) -> Response:
        session = await session_in_scope(current_user(request), session_id)
        form = await read_form(request, entry.TraineeTypeForm)
        try:
            changed = await entry.set_trainee_types(session_id, form)
        except ValidationFailed as invalid:
            return await self._page(request, session, invalid.errors,
                                    {"trainee_type": form.trainee_type, "enrolments": form.enrolments}, 422)
        label = TRAINEE_TYPE_LABELS.get(form.trainee_type, "type par défaut (selon le compte)")
        return redirect(request, url(request, "bpf.trainee_types", session_id=session_id),
                        f"Type de stagiaire enregistré pour {changed} participant{'s' if changed > 1 else ''} : {label}.")


HANDLERS = [BpfController, TraineeTypesController]
