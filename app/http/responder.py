"""The one responder: every page, fragment, redirect and confirmation goes through here.

- ``render``: the whole page, or only its swappable region for a real htmx swap. A history restore
  (htmx 2 marks it as an htmx request too) always gets the whole page, or the Back button would show
  a bare fragment. Every answer carries ``Vary: HX-Request``.
- ``redirect``: after a successful POST, 303 for a plain form, HX-Redirect for htmx, with a flash.
- ``url``: a named route's path (``route_reverse``) with an optional query string.
- ``start_job``: a tracked job somebody waits for, and its progress page (or partial, for htmx).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, Response
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar_htmx import ClientRedirect

from app.http.user import current_user
from app.services import files, progress

NO_STORE = {"Cache-Control": "no-store, private"}


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def wants_fragment(request: Request) -> bool:
    """A real htmx swap: not a plain request, not a history restore."""
    return is_htmx(request) and request.headers.get("hx-history-restore-request") != "true"


def render(
    request: Request,
    page: str,
    context: dict | None = None,
    region: str | None = None,
    status_code: int = 200,
    headers: dict | None = None,
    no_store: bool = False,
) -> Template:
    """The whole ``page``, or its ``region`` partial (a ``_region.html`` the page includes) for an
    htmx swap. ``no_store`` for pages that show a secret (a generated password) or a live state
    that must not come back stale from the browser's cache (a slot's émargement)."""
    name = region if (region and wants_fragment(request)) else page
    all_headers = {"Vary": "HX-Request", **(headers or {})}
    if no_store:
        all_headers.update(NO_STORE)
    return Template(template_name=name, context=context or {}, status_code=status_code, headers=all_headers)


def url(request: Request, name: str, query: dict | None = None, **path_params: Any) -> str:
    """The path of the route named ``name`` (e.g. "users.edit"), with ``query`` appended."""
    path = request.app.route_reverse(name, **path_params)
    params = {k: v for k, v in (query or {}).items() if v not in (None, "")}
    return f"{path}?{urlencode(params)}" if params else path


def client_redirect(to: str) -> Response:
    response = ClientRedirect(to)
    response.status_code = 200  # htmx only follows HX-Redirect on a 2xx; POST would default to 201
    return response


def redirect(request: Request, to: str, message: str | None = None, category: str = "success") -> Response:
    """After a successful POST: 303 for plain forms, HX-Redirect for htmx, with a flash message."""
    if message:
        flash(request, message, category)
    if is_htmx(request):
        return client_redirect(to)
    return Redirect(path=to, status_code=HTTP_303_SEE_OTHER)


async def start_job(request: Request, kind, label: str, args, *, result_route: str,
                    result_params: dict | None = None, once: str | None = None,
                    again: str = "Cette préparation est déjà en cours : la voici.",
                    on_submit: Callable[[], Awaitable[None]] | None = None) -> Response:
    """Submit a tracked job (``kind``, a JobKind of app/jobs/kinds.py) that this user waits for:
    its progress in Redis (owned by the user, labelled ``label``, with the URL of its result: the
    route named ``result_route`` with ``result_params`` and the job's ``token``), the job submitted
    with ``args(token)``, then the progress page — a 303 to it for a plain form (it refreshes itself
    with JS off), the progress partial in place for htmx (it polls until the result's link shows).

    ``once`` (e.g. "session:12"): while this user's job of this kind for it is unfinished, another
    request (a double click, a second tab) follows that job (saying ``again``) instead of queuing
    the same work twice. The claim is one atomic Redis SET NX. ``on_submit``: awaited when a job
    is submitted, not when the request follows one already running (what the audit trail records)."""
    import secrets

    user = current_user(request)
    redis = request.app.state.redis
    token = secrets.token_urlsafe(16)
    notice = None
    # The progress first: a claimed token always has one (no progress behind a claim = expired).
    await progress.start(redis, token, user.id, label,
                         result_url=url(request, result_route, token=token, **(result_params or {})))
    if once is not None:
        claim = f"job-once:{kind.name}:{user.id}:{once}"
        while not await redis.set(claim, token, nx=True, ex=progress.TTL):
            running = await redis.get(claim)
            running = running.decode() if isinstance(running, bytes) else running
            state = await progress.get(redis, running) if running else None
            if state is not None and not state["finished"]:
                await progress.forget(redis, token)
                token, notice = running, again
                break
            # The claimed job is over (or its progress expired): release that claim, only that one.
            await redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
                             "end return 0", 1, claim, running or "")
    if notice is None:
        if on_submit is not None:
            await on_submit()
        await kind.submit(redis, *args(token), created_by=user.id)
    if wants_fragment(request):
        return render(request, "jobs/progress.html", {"job": await progress.get(redis, token), "token": token},
                      region="jobs/_progress.html")
    return redirect(request, url(request, "jobs.show", token=token), notice, "info")


def confirm_page(request: Request, question: str, back: str, button: str = "Supprimer",
                 details: list[str] | None = None, back_label: str = "Annuler", tone: str = "danger",
                 fields: list[tuple[str, str]] | None = None) -> Template:
    """The confirmation step of a destructive or final action: a page with a POST form to the same
    URL (works without JavaScript). ``details`` says what will happen, one line each; ``back_label``
    names the way out (when "Annuler" is the very action being confirmed); ``tone`` "primary" for
    an action that goes forward rather than destroys; ``fields`` (name, value) pairs the POST
    carries (what was chosen on the page before)."""
    return render(request, "confirm.html", {"question": question, "action": request.url.path, "back": back,
                                            "button": button, "details": details or [], "back_label": back_label,
                                            "tone": tone, "fields": fields or []})


def error_page(request: Request, status: int, title: str, message: str) -> Template:
    headers = {"Vary": "HX-Request"}
    if wants_fragment(request):
        # Show the error where the page's main content is, whatever the control targeted.
        headers.update({"HX-Retarget": "#main", "HX-Reswap": "innerHTML"})
        template = "errors/_error.html"
    else:
        template = "errors/error.html"
    return Template(template_name=template, context={"status": status, "title": title, "message": message},
                    status_code=status, headers=headers)


def private_download(content: bytes, filename: str, media_type: str = "application/pdf") -> Response:
    """A private document built for this user (a PDF, a calendar invitation): never cached."""
    return Response(content=content, media_type=media_type, headers={
        "Content-Disposition": content_disposition(filename), "Cache-Control": "private, no-store"})


def stored_download(stored: dict, filename: str, media_type: str, cache: str = "private, no-store") -> Stream:
    """A stored file (``id``, ``size``: a job's result) as a download, streamed a chunk at a time
    from the database (app/services/files.py): a ZIP of a gigabyte costs the web process one chunk."""
    # Read to its known last byte: a file deleted meanwhile breaks the download off (FileGone), never
    # ends it short as if complete.
    return streamed(files.pieces(stored["id"], 0, stored["size"] - 1), stored["size"], media_type,
                    {"Content-Disposition": content_disposition(filename), "Cache-Control": cache})


def streamed(pieces, length: int, media_type: str, headers: dict, status_code: int = 200) -> Stream:
    """``length`` bytes sent as ``pieces`` (an async iterator) yields them, with their Content-Length:
    the client shows the download's progress, and a download broken off is seen as such."""
    return Stream(pieces, media_type=media_type, status_code=status_code,
                  headers={**headers, "Content-Length": str(length)})


def content_disposition(filename: str, inline: bool = False) -> str:
    """The Content-Disposition of a download: an ASCII ``filename`` every client reads, and the exact
    name in UTF-8 (``filename*``, RFC 6266). A header is Latin-1: a name with « œ » written as is
    would fail the whole answer."""
    plain = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    plain = re.sub(r"[^\w.\- ]", "_", plain).strip() or "fichier"
    return f"{'inline' if inline else 'attachment'}; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
