"""Issue 24, point 5: a filter whose choices grow without bound (sessions, public sign-up
organisations, establishments) is a text field, never a <select> of every choice. The typed text
filters the list without JavaScript (accent- and case-insensitive); with it, the list's own route
suggests at most 20 matching choices (``?suggest=<filter>``), within what the caller may see, and a
picked choice (its id) filters exactly."""

import html
import re
from datetime import datetime, timezone

import pytest

from app.datatable import SUGGESTIONS
from app.tables.catalogue import TrainingSession
from app.tables.org import Establishment
from app.tables.registration import Organisation, RegistrationRequest
from tests import factories
from tests.helpers import login, text

REQUESTS = "/gestion-inscriptions/demandes/"
HX = {"HX-Request": "true"}
SENT = datetime(2026, 3, 2, 10, 30, tzinfo=timezone.utc)
_serial = iter(range(1, 10_000))


async def _organisations(names: list[str], postal_code: str = "26110", city: str = "Nyons") -> list[int]:
    rows = await Organisation.insert(*[Organisation(name=n, postal_code=postal_code, city=city) for n in names]).returning(
        Organisation.id)
    return [r["id"] for r in rows]


async def _request(last_name: str, session: int | None = None, organisation: int | None = None) -> None:
    n = next(_serial)
    await RegistrationRequest.insert(RegistrationRequest(
        reference=f"CF-{n}", status="confirmed", session=session, organisation=organisation, first_name="Ana",
        last_name=last_name, email=f"cf{n}@example.org", submitted_at=SENT))


async def _session(establishment_code: str, code: str, name: str) -> int:
    establishment = (await Establishment.select(Establishment.id).where(Establishment.code == establishment_code).first())
    built = await factories.session_with_learners(establishment["id"], learners_count=0, slots=0)
    await TrainingSession.update({TrainingSession.code: code, TrainingSession.full_name: name,
                                  TrainingSession.search_text: f"{code.lower()} {name.lower()}"}).where(
        TrainingSession.id == built.id)
    return built.id


def _options(fragment: str) -> list[str]:
    return [html.unescape(label) for label in re.findall(r'data-label="([^"]*)"', fragment)]


async def test_the_requests_page_lists_no_organisation_or_session_in_its_filters(client):
    ids = await _organisations([f"Mairie de Saint-Test {i:03d}" for i in range(300)])
    await _request("Lys", organisation=ids[0])
    await login(client, "inscriptions")
    page = (await client.get(REQUESTS)).text
    start = page.index('<form class="filters"')
    form = page[start:page.index("</form>", start)]
    # Only the fixed choices are options: the states and « par page », whatever the organisations.
    assert "Saint-Test" not in form and form.count("<option") < 20
    assert 'name="organisation_q"' in form and 'role="combobox"' in form and 'name="session_q"' in form
    assert 'data-hx-get="/gestion-inscriptions/demandes?suggest=organisation"' in form


@pytest.mark.smoke
async def test_typed_text_filters_the_list_without_javascript_whatever_accents_case_and_hyphens(client):
    mollans, nyons = await _organisations(["Mairie de Mollans-sur-Ouvèze", "Mairie de Nyons-Test"], "26170", "Mollans")
    await _request("Mollandais", organisation=mollans)
    await _request("Nyonsais", organisation=nyons)
    await login(client, "inscriptions")
    for typed in ("mollans sur ouveze", "MOLLANS-SUR-OUVÈZE", "ouvèze"):
        body = text((await client.get(REQUESTS, params={"organisation_q": typed})).text)
        assert "Mollandais" in body and "Nyonsais" not in body, typed
    body = text((await client.get(REQUESTS, params={"organisation_q": "introuvable"})).text)
    assert "Aucune ligne ne correspond" in body


async def test_suggestions_are_bounded_accent_insensitive_and_only_what_the_list_refers_to(client):
    referred = await _organisations([f"Mairie de Saint-Étienne-{i:02d}" for i in range(SUGGESTIONS + 5)])
    await _organisations(["Mairie de Saint-Étienne-Sans-Demande"])
    for org in referred:
        await _request("Stéphanois", organisation=org)
    await login(client, "inscriptions")
    fragment = (await client.get(REQUESTS, params={"suggest": "organisation", "organisation_q": "saint etienne"},
                                 headers=HX)).text
    labels = _options(fragment)
    assert len(labels) == SUGGESTIONS and labels[0] == "Mairie de Saint-Étienne-00 (26110 Nyons)"
    assert "D&#39;autres correspondent" in fragment or "D'autres correspondent" in fragment
    assert "Sans-Demande" not in fragment  # no request refers to it: filtering on it would show nothing
    assert '<tr' not in fragment and "<html" not in fragment  # the options only, not the page
    one = (await client.get(REQUESTS, params={"suggest": "organisation", "organisation_q": "ETIENNE-07"})).text
    assert _options(one) == ["Mairie de Saint-Étienne-07 (26110 Nyons)"] and "autres" not in one
    none = (await client.get(REQUESTS, params={"suggest": "organisation", "organisation_q": "zzz"})).text
    assert _options(none) == [] and "Aucune correspondance" in none
    assert _options((await client.get(REQUESTS, params={"suggest": "nimportequoi", "q": "a"})).text) == []


@pytest.mark.smoke
async def test_a_picked_session_filters_exactly_until_another_text_is_typed(client):
    # 26C03S1 is contained in 26C03S10: a text filter finds both, the picked one only itself.
    s1 = await _session("ALP001", "26C03S1", "Accueil des agents")
    s10 = await _session("ALP001", "26C03S10", "Accueil des agents, suite")
    await _request("Premier", session=s1)
    await _request("Dixième", session=s10)
    await login(client, "inscriptions")
    suggested = _options((await client.get(REQUESTS, params={"suggest": "session", "session_q": "26c03s1"})).text)
    assert suggested == ["26C03S1 — Accueil des agents", "26C03S10 — Accueil des agents, suite"]
    both = text((await client.get(REQUESTS, params={"session_q": "26C03S1"})).text)
    assert "Premier" in both and "Dixième" in both
    page = (await client.get(REQUESTS, params={"session": s1})).text
    assert "Premier" in text(page) and "Dixième" not in text(page)
    assert 'value="26C03S1 — Accueil des agents"' in page and f'name="session" value="{s1}"' in page
    # The form sent again as it is (no JavaScript: the hidden id comes along): still exact.
    same = text((await client.get(REQUESTS, params={"session": s1, "session_q": "26c03s1 — accueil des AGENTS"})).text)
    assert "Premier" in same and "Dixième" not in same
    # Another text typed in the field: the text filters, the id is dropped (and so are its links).
    page = (await client.get(REQUESTS, params={"session": s1, "session_q": "suite"})).text
    assert "Dixième" in text(page) and "Premier" not in text(page) and f"session={s1}" not in page
    # The Excel export (and its background job) filters the same way.
    csv = (await client.get(REQUESTS, params={"session": s1, "export": "csv"})).text
    assert "Premier" in csv and "Dixième" not in csv


async def test_a_session_no_request_refers_to_is_neither_suggested_nor_named(client):
    elsewhere = await _session("DAM001", "26Z99S1", "Session interne de Damas")
    await login(client, "inscriptions")
    assert _options((await client.get(REQUESTS, params={"suggest": "session", "session_q": "26z99"})).text) == []
    page = (await client.get(REQUESTS, params={"session": elsewhere})).text
    assert "Session interne de Damas" not in page and "Aucune ligne ne correspond" in text(page)


async def test_establishment_suggestions_stay_within_the_callers_scope(client):
    await login(client, "alp001.get")  # the GET of ALP001 and ALP002
    for path in ("/utilisateurs", "/analytique/inscrits"):
        mine = _options((await client.get(path, params={"suggest": "establishment", "establishment_q": "alp"})).text)
        assert mine and all(label.startswith(("ALP001", "ALP002")) for label in mine), path
        theirs = (await client.get(path, params={"suggest": "establishment", "establishment_q": "dam001"})).text
        assert _options(theirs) == [], path
    dam001 = (await Establishment.select(Establishment.id, Establishment.name).where(
        Establishment.code == "DAM001").first())
    forged = (await client.get("/utilisateurs", params={"establishment": dam001["id"]})).text
    assert "Aucune ligne" in text(forged) and dam001["name"] not in forged and "DAM001" not in forged


async def test_a_picked_establishment_filters_the_users_list(client):
    from app.tables.accounts import User

    alp002 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP002").first())["id"]
    await factories.learners(alp002, 3, prefix="cf")
    in_alp002 = await User.count().where(User.establishment == alp002)
    await login(client, "admin")
    body = (await client.get("/utilisateurs", params={"establishment": alp002, "per_page": 100})).text
    assert f"sur {in_alp002}" in text(body) and 'value="ALP002 — ' in body
    typed = text((await client.get("/utilisateurs", params={"establishment_q": "alp002", "per_page": 100})).text)
    assert f"sur {in_alp002}" in typed


async def test_the_analytics_dashboard_filters_on_a_typed_or_picked_establishment_and_template(client):
    from tests.controllers.test_analytics import _dataset, _figures

    est, *_ = await _dataset()
    await factories.establishments(60, code_prefix="ZZQ")
    await login(client, "admin")
    page = (await client.get("/analytique")).text
    start = page.index('<form class="filters"')
    form = page[start:page.index("</form>", start)]
    assert "ZZQ" not in form and "<option" in form and form.count("<option") < 10  # « Public » only
    assert 'name="establishment_q"' in form and 'name="template_q"' in form and 'role="combobox"' in form
    suggested = _options((await client.get("/analytique", params={"suggest": "establishment",
                                                                  "establishment_q": "zzq"})).text)
    assert len(suggested) == SUGGESTIONS and all(label.startswith("ZZQ") for label in suggested)
    # Without JavaScript: a text naming one establishment filters on it ...
    page = (await client.get("/analytique", params={"establishment_q": "alp002"})).text
    assert _figures(page)["Inscrits"] == "2" and f'name="establishment" value="{est["ALP002"]}"' in page
    # ... one naming several offers them as links, the figures unfiltered.
    page = (await client.get("/analytique", params={"establishment_q": "alp"})).text
    assert _figures(page)["Inscrits"] == "9" and "plusieurs correspondent à « alp »" in text(page)
    assert f"establishment={est['ALP002']}" in page
    assert "aucun ne correspond à « xyz »" in text((await client.get("/analytique?template_q=xyz")).text)


async def test_dashboard_suggestions_stay_within_the_callers_scope(client):
    await login(client, "alp001.get")
    mine = _options((await client.get("/analytique", params={"suggest": "establishment", "establishment_q": "alp"})).text)
    assert mine and all(label.startswith(("ALP001", "ALP002")) for label in mine)
    page = (await client.get("/analytique", params={"establishment_q": "dam001"})).text
    assert "aucun ne correspond à « dam001 »" in text(page)


async def test_survey_results_filter_on_a_typed_or_picked_template(client):
    from app.tables.catalogue import CourseTemplate

    templates = {r["code"]: r for r in await CourseTemplate.select(CourseTemplate.id, CourseTemplate.code,
                                                                     CourseTemplate.title)}
    code, one = sorted(templates.items())[0]
    await login(client, "admin")
    page = (await client.get("/questionnaires")).text
    start = page.index('<form class="filters"')
    form = page[start:page.index("</form>", start)]
    assert one["title"] not in form and 'name="template_q"' in form and 'role="combobox"' in form
    suggested = _options((await client.get("/questionnaires", params={"suggest": "template",
                                                                      "template_q": code})).text)
    assert f"{code} — {one['title']}" in suggested
    # Typed without JavaScript, naming one template: the page is about it.
    page = text((await client.get("/questionnaires", params={"template_q": code.lower()})).text)
    assert f"Questionnaires — {code} {one['title']}" in page
    page = text((await client.get("/questionnaires", params={"template": one["id"]})).text)
    assert f"Questionnaires — {code} {one['title']}" in page
    page = text((await client.get("/questionnaires", params={"template_q": "zzzz"})).text)
    assert "aucun ne correspond à « zzzz »" in page and "toutes les formations" in page
    assert (await client.get("/questionnaires", params={"template": 999999})).status_code == 404
