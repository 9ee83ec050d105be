"""PDF rendering with the real WeasyPrint; the text is checked with pypdf."""

import io

import pytest
from pypdf import PdfReader

from app.pdf.render import BlockedURL, StaticOnlyFetcher, check_url, html_to_pdf, render_html, render_pdf
from app.settings import STATIC_DIR

CONTEXT = {
    "title": "Bulletin d'inscription",
    "generated": "vendredi 2 octobre 2026, 11:00",
    "rows": [("Nom", "Élodie D'Artagnan-Lé"), ("Remarque", "<b>pas du HTML</b>")],
}


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.smoke
async def test_a_template_becomes_a_pdf_with_escaped_text():
    pdf = await render_pdf("pdf/sample.html", CONTEXT)
    assert pdf.startswith(b"%PDF")
    content = _text(pdf)
    assert "Bulletin d" in content and "inscription" in content
    assert "Élodie D'Artagnan-Lé" in content
    assert "<b>pas du HTML</b>" in content  # user text is escaped, not interpreted
    assert "Page 1 / 1" in content


def test_the_font_comes_from_static_fonts_and_nothing_else():
    from concurrent.futures import ThreadPoolExecutor

    fetcher = StaticOnlyFetcher()
    # A thread of its own: the fonts are loaded once per thread and kept (app/pdf/render.py), so a
    # render run earlier in this thread by another test would leave nothing to fetch here.
    with ThreadPoolExecutor(1) as fresh:
        pdf = fresh.submit(html_to_pdf, render_html("pdf/sample.html", CONTEXT), fetcher).result()
    assert (STATIC_DIR / "fonts" / "DejaVuSans.ttf").as_uri() in fetcher.fetched
    fonts = {
        str(font.get("/BaseFont"))
        for page in PdfReader(io.BytesIO(pdf)).pages
        for font in page["/Resources"]["/Font"].values()
    }
    # WeasyPrint names embedded @font-face fonts after their family: no system fallback slipped in.
    assert fonts and all("Tremplin-Sans" in f for f in fonts), fonts


def test_the_kept_stylesheet_gives_the_same_pdf_as_the_style_element():
    """Without an explicit fetcher the <style> is parsed once per thread and kept: same bytes."""
    html = render_html("pdf/sample.html", CONTEXT)
    inline = html_to_pdf(html, StaticOnlyFetcher())
    assert html_to_pdf(html) == inline == html_to_pdf(html)
    changed = html_to_pdf(html.replace("font-size: 10pt", "font-size: 14pt", 1))
    assert changed != inline  # keyed by the style's text: another style is parsed anew


def test_remote_and_local_files_are_never_fetched(tmp_path):
    secret = tmp_path / "secret.css"
    secret.write_text("p { color: red }")
    html = (
        '<img src="http://127.0.0.1:9/tracker.png"><img src="file:///etc/passwd">'
        f'<link rel="stylesheet" href="{secret.as_uri()}"><link rel="stylesheet" href="https://example.org/x.css">'
        "<p>Texte</p>"
    )
    fetcher = StaticOnlyFetcher()
    pdf = html_to_pdf(html, fetcher)  # WeasyPrint logs and skips what the fetcher refuses
    assert "Texte" in _text(pdf)
    assert fetcher.fetched == []


def test_check_url_refuses_what_is_outside_static():
    for url in ("http://127.0.0.1/x.png", "https://example.org/a.css", "file:///etc/passwd", "ftp://x/y",
                (STATIC_DIR / ".." / "pyproject.toml").as_uri()):
        with pytest.raises(BlockedURL):
            check_url(url)
    check_url((STATIC_DIR / "fonts" / "DejaVuSans.ttf").as_uri())
    check_url("data:text/plain,abc")
