"""Guards on the code itself: what a review would otherwise have to remember."""

import re

from tests.conftest import ROOT

SOURCES = [p for d in ("app", "static", "tests", "bench") for p in (ROOT / d).rglob("*")
           if p.is_file() and p.suffix in {".py", ".html", ".css", ".js", ".md"}]


def test_no_merge_conflict_markers_left():
    marked = [str(p.relative_to(ROOT)) for p in SOURCES
              if re.search(r"^(<<<<<<< |>>>>>>> )", p.read_text(errors="replace"), flags=re.M)]
    assert marked == []


def test_controllers_render_through_the_one_responder():
    """Pages go through app/http/responder.render (partial only for a real htmx swap, Vary header):
    no controller builds a Template response itself."""
    direct = [f"{p.name}:{n}" for p in (ROOT / "app" / "controllers").glob("*.py")
              for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"\bTemplate\(", line)]
    assert direct == []
