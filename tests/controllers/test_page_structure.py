"""What the Nu checker and the accessibility review found beside axe-core (issue 25): headings that
do not jump a level, navigation landmarks told apart by their names, no empty table header, chart
text on a background of the chart's own."""

import re
from html.parser import HTMLParser

from app.tables.catalogue import TrainingSession
from tests.controllers.test_admin_tables import _many_establishments
from tests.controllers.test_analytics import _dataset
from tests.controllers.test_learner_space import _setup
from tests.controllers.test_sessions import _create_session, _ids
from tests.helpers import login


def heading_jumps(html: str) -> list[str]:
    levels = [int(n) for n in re.findall(r"<h([1-6])\b", html)]
    return [f"h{a} → h{b}" for a, b in zip(levels, levels[1:]) if b > a + 1]


def nav_labels(html: str) -> list[str | None]:
    return [(re.search(r'aria-label="([^"]*)"', tag) or [None, None])[1] for tag in re.findall(r"<nav\b[^>]*>", html)]


class _FlowInPhrasing(HTMLParser):
    """Block elements opened inside a <span> (phrasing content: the Nu checker refuses them)."""
    BLOCKS = {"div", "ul", "ol", "p", "table", "form", "fieldset", "h1", "h2", "h3", "h4", "h5", "h6"}
    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "base", "wbr", "embed", "track"}

    def __init__(self):
        super().__init__()
        self.stack, self.found = [], []

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS and "span" in self.stack:
            self.found.append(f"<{tag}> in <span> line {self.getpos()[0]}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag):]


def blocks_in_spans(html: str) -> list[str]:
    parser = _FlowInPhrasing()
    parser.feed(html)
    return parser.found


async def test_session_content_page_headings_do_not_jump(client):
    session, _, _ = await _setup()
    await login(client, "alp001.get")
    page = (await client.get(f"/sessions/{session['id']}/contenu")).text
    assert "Ajouter une activité" in page
    assert heading_jumps(page) == []


async def test_a_list_pages_navigation_landmarks_have_distinct_names(client):
    await _many_establishments(45)
    await login(client, "admin")
    page = (await client.get("/admin/etablissements?per_page=20")).text
    labels = nav_labels(page)
    assert len(labels) >= 3  # the main menu, pagination above and below the list
    assert None not in labels and "" not in labels and len(set(labels)) == len(labels), labels
    ids = await _ids()
    await login(client, "alp001.get")
    sessions = (await client.get(f"/etablissements/{ids['ALP001']}/sessions")).text
    labels = nav_labels(sessions)
    assert None not in labels and len(set(labels)) == len(labels), labels


async def test_a_choice_filter_is_valid_markup(client):
    """The choice field's listbox (<ul>) sits in a <div>, not a <span>; its input is a text field
    (role="combobox" is not allowed on type="search" by the Nu checker)."""
    await login(client, "admin")
    page = (await client.get("/utilisateurs")).text
    field = re.search(r"<input[^>]*role=\"combobox\"[^>]*>", page)[0]
    assert 'type="text"' in field
    assert blocks_in_spans(page) == []


async def test_import_wizard_has_no_empty_table_header(client):
    ids = await _ids()
    await login(client, "alp001.get")
    await _create_session(client, ids["ALP001"])
    session = await TrainingSession.select().first()
    page = (await client.get(f"/sessions/{session['id']}/import")).text
    assert "Nom abrégé du contenu" in page
    assert re.findall(r"<th\b[^>]*>\s*</th>", page) == []


async def test_chart_text_sits_on_the_charts_own_background(client):
    await _dataset()
    await login(client, "alp001.get")
    page = (await client.get("/analytique")).text
    charts = re.findall(r'<svg[^>]*class="chart".*?</svg>', page, flags=re.S)
    assert len(charts) == 3
    for chart in charts:
        width, height = re.search(r'viewBox="0 0 (\S+) (\S+)"', chart).groups()
        background = re.search(r"<(rect|text)\b[^>]*>", chart.split("</desc>")[1])[0]
        assert background.startswith("<rect") and 'fill="#ffffff"' in background
        assert f'width="{width}"' in background and f'height="{height}"' in background
