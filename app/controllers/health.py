"""/healthz for load balancers: the database and Redis answer (and whether the mail outbox is failing)."""

from __future__ import annotations

import asyncio

from litestar import Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from app.services.mail_health import delivery_trouble
from app.tables.org import Delegation


@get("/healthz", opt={"public": True}, cache=False)
async def healthz(request: Request) -> Response:
    checks = {}
    try:
        await asyncio.wait_for(Delegation.count(), timeout=3)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), timeout=3)
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    # Told, not a 503: the web still answers when mail cannot leave (details on /ops).
    outbox = {}
    if checks["database"] == "ok":
        try:
            trouble = await asyncio.wait_for(delivery_trouble(), timeout=3)
            outbox = {"outbox": "failing" if trouble else "ok"}
            if trouble:
                outbox["outbox_waiting"] = trouble["waiting"]
        except Exception as exc:  # noqa: BLE001
            outbox = {"outbox": f"error: {type(exc).__name__}"}
    return Response(
        content={"status": "ok" if healthy else "error", **checks, **outbox},
        status_code=HTTP_200_OK if healthy else HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Cache-Control": "no-store"},
    )


HANDLERS = [healthz]
