"""PDF rendering: a Jinja template to PDF bytes with WeasyPrint.

Fonts are shipped in static/fonts and declared with @font-face; the URL fetcher only serves files
from static/, so a template (or a user's text in it) can never make the server fetch anything
from the network or read other files.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlparse

from app.settings import STATIC_DIR


class BlockedURL(ValueError):
    pass


def static_only_fetcher(url: str, timeout: int = 10, ssl_context=None, http_headers=None):
    from weasyprint.urls import default_url_fetcher

    parsed = urlparse(url)
    if parsed.scheme == "data":
        return default_url_fetcher(url)
    if parsed.scheme != "file":
        raise BlockedURL(f"Ressource externe refusée : {url}")
    path = Path(unquote(parsed.path)).resolve()
    if STATIC_DIR.resolve() not in path.parents:
        raise BlockedURL(f"Fichier hors de static/ refusé : {url}")
    return default_url_fetcher(path.as_uri())


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=static_only_fetcher).write_pdf()


def render_pdf_sync(template_name: str, context: dict) -> bytes:
    from app.templating import jinja_env

    html = jinja_env().get_template(template_name).render(**context)
    return html_to_pdf(html)


async def render_pdf(template_name: str, context: dict) -> bytes:
    """Render off the event loop: WeasyPrint is CPU-bound."""
    return await asyncio.to_thread(render_pdf_sync, template_name, context)
