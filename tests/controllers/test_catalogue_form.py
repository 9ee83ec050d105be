"""The course template form (issue 23 review): « Objectifs pédagogiques » is a textarea that keeps its
line breaks — objectives are stored one per line, numbered for the quizzes' « [Objectif N] » tags. As a
one-line input, saving C03 without touching anything merged its two objectives into one (objective 2's
tagged questions then matched nothing). Posted back as a browser would, the form keeps two objectives;
the template's page lists them one per line."""

import re
from html.parser import HTMLParser

from app.services import assessments
from app.tables.catalogue import CourseTemplate
from tests.helpers import login, post_form, text


class FormValues(HTMLParser):
    """What a browser posts for a page's form, untouched: text inputs (line breaks stripped, as a
    browser's value sanitisation does), textareas (the first newline dropped, CR LF line breaks),
    checked checkboxes, selected options."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self.textareas: set[str] = set()
        self._textarea = self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "checkbox":
                if "checked" in a:
                    self.values[a["name"]] = a.get("value", "on")
            elif kind not in ("submit", "button", "file"):
                self.values[a["name"]] = re.sub("[\r\n]", "", a.get("value") or "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.textareas.add(a["name"])
            self.values[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
            self.values.setdefault(a["name"], "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            value = self.values[self._textarea]
            value = value[1:] if value.startswith("\n") else value
            self.values[self._textarea] = value.replace("\r\n", "\n").replace("\n", "\r\n")
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_of(page: str) -> FormValues:
    parser = FormValues()
    parser.feed(page)
    return parser


async def test_saving_the_template_form_untouched_keeps_its_objectives_one_per_line(client):
    await login(client, "admin")
    c03 = await CourseTemplate.select().where(CourseTemplate.code == "C03").first()
    assert len(assessments.objective_lines(c03["objectives"])) == 2  # the demo's two objectives
    url = f"/catalogue/{c03['id']}/modifier"
    page = (await client.get(url)).text
    form = form_of(page)
    assert "objectives" in form.textareas
    assert "Un objectif par ligne." in text(page)
    saved = await post_form(client, url, {k: v for k, v in form.values.items() if k != "_csrf_token"})
    assert saved.status_code == 303
    row = await CourseTemplate.select(CourseTemplate.objectives).where(CourseTemplate.id == c03["id"]).first()
    assert row["objectives"] == c03["objectives"]  # the browser's CR LF stored as "\n"
    assert await assessments.template_objectives(c03["id"]) == [
        "Identifier les leviers de la qualité de vie au travail.", "Engager une démarche QVT avec son équipe."]
    # The template's page lists them one per line, numbered as the tags number them.
    detail = (await client.get(f"/catalogue/{c03['id']}")).text
    assert ("<ol><li>Identifier les leviers de la qualité de vie au travail.</li>"
            "<li>Engager une démarche QVT avec son équipe.</li></ol>") in detail


async def test_a_two_line_objectives_text_round_trips_through_the_form(client):
    await login(client, "admin")
    typed = {"code": "Z61", "title": "Gestes d'urgence", "objectives": "- Alerter les secours\r\n\r\n- Protéger\tla victime\r\n"}
    assert (await post_form(client, "/catalogue/nouveau", typed)).status_code == 303
    row = await CourseTemplate.select().where(CourseTemplate.code == "Z61").first()
    assert row["objectives"] == "- Alerter les secours\n\n- Protéger la victime"  # lines kept, a tab folded
    # Sent back untouched, and again: still two objectives.
    url = f"/catalogue/{row['id']}/modifier"
    for _ in range(2):
        form = form_of((await client.get(url)).text)
        assert (await post_form(client, url, {k: v for k, v in form.values.items() if k != "_csrf_token"})).status_code == 303
    assert await assessments.template_objectives(row["id"]) == ["Alerter les secours", "Protéger la victime"]
    # An error elsewhere in the form gives the textarea back with its lines.
    refused = await post_form(client, url, {**typed, "title": ""})
    assert refused.status_code == 422
    assert form_of(refused.text).values["objectives"] == "- Alerter les secours\r\n\r\n- Protéger la victime"
