"""The operations dashboard (SPEC G2): /ops for administrators and the read-only operations role.

Everyone else gets "not found" (``hidden``): the pages' very existence is nobody else's business.
The operations role reads everything; only an administrator retries or aborts (403 with the reason
for the operations role). /ops/metrics is for Prometheus: a bearer token (``OPS_METRICS_TOKEN``)
or an operations session; anything else is "not found".
"""

from __future__ import annotations

import hmac

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Template

from app.http.forms import form_data
from app.http.responder import confirm_page, redirect, render, url
from app.http.tableview import table_view
from app.http.web import NOT_FOUND_TEXT, current_user
from app.lists.ops import JOB_ACTIONS, JOB_RUNS
from app.lists.registration import MAIL_STATUS_LABELS as MAIL_LABELS
from app.services import ops
from app.services.errors import NotFound
from app.services.roles import ADMIN, OPERATIONS
from app.settings import get_settings

OPS_ROLES = (ADMIN, OPERATIONS)
FILTER_KEYS = tuple(f.key for f in JOB_RUNS.filters)


def _require_admin(request: Request) -> None:
    if not current_user(request).is_admin:
        raise PermissionDeniedException(detail=ops.ADMIN_ONLY)


def _filter_params(values) -> dict[str, str]:
    return {k: str(values.get(k) or "").strip() for k in FILTER_KEYS if values.get(k)}


def _filter_text(params: dict[str, str]) -> str:
    parts = []
    if params.get("kind"):
        parts.append(f"type « {ops.kind_label(params['kind'])} »")
    if params.get("status"):
        parts.append(f"état « {ops.STATUS_LABELS.get(params['status'], params['status'])} »")
    if params.get("since"):
        parts.append(f"créés depuis le {params['since']}")
    if params.get("until"):
        parts.append(f"créés jusqu'au {params['until']}")
    return "filtre : " + (", ".join(parts) if parts else "aucun")


class OpsController(Controller):
    path = "/ops"
    opt = {"roles": OPS_ROLES, "hidden": True}

    @get("/", name="ops.index")
    async def index(self, request: Request) -> Template:
        redis = request.app.state.redis
        kinds, kinds_at = await ops.kind_stats_cached(request.app.state.cache)
        return render(request, "ops/index.html", {
            "o": await ops.overview(redis), "kinds": kinds, "kinds_at": kinds_at, "labels": ops.STATUS_LABELS,
            "mail_labels": {**MAIL_LABELS, "fictive": "Non envoyés : adresse fictive (prévu)"},
            "cron_timezone": get_settings().timezone,
            "duration": ops.duration_fr,
        }, region="ops/_overview.html", headers={"Cache-Control": "no-store"})

    @get("/jobs", name="ops.runs")
    async def runs(self, request: Request) -> Response:
        params = _filter_params(request.query_params)
        return await table_view(request, JOB_RUNS, "ops/runs.html", "ops/_runs.html", {
            "url": url(request, "ops.runs"), "labels": ops.STATUS_LABELS, "duration": ops.duration_fr,
            "kind_label": ops.kind_label, "retry_all_url": url(request, "ops.confirm_retry_all", params),
            "can_act": current_user(request).is_admin, "retryable": ops.RETRYABLE, "abortable": ops.ABORTABLE})

    @get("/jobs/{run_id:int}", name="ops.run")
    async def run(self, request: Request, run_id: FromPath[int]) -> Template:
        return render(request, "ops/run.html", {
            "run": await ops.run_detail(run_id), "labels": ops.STATUS_LABELS, "action_labels": ops.ACTION_LABELS,
            "duration": ops.duration_fr, "can_act": current_user(request).is_admin, "retryable": ops.RETRYABLE,
            "abortable": ops.ABORTABLE})

    @post("/jobs/{run_id:int}/relancer", name="ops.retry")
    async def retry(self, request: Request, run_id: FromPath[int]) -> Response:
        _require_admin(request)
        await ops.run_detail(run_id)  # not found → 404
        back = url(request, "ops.run", run_id=run_id)
        done = await ops.retry_runs(request.app.state.redis, [run_id], current_user(request).id, "Relance")
        if not done:
            return redirect(request, back, "Ce job n'est ni en échec ni abandonné : il n'a pas été relancé.", "info")
        return redirect(request, back, f"Job n° {run_id} relancé.")

    @get("/jobs/{run_id:int}/abandonner", name="ops.confirm_abort")
    async def confirm_abort(self, request: Request, run_id: FromPath[int]) -> Response:
        _require_admin(request)
        row = await ops.run_detail(run_id)
        back = url(request, "ops.run", run_id=run_id)
        if row["status"] not in ops.ABORTABLE:
            return redirect(request, back, "Ce job n'est ni en file ni en cours : rien à abandonner.", "info")
        return confirm_page(request, f"Abandonner le job n° {run_id} ({row['label']}) ?", back, button="Abandonner",
                            details=["Un job en file ne sera pas lancé ; un job en cours est interrompu par le worker.",
                                     "L'action est enregistrée dans l'historique des actions."],
                            back_label="Revenir au job")

    @post("/jobs/{run_id:int}/abandonner", name="ops.abort")
    async def abort(self, request: Request, run_id: FromPath[int]) -> Response:
        _require_admin(request)
        await ops.abort_run(request.app.state.redis, run_id, current_user(request).id)
        return redirect(request, url(request, "ops.run", run_id=run_id), f"Job n° {run_id} abandonné.")

    @get("/jobs/relancer", name="ops.confirm_retry_all")
    async def confirm_retry_all(self, request: Request) -> Response:
        _require_admin(request)
        params = _filter_params(request.query_params)
        back = url(request, "ops.runs", params)
        user = current_user(request)
        clauses = await JOB_RUNS.clauses(user, params, extra=ops.retryable())
        total = await JOB_RUNS.table.count().where(*clauses)
        if not total:
            return redirect(request, back, "Aucun job en échec ou abandonné ne correspond au filtre : rien à relancer.",
                            "info")
        return confirm_page(request, f"Relancer {total} job(s) en échec ou abandonné(s) ?", back,
                            button=f"Relancer {total} job(s)", tone="primary", fields=list(params.items()),
                            details=[f"Jobs concernés — {_filter_text(params)}.",
                                     "Chacun repart de zéro essai ; sa dernière erreur reste visible.",
                                     "L'action est enregistrée dans l'historique des actions."],
                            back_label="Revenir à la liste")

    @post("/jobs/relancer", name="ops.retry_all")
    async def retry_all(self, request: Request) -> Response:
        _require_admin(request)
        params = _filter_params(await form_data(request))
        clauses = await JOB_RUNS.clauses(current_user(request), params, extra=ops.retryable())
        done = await ops.retry_matching(request.app.state.redis, clauses, current_user(request).id, _filter_text(params))
        back = url(request, "ops.runs", params)
        if not done:
            return redirect(request, back, "Aucun job en échec ou abandonné ne correspond au filtre : rien à relancer.",
                            "info")
        return redirect(request, back, f"{done} job(s) relancé(s).")

    @get("/actions", name="ops.actions")
    async def actions(self, request: Request) -> Response:
        return await table_view(request, JOB_ACTIONS, "ops/actions.html", "ops/_actions.html", {
            "url": url(request, "ops.actions"), "action_labels": ops.ACTION_LABELS, "kind_label": ops.kind_label})


@get("/ops/metrics", name="ops.metrics", opt={"public": True}, cache=False)
async def metrics(request: Request) -> Response:
    """Prometheus: ``Authorization: Bearer <OPS_METRICS_TOKEN>``, or a logged-in administrator or
    operations user (the same figures in a browser). Anything else: not found."""
    token = get_settings().ops_metrics_token
    # The scheme is case-insensitive (RFC 7235): "Bearer", "bearer" and "BEARER" are one.
    scheme, _, given = request.headers.get("authorization", "").strip().partition(" ")
    allowed = bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                                  token.encode())
    user = current_user(request)
    if not allowed and not (user is not None and user.sees_operations and not user.force_password_change):
        raise NotFound(NOT_FOUND_TEXT)
    return Response(content=await ops.metrics_text(request.app.state.redis),
                    media_type="text/plain; version=0.0.4", headers={"Cache-Control": "no-store"})


HANDLERS = [OpsController, metrics]
