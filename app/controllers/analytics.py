"""« TdB des analytics » (SPEC E1) and the « Inscrits » report (E2), for admin, GED and GET, always
within their scope."""

from __future__ import annotations

import asyncio

from litestar import Request, Response, get
from litestar.params import FromPath

from app.dates import local_now
from app.http.responder import render, url
from app.http.tableview import file_response, table_view
from app.http.web import current_user
from app.lists.analytics import ENROLLED
from app.services import analytics
from app.services.roles import ADMIN, GED, GET
from app.services.scope import establishment_choices, establishment_scope
from app.tables.catalogue import CourseTemplate

MANAGERS = {"roles": (ADMIN, GED, GET)}
SERIES = ["Achevé", "En cours", "Jamais commencé"]


def _charts(result: dict) -> dict:
    est = result["establishment"][: analytics.HTML_ROWS]
    months = result["months"][-24:]

    def label(r):
        return r["code"] or r["name"]

    rates = [(label(r), round(r["completion_rate"], 1)) for r in est]
    stacks = [(label(r), [r["completed_count"], r["in_progress"], r["never_started"]]) for r in est]
    return {
        "rates": rates,
        "rates_desc": "Taux d'achèvement par établissement : "
        + "; ".join(f"{name} {value:.1f} %".replace(".", ",") for name, value in rates) + "." if rates else "Aucune donnée.",
        "stacks": stacks,
        "stacks_desc": "Répartition des inscrits par établissement (achevé, en cours, jamais commencé) : "
        + "; ".join(f"{name} {a}, {b}, {c}" for name, (a, b, c) in stacks) + "." if stacks else "Aucune donnée.",
        "month_labels": [m["month"] for m in months],
        "month_series": [("Inscriptions", [m["enrolled_count"] for m in months]),
                         ("Sessions achevées", [m["completed_count"] for m in months])],
        "months_desc": "Inscriptions et sessions achevées par mois : "
        + "; ".join(f"{m['month']} {m['enrolled_count']} et {m['completed_count']}" for m in months) + "."
        if months else "Aucune donnée.",
    }


@get("/analytique", name="analytics.dashboard", opt=MANAGERS)
async def dashboard(request: Request) -> Response:
    user = current_user(request)
    scope = await establishment_scope(user)
    filters = analytics.parse_filters(request.query_params)
    if filters.establishment and not scope.allows(filters.establishment):
        filters.errors["establishment"] = "Établissement introuvable : filtre ignoré."
        filters.establishment = None
    export = request.query_params.get("export")
    result = await analytics.dashboard(request.app.state.cache, scope, filters, whole=export in ("xlsx", "csv"))
    stamp = f"{local_now():%Y%m%d_%H%M}"
    if export == "xlsx":
        return file_response(await asyncio.to_thread(analytics.workbook, result), f"tableau_de_bord_{stamp}.xlsx")
    if export == "csv":
        dim = request.query_params.get("table", "")
        if dim in analytics.DIMENSIONS:
            return file_response(analytics.csv_bytes(result, dim), f"{dim}_{stamp}.csv", "csv")
    templates = await CourseTemplate.select(CourseTemplate.id, CourseTemplate.code, CourseTemplate.title) \
        .order_by(CourseTemplate.code)
    base = url(request, "analytics.dashboard")
    return render(request, "analytics/dashboard.html", {
        "result": result, "filters": filters, "charts": _charts(result), "base": base,
        "computed_at": analytics.computed_at(result), "dimensions": analytics.DIMENSIONS,
        "html_rows": analytics.HTML_ROWS,
        "establishments": await establishment_choices(user),
        "templates": [(str(t["id"]), f"{t['code']} — {t['title']}") for t in templates],
        "audiences": analytics.AUDIENCES,
    })


@get("/analytique/inscrits", name="analytics.enrolled", opt=MANAGERS)
async def enrolled(request: Request) -> Response:
    return await table_view(request, ENROLLED, "analytics/enrolled.html", "analytics/_enrolled.html",
                            {"url": url(request, "analytics.enrolled")})


@get("/analytique/inscrits/{user_id:int}", name="analytics.learner", opt=MANAGERS)
async def learner(request: Request, user_id: FromPath[int]) -> Response:
    scope = await establishment_scope(current_user(request))
    record = await analytics.learner_record(scope, user_id)
    return render(request, "analytics/learner.html", record)


HANDLERS = [dashboard, enrolled, learner]
