"""« TdB des analytics » (SPEC E1) and the « Inscrits » report (E2), for admin, GED and GET, always
within their scope."""

from __future__ import annotations

import asyncio

from litestar import Request, Response, get
from litestar.params import FromPath

from app.datatable import Pick, pick
from app.dates import local_now
from app.http.responder import render, url
from app.http.tableview import choice_suggestions, file_response, match_links, table_view
from app.http.web import current_user
from app.lists._common import ESTABLISHMENT_CHOICES, TEMPLATE_CHOICES
from app.lists.analytics import ENROLLED
from app.services import analytics
from app.services.roles import ADMIN, GED, GET
from app.services.scope import establishment_scope

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


# The dashboard's filters whose choices grow (hundreds of establishments, the catalogue's templates):
# text fields with suggestions, as a list's (app/datatable Choices), the figures filtered on one id.
CHOICES = {"establishment": (ESTABLISHMENT_CHOICES, "Établissement", "Établissement introuvable : filtre ignoré."),
           "template": (TEMPLATE_CHOICES, "Cours modèle", "Cours modèle introuvable : filtre ignoré.")}


async def _picks(user, params, filters: analytics.Filters) -> dict[str, Pick]:
    """The picked establishment and template (ids within the caller's reach), set on ``filters``."""
    picks = {}
    for key, (choices, _, refused) in CHOICES.items():
        if key in filters.errors:  # not an id at all: already said
            continue
        picks[key] = chosen = await pick(choices, user, filters.raw[key], params.get(f"{key}_q"))
        setattr(filters, key, chosen.id)
        if chosen.refused:
            filters.errors[key] = refused
    return picks


@get("/analytique", name="analytics.dashboard", opt=MANAGERS)
async def dashboard(request: Request) -> Response:
    user = current_user(request)
    params = request.query_params
    if params.get("suggest") in CHOICES:
        return await choice_suggestions(request, params["suggest"], CHOICES[params["suggest"]][0])
    scope = await establishment_scope(user)
    filters = analytics.parse_filters(params)
    picks = await _picks(user, params, filters)
    export = request.query_params.get("export")
    result = await analytics.dashboard(request.app.state.cache, scope, filters, whole=export in ("xlsx", "csv"))
    stamp = f"{local_now():%Y%m%d_%H%M}"
    if export == "xlsx":
        return file_response(await asyncio.to_thread(analytics.workbook, result), f"tableau_de_bord_{stamp}.xlsx")
    if export == "csv":
        dim = request.query_params.get("table", "")
        if dim in analytics.DIMENSIONS:
            return file_response(analytics.csv_bytes(result, dim), f"{dim}_{stamp}.csv", "csv")
    base = url(request, "analytics.dashboard")
    return render(request, "analytics/dashboard.html", {
        "result": result, "filters": filters, "charts": _charts(result), "base": base,
        "computed_at": analytics.computed_at(result), "dimensions": analytics.DIMENSIONS,
        "html_rows": analytics.HTML_ROWS,
        "picks": picks, "choice_labels": {key: label for key, (_, label, _) in CHOICES.items()},
        "match_links": {key: match_links(p, key, base, filters.query()) for key, p in picks.items()},
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
