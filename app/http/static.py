"""Static files under content-hashed names, cached for a year.

``static_url("app.css")`` gives ``/static/app.3f2a9c1d.css``; a changed file gets a new name, so
browsers may keep every version for a year (``immutable``) and still never run a stale one. A plain
``/static/app.css`` is served too (no long cache), for anything that links to it by its own name.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from functools import lru_cache
from pathlib import Path

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app.settings import STATIC_DIR

YEAR = 365 * 24 * 3600
HASHED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{10})(?P<suffix>\.[A-Za-z0-9]+)$")


@lru_cache(maxsize=None)
def _digest(relative: str) -> str:
    return hashlib.sha256((STATIC_DIR / relative).read_bytes()).hexdigest()[:10]


def static_url(relative: str) -> str:
    path = Path(relative)
    return f"/static/{path.with_name(f'{path.stem}.{_digest(relative)}{path.suffix}').as_posix()}"


def _resolve(relative: str) -> Path | None:
    candidate = (STATIC_DIR / relative).resolve()
    if STATIC_DIR.resolve() not in candidate.parents or not candidate.is_file():
        return None
    return candidate


@get("/static/{file_path:path}", opt={"public": True}, name="static", include_in_schema=False, sync_to_thread=False)
def static_file(file_path: FromPath[str]) -> Response:
    relative = file_path.lstrip("/")
    cache = "no-cache"
    match = HASHED.match(Path(relative).name)
    if match:
        plain = (Path(relative).parent / f"{match['stem']}{match['suffix']}").as_posix()
        if _resolve(plain) is not None and _digest(plain) == match["hash"]:
            relative, cache = plain, f"public, max-age={YEAR}, immutable"
    path = _resolve(relative)
    if path is None:
        raise NotFoundException()
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type in ("application/javascript", "image/svg+xml"):
        media_type += "; charset=utf-8"  # Litestar adds it to text/* itself
    return Response(content=path.read_bytes(), media_type=media_type, headers={"Cache-Control": cache})
