"""Progress of long jobs, kept in Redis where any app process can read it."""

from __future__ import annotations

import json
import logging

log = logging.getLogger(__name__)

TTL = 24 * 3600


def _key(token: str) -> str:
    return f"progress:{token}"


async def start(redis, token: str, owner_id: int, label: str, total: int = 0, result_url: str = "") -> None:
    """A job's progress, queued. ``result_url``: where its result is downloaded once done, built by
    the web code that starts it from a route name (the job itself knows no URL)."""
    await redis.set(
        _key(token),
        json.dumps({"owner": owner_id, "label": label, "done": 0, "total": total, "state": "queued",
                    "message": "", "result_url": result_url, "result_label": ""}),
        ex=TTL,
    )


async def update(redis, token: str, **fields) -> None:
    current = await get(redis, token) or {}
    current.update(fields)
    await redis.set(_key(token), json.dumps(current), ex=TTL)


async def forget(redis, token: str) -> None:
    await redis.delete(_key(token))


async def get(redis, token: str) -> dict | None:
    raw = await redis.get(_key(token))
    if raw is None:
        return None
    data = json.loads(raw)
    total = data.get("total") or 0
    data["percent"] = 100 if data.get("state") == "done" else (int(100 * data["done"] / total) if total else 0)
    data["finished"] = data.get("state") in ("done", "failed")
    return data


async def best_effort(*updates) -> None:
    """Run these progress writes; if Redis is down, log it and go on: progress is a cache, the work
    it describes is recorded in the database and runs once Redis is back."""
    for update in updates:
        try:
            await update
        except Exception:  # noqa: BLE001 - a cache write must not undo committed work
            log.warning("progress not written (Redis unavailable?)", exc_info=True)
