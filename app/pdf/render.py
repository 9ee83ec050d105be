"""PDF rendering: a Jinja template to PDF bytes with WeasyPrint.

Fonts are shipped in static/fonts and declared with @font-face; the URL fetcher only serves files
from static/ (and data: URIs), so a template, or a user's text in it, can never make the server
fetch anything from the network or read another file.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

from weasyprint.urls import URLFetcher

from app.jinja import base_env
from app.pdf import bounded
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


_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_STYLESHEETS_KEPT = 32  # per thread: a few templates, each with one <style> text


def _stylesheet(text: str):
    """The document's <style> parsed once per thread and kept, keyed by its text: parsing it (and
    its @font-face rules) again for every certificate of a ZIP is a tenth of the render. The PDF is
    byte-identical to one whose <style> is parsed in place (tests/services/test_pdf.py)."""
    kept = getattr(_local, "stylesheets", None)
    if kept is None:
        kept = _local.stylesheets = {}
    css = kept.get(text)
    if css is None:
        from weasyprint import CSS

        if len(kept) >= _STYLESHEETS_KEPT:
            kept.pop(next(iter(kept)))
        css = kept[text] = CSS(string=text, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=StaticOnlyFetcher(),
                               font_config=_font_config())
    return css


_IMAGES_KEPT = 300  # per thread: a few entries per image; emptied when full


def _image_cache() -> dict:
    """WeasyPrint's image cache, kept per thread: an image used by every document (the provider's
    stamp on each certificat de réalisation of a ZIP) is decoded and re-encoded once, not at every
    render. Keyed by the image's URL (a data: URI is its content), so the PDF bytes are the same.
    Emptied when it holds more than _IMAGES_KEPT entries (each certificate's own QR code adds some)."""
    cache = getattr(_local, "images", None)
    if cache is None or len(cache) > _IMAGES_KEPT:
        cache = _local.images = {}
    return cache


def layout(html: str, fetcher: StaticOnlyFetcher | None = None):
    """This HTML laid out in pages (a WeasyPrint Document). Without an explicit fetcher (to inspect
    what was fetched), the first <style> element is taken out and applied as a kept, pre-parsed
    stylesheet."""
    from weasyprint import HTML

    stylesheets = []
    if fetcher is None:
        match = _STYLE.search(html)
        if match:
            stylesheets.append(_stylesheet(match.group(1)))
            html = html[:match.start()] + html[match.end():]
    return HTML(
        string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=fetcher or StaticOnlyFetcher()
    ).render(font_config=_font_config(), stylesheets=stylesheets, cache=_image_cache())


# Every PDF is tagged PDF/UA-1 (issue 25, RGAA): a structure tree from the HTML (headings, tables,
# paragraphs), /MarkInfo Marked, /Lang from <html lang="fr">, /Title from the template's <title>
# shown as the window title (/DisplayDocTitle). tests/services/test_pdf_tagged.py checks each kind.
# A sealed document (a certificate, a signed sheet: its SHA-256 recorded, copies handed out) renders
# byte for byte as it was issued: one issued before tagging has no TAGGED key in its snapshot and
# stays untagged (tagged=False); those issued since carry TAGGED: True.
TAGGED = "pdf_ua"


def _options(tagged: bool) -> dict:
    return {"pdf_variant": "pdf/ua-1"} if tagged else {}


def write_documents(documents: list, tagged: bool = True) -> bytes:
    """One PDF of the pages of these laid-out documents, in order (each keeps its page numbers)."""
    return documents[0].copy([page for document in documents for page in document.pages]).write_pdf(**_options(tagged))


def html_to_pdf(html: str, fetcher: StaticOnlyFetcher | None = None, tagged: bool = True) -> bytes:
    """The PDF of this HTML (see ``layout``)."""
    return layout(html, fetcher).write_pdf(**_options(tagged))


@lru_cache(maxsize=1)
def documents_env():
    """The documents' Jinja environment: the French filters only (app/jinja.py), no page labels."""
    return base_env()


def render_html(template_name: str, context: dict) -> str:
    return documents_env().get_template(template_name).render(**context)


def render_pdf_sync(template_name: str, context: dict, tagged: bool = True) -> bytes:
    return html_to_pdf(render_html(template_name, context), tagged=tagged)


async def render_pdf(template_name: str, context: dict) -> bytes:
    """Render off the event loop and off this process, with a deadline (app/pdf/bounded.py):
    WeasyPrint is CPU-bound, and a pathological document must not block a web process or a worker."""
    return await bounded.run_async(render_pdf_sync, template_name, context)
