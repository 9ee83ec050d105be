"""Published indicators (issue 23, Qualiopi indicator 2): public pages per visible template with the
figures of a stated period, against a hand-computed dataset; no person shown; nothing under five
learners; the cache (a change shows only once the cached figures are gone); the snippet (no script,
framed by any site, its style by hash); the links from the login page and the registration."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone

import pytest

from app.dates import today
from app.services import indicators
from app.services.enrolments import add_sources
from app.tables.accounts import User
from app.tables.catalogue import CourseTemplate, SessionSlot, TrainingSession
from app.tables.learning import Attendance, Enrolment, SourceKind
from app.tables.org import Establishment
from tests import factories
from tests.controllers.test_security_headers import _assert_protected
from tests.helpers import text
from tests.services.test_survey_results import answer, q, survey

DONE = datetime(2026, 6, 1, tzinfo=timezone.utc)


async def _template(code: str, visible: bool = True) -> int:
    return (await CourseTemplate.insert(CourseTemplate(code=code, title=f"Accueil des publics {code}", short_name=code,
                                                       visible=visible)).returning(CourseTemplate.id))[0]["id"]


async def indicator_dataset() -> dict:
    """Template I01 (the last 12 months): session A (4 learners, ended 270 days ago), session B (2
    learners and one of A's, ended 170 days ago), 2 slots of 210 min each; a cancelled session and an
    older one that do not count. 6 people; 3 completed; minutes 1,680 of 2,940; satisfaction
    5, 4, 4, 5 and 7/10 → 4.3 over 5 answers (a cold answer aside)."""
    est = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    template = await _template("I01")
    a = await factories.session_with_learners(est, 4, slots=2, start=today() - timedelta(days=270), template=template)
    b = await factories.session_with_learners(est, 2, slots=2, start=today() - timedelta(days=170), template=template)
    await add_sources(b.id, [a.learners[0]], SourceKind.manual)
    b_shared = (await Enrolment.select(Enrolment.id).where((Enrolment.session == b.id)
                                                            & (Enrolment.user == a.learners[0])).first())["id"]
    ea, eb = [a.enrolments[u] for u in a.learners], [b.enrolments[u] for u in b.learners]
    for enrolment, minutes in zip(ea + eb + [b_shared], [420, 420, 210, 0, 420, 0, 210]):
        await Enrolment.update({Enrolment.attended_minutes: minutes}).where(Enrolment.id == enrolment)
    await Enrolment.update({Enrolment.completed_at: DONE}).where(Enrolment.id.is_in([ea[0], ea[1], eb[0]]))
    # Attendance taken in A and B (the minutes above are what it gave): a record on one slot of each.
    slots = {r["session"]: r["id"] for r in await SessionSlot.select(SessionSlot.session, SessionSlot.id).where(
        SessionSlot.session.is_in([a.id, b.id]))}
    await Attendance.insert(Attendance(enrolment=ea[3], slot=slots[a.id], status="absent"),
                            Attendance(enrolment=eb[1], slot=slots[b.id], status="absent"))
    cancelled = await factories.session_with_learners(est, 3, slots=2, start=today() - timedelta(days=200), template=template)
    await TrainingSession.update({TrainingSession.cancelled_at: DONE}).where(TrainingSession.id == cancelled.id)
    await factories.session_with_learners(est, 3, slots=2, start=today() - timedelta(days=800), template=template)
    hot_a = await survey(a.id, [q("Satisfaction", "scale5"), q("Remarques", "text")], anonymous=True)
    hot_b = await survey(b.id, [q("Note", "scale10")])
    cold_a = await survey(a.id, [q("Satisfaction", "scale5")], phase="cold")
    for value in (5, 4, 4, 5):
        await answer(hot_a, a.id, template, "hot", {"0": value, "1": "Formatrice très claire"})
    await answer(hot_b, b.id, template, "hot", {"0": 7}, eb[0], today() - timedelta(days=169))
    await answer(cold_a, a.id, template, "cold", {"0": 1})
    names = [r["last_name"] for r in await User.select(User.last_name).where(
        User.id.is_in(a.learners + b.learners))]
    return {"template": template, "a": a, "b": b, "ea": ea, "names": names}


@pytest.mark.smoke  # the set-based SQL on SQLite too
async def test_the_public_page_shows_the_figures_of_the_period(client):
    data = await indicator_dataset()
    response = await client.get("/indicateurs/I01")  # no login
    assert response.status_code == 200
    _assert_protected(response)
    assert re.search(r"<title>Indicateurs de résultats — Accueil des publics I01 — Tremplin</title>", response.text)
    body = text(response.text)
    period = indicators.default_period(today())
    start, end = period.start, period.end
    assert f"Données du {start:%d/%m/%Y} au {end:%d/%m/%Y}, 6 stagiaires." in body
    assert "Stagiaires formés 6" in body
    assert "Taux d'achèvement 50 %" in body  # 3 of 6
    assert "Taux d'assiduité 57 %" in body  # 1,680 / 2,940
    assert "Satisfaction à chaud 4,3 / 5 5 réponses" in body
    for name in data["names"]:  # no person, ever
        assert name not in response.text
    assert "Formatrice très claire" not in body  # no free text either
    # A whole calendar year, one of those with data, from the select.
    year = (today() - timedelta(days=800)).year
    assert f'<option value="{year}" >Année {year}</option>' in response.text
    old = text((await client.get(f"/indicateurs/i01?year={year}")).text)
    assert f"Données du 01/01/{year} au 31/12/{year}, moins de 5 stagiaires." in old
    assert "trop faible" in old and "Taux d'achèvement" not in old


async def test_under_five_learners_no_figure_and_a_bad_period_says_so(client):
    est = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    template = await _template("I02")
    await factories.session_with_learners(est, 4, slots=2, start=today() - timedelta(days=10), template=template)
    body = text((await client.get("/indicateurs/I02")).text)
    assert "moins de 5 stagiaires." in body and "trop faible (moins de 5)" in body
    assert "Stagiaires formés" not in body and "4 stagiaires" not in body
    for query in ("from=2026-02-31", "from=2026-05-01&to=2026-04-01", "to=2999-01-01", "year=1999", "year=2999",
                  "year=abc", f"year={today().year - 3}", "year=" + "9" * 5000):
        response = await client.get(f"/indicateurs/I02?{query}")
        assert response.status_code == 200, query
        assert "Période invalide : choisissez les 12 derniers mois ou une année de la liste." in text(response.text)
        assert "Les 12 derniers mois sont affichés." in text(response.text)


async def test_no_attendance_rate_where_attendance_was_not_taken(client):
    est = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    template = await _template("I05")
    await factories.session_with_learners(est, 6, slots=2, start=today() - timedelta(days=10), template=template)
    body = text((await client.get("/indicateurs/I05")).text)
    assert "6 stagiaires" in body and "Taux d'assiduité — présences non relevées sur la période" in body


async def test_hidden_or_unknown_templates_are_not_found_and_the_index_lists_the_visible(client):
    await _template("I03", visible=False)
    await _template("I04")
    hidden, unknown = await client.get("/indicateurs/I03"), await client.get("/indicateurs/ZZZ")
    assert hidden.status_code == unknown.status_code == 404 and text(hidden.text) == text(unknown.text)
    assert (await client.get("/indicateurs/" + "9" * 5000)).status_code == 404
    index = await client.get("/indicateurs")
    assert index.status_code == 200 and "/indicateurs/I04" in index.text and "/indicateurs/I03" not in index.text
    assert "<title>Indicateurs de résultats — Tremplin</title>" in index.text
    for page in ("/connexion", "/inscription/"):
        assert 'href="/indicateurs"' in (await client.get(page)).text, page


async def test_the_figures_are_cached(client, redis_client):
    data = await indicator_dataset()
    first = text((await client.get("/indicateurs/I01")).text)
    assert "Taux d'achèvement 50 %" in first
    await Enrolment.update({Enrolment.completed_at: DONE}).where(Enrolment.id.is_in(data["ea"]))  # now 5 of 6
    assert "Taux d'achèvement 50 %" in text((await client.get("/indicateurs/I01")).text)  # from Redis
    key = indicators.cache_key(data["template"], indicators.default_period(today()))
    cached = json.loads(await redis_client.get(key))
    assert cached["completion_rate"] == 50 and 0 < await redis_client.ttl(key) <= indicators.CACHE_TTL
    await redis_client.delete(key)
    assert "Taux d'achèvement 83 %" in text((await client.get("/indicateurs/I01")).text)


async def test_the_snippet_has_no_script_and_may_be_framed(client):
    await indicator_dataset()
    response = await client.get("/indicateurs/I01/encart")
    assert response.status_code == 200
    page = response.text
    assert "<script" not in page.lower() and "<link" not in page and "<img" not in page and "@import" not in page
    assert "x-frame-options" not in response.headers
    csp = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert csp["frame-ancestors"] == "*" and csp["default-src"] == "'none'"
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert csp["style-src"] == f"'sha256-{digest}'"  # the inline style is the one allowed, byte for byte
    body = text(page)
    assert "6 stagiaires" in body and "4,3 / 5" in body
    assert '<title>Indicateurs de résultats — Accueil des publics I01</title>' in page
    # The page offers the code to copy: an iframe of the snippet, in a read-only text area.
    show = (await client.get("/indicateurs/I01")).text
    area = re.search(r"<textarea[^>]*readonly[^>]*>(.*?)</textarea>", show, re.S).group(1)
    assert "&lt;iframe src=&#34;http://testserver.local/indicateurs/I01/encart&#34;" in area or \
        '&lt;iframe src="http://testserver.local/indicateurs/I01/encart"' in area
    # The other pages still refuse framing.
    assert (await client.get("/indicateurs/I01")).headers["x-frame-options"] == "DENY"


async def test_a_session_still_running_does_not_count(client):
    """A session of today (its last slot not over, or ending today) counted 0 % completion before."""
    est = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    template = await _template("I06")
    done = await factories.session_with_learners(est, 5, slots=2, start=today() - timedelta(days=30), template=template)
    await Enrolment.update({Enrolment.completed_at: DONE}).where(Enrolment.id.is_in(list(done.enrolments.values())))
    await factories.session_with_learners(est, 6, slots=2, start=today(), template=template)
    # Ends today, its slots yesterday: not finished before today either.
    late = await factories.session_with_learners(est, 4, slots=2, start=today() - timedelta(days=3), template=template)
    await TrainingSession.update({TrainingSession.end_date: today()}).where(TrainingSession.id == late.id)
    body = text((await client.get("/indicateurs/I06")).text)
    assert "5 stagiaires." in body and "Taux d'achèvement 100 %" in body


async def test_a_learner_unenrolled_after_being_present_stays_counted(client):
    est = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    template = await _template("I07")
    s = await factories.session_with_learners(est, 6, slots=2, start=today() - timedelta(days=30), template=template)
    enrolments = list(s.enrolments.values())
    await Enrolment.update({Enrolment.completed_at: DONE}).where(Enrolment.id.is_in(enrolments[:3]))
    slot = (await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == s.id).first())["id"]
    # Dropped out after the first half-day: unenrolled, present once. Another unenrolled, never present.
    await Attendance.insert(Attendance(enrolment=enrolments[5], slot=slot, status="present"),
                            Attendance(enrolment=enrolments[4], slot=slot, status="absent"))
    await Enrolment.update({Enrolment.active: False}).where(Enrolment.id.is_in(enrolments[4:]))
    body = text((await client.get("/indicateurs/I07")).text)
    assert "5 stagiaires." in body and "Taux d'achèvement 60 %" in body  # 3 of 5, not 3 of 4


async def test_only_fixed_periods_and_bounded_cache_keys(client, redis_client):
    """Free from/to periods could be differenced (each a new cache key) to single out a learner."""
    data = await indicator_dataset()
    keys_before = set(await redis_client.keys(indicators.CACHE_PREFIX + "*"))
    for days_back in range(160, 180, 2):
        start, end = today() - timedelta(days=days_back), today() - timedelta(days=days_back - 20)
        response = await client.get(f"/indicateurs/I01?from={start}&to={end}")
        assert "Période invalide" in text(response.text) and "6 stagiaires." in text(response.text)
    embed = text((await client.get(f"/indicateurs/I01/encart?from={today() - timedelta(days=175)}")).text)
    assert "6 stagiaires" in embed
    keys = set(await redis_client.keys(indicators.CACHE_PREFIX + "*")) - keys_before
    assert keys == {indicators.cache_key(data["template"], indicators.default_period(today())).encode()} or \
        keys == {indicators.cache_key(data["template"], indicators.default_period(today()))}
    # The page's selector: a select and a submit button, no date field.
    show = (await client.get("/indicateurs/I01")).text
    assert '<select name="year"><option value="">Les 12 derniers mois</option>' in show
    assert 'type="date"' not in show
    year = (today() - timedelta(days=800)).year
    assert f"Données du 01/01/{year}" in text((await client.get(f"/indicateurs/I01/encart?year={year}")).text)


async def test_the_snippet_answers_head_with_the_same_headers(client):
    await indicator_dataset()
    get, head = await client.get("/indicateurs/I01/encart"), await client.head("/indicateurs/I01/encart")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-security-policy"] == get.headers["content-security-policy"]
    assert "x-frame-options" not in head.headers
    assert (await client.head("/indicateurs/ZZZ/encart")).status_code == 404
