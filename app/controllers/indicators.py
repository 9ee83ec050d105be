"""« Indicateurs de résultats » (issue 23, Qualiopi indicator 2): public pages, no login — the list
of the visible course templates, each one's figures for a stated period, and an embeddable snippet
for the organisation's own website (HTML and CSS only, no script, framed by any site)."""

from __future__ import annotations

import base64
import hashlib

from litestar import Controller, Request, Response, get, head
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath

from app.dates import today
from app.http.responder import render, url
from app.services import indicators
from app.settings import get_settings

# The snippet's one style sheet, inline (it loads nothing): allowed by its hash alone. No quote, no
# « & », « < » or « > », so the page carries it byte for byte as hashed.
EMBED_CSS = (
    "body{margin:0;font:15px/1.4 system-ui,sans-serif;color:#1b1b1b;background:#fff}"
    ".box{border:1px solid #c8ccd0;border-radius:6px;padding:12px 14px;max-width:640px}"
    "h1{font-size:16px;margin:0 0 4px}p{margin:4px 0}.muted{color:#555;font-size:13px}"
    "dl{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}dl div{flex:1 1 120px;background:#f3f5f7;padding:6px 8px}"
    "dt{font-size:13px;color:#444}dd{margin:0;font-size:20px;font-weight:700}a{color:#1d5fa8}"
)
EMBED_HEIGHT = 360  # the snippet's iframe: whole, link included, at 320 px wide (330 px needed, a longer title room)
EMBED_CSP = (
    "default-src 'none'; style-src 'sha256-" + base64.b64encode(hashlib.sha256(EMBED_CSS.encode()).digest()).decode()
    + "'; base-uri 'none'; form-action 'none'; frame-ancestors *"
)


async def _context(request: Request, code: str) -> dict:
    template = await indicators.template_by_code(code)
    day = today()
    years = await indicators.data_years(template["id"], day)
    period = indicators.parse_period(request.query_params, day, years)
    result = indicators.published(await indicators.figures(request.app.state.cache, template["id"], period, day))
    query = period.query
    return {"template": template, "period": period, "figures": result, "min_learners": indicators.MIN_LEARNERS,
            "years": years, "embed_height": EMBED_HEIGHT,
            "page_url": get_settings().base_url + url(request, "indicators.show", query, code=template["code"]),
            "embed_url": get_settings().base_url + url(request, "indicators.embed", query, code=template["code"])}


class IndicatorsController(Controller):
    # Public, its automatic OPTIONS answers too (a controller's opt reaches every handler it makes).
    path = "/indicateurs"
    opt = {"public": True}

    @get("/", name="indicators.index")
    async def index(self, request: Request) -> Response:
        return render(request, "indicators/index.html", {"templates": await indicators.visible_templates()})

    @get("/{code:str}", name="indicators.show")
    async def show(self, request: Request, code: FromPath[str]) -> Response:
        return render(request, "indicators/show.html", await _context(request, code))

    @get("/{code:str}/encart", name="indicators.embed")
    async def embed(self, request: Request, code: FromPath[str]) -> Response:
        """The snippet: a small page of its own, framed by any site (its own Content-Security-Policy,
        app/http/security.py then adds no X-Frame-Options)."""
        return render(request, "indicators/embed.html", {**await _context(request, code), "css": EMBED_CSS},
                      headers={"Content-Security-Policy": EMBED_CSP})

    @head("/{code:str}/encart", name="indicators.embed_head", media_type="text/html",
          response_headers=[ResponseHeader(name="Content-Security-Policy", value=EMBED_CSP)])
    async def embed_head(self, code: FromPath[str]) -> None:
        """HEAD of the snippet: the GET's status and framing headers, no body (a site checking the
        address before framing it must not read « frame-ancestors 'none' »)."""
        await indicators.template_by_code(code)


HANDLERS = [IndicatorsController]
