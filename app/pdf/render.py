"""PDF rendering: a Jinja template to PDF bytes with WeasyPrint.

Fonts are shipped in static/fonts and declared with @font-face; the URL fetcher only serves files
from static/ (and data: URIs), so a template, or a user's text in it, can never make the server
fetch anything from the network or read another file.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

from weasyprint.urls import URLFetcher

from app.settings import STATIC_DIR


class BlockedURL(ValueError):
    pass


class StaticOnlyFetcher(URLFetcher):
    def __init__(self, **kwargs):
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False, **kwargs)
        self.fetched: list[str] = []

    def fetch(self, url, headers=None):
        check_url(url)
        self.fetched.append(url)
        return super().fetch(url, headers)


def check_url(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme == "data":
        return
    if parsed.scheme != "file":
        raise BlockedURL(f"Ressource externe refusée : {url}")
    path = Path(unquote(parsed.path)).resolve()
    if STATIC_DIR.resolve() not in path.parents:
        raise BlockedURL(f"Fichier hors de static/ refusé : {url}")


_local = threading.local()


def _font_config():
    """One WeasyPrint FontConfiguration per thread, kept: the @font-face fonts (static/fonts) are
    loaded into Fontconfig once instead of at every document — half of a certificate's render time.
    WeasyPrint skips a font face it has already added; per thread, as Fontconfig objects are not
    shared across threads."""
    config = getattr(_local, "font_config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _local.font_config = FontConfiguration()
    return config


def html_to_pdf(html: str, fetcher: StaticOnlyFetcher | None = None) -> bytes:
    from weasyprint import HTML

    return HTML(
        string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=fetcher or StaticOnlyFetcher()
    ).write_pdf(font_config=_font_config())


def render_html(template_name: str, context: dict) -> str:
    from app.templating import jinja_env

    return jinja_env().get_template(template_name).render(**context)


def render_pdf_sync(template_name: str, context: dict) -> bytes:
    return html_to_pdf(render_html(template_name, context))


async def render_pdf(template_name: str, context: dict) -> bytes:
    """Render off the event loop: WeasyPrint is CPU-bound."""
    return await asyncio.to_thread(render_pdf_sync, template_name, context)
