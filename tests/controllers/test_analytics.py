"""« TdB des analytics » and « Inscrits » (issue 13): figures against a small dataset computed by
hand, scope, the SVG charts and their text alternative, the CSV and the Excel."""

import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone

import polars as pl
import pytest

from app.tables.accounts import RoleAssignment
from app.tables.catalogue import CourseTemplate, TrainingSession
from app.tables.learning import Enrolment
from app.tables.org import Establishment
from tests.helpers import login, text


def at(month, day):
    return datetime(2026, month, day, 10, 0, tzinfo=timezone.utc)


async def _dataset():
    """ALP001 (session A, template T1): 4 enrolled — done in 10 days, done in 20 days, started,
    never started. ALP002 (session B, T1): done in 30 days, never started, and an unenrolled (inactive)
    record that must not count. DAM001 (session C, no template): 3 done in 1 day."""
    est = {r["code"]: r["id"] for r in await Establishment.select(Establishment.id, Establishment.code)}
    template = (await CourseTemplate.insert(CourseTemplate(code="T1", title="Bientraitance", short_name="BT"))
                .returning(CourseTemplate.id))[0]["id"]
    sessions = {}
    for code, establishment, tpl in (("26T1S1", "ALP001", template), ("26T1S2", "ALP002", template),
                                     ("26X9S1", "DAM001", None)):
        sessions[code] = (await TrainingSession.insert(TrainingSession(
            establishment=est[establishment], template=tpl, full_name=f"Session {code}", short_name=code,
            start_date=date(2026, 1, 5), end_date=date(2026, 6, 30), code=code)).returning(TrainingSession.id))[0]["id"]

    async def learners(code, n):
        rows = await RoleAssignment.select(RoleAssignment.user).where(
            (RoleAssignment.role == "learner") & (RoleAssignment.establishment == est[code])).order_by(RoleAssignment.user)
        return [r["user"] for r in rows[:n]]

    alp1, alp2, dam = await learners("ALP001", 4), await learners("ALP002", 3), await learners("DAM001", 3)
    rows = [
        (sessions["26T1S1"], alp1[0], at(1, 5), at(1, 15), True, True),
        (sessions["26T1S1"], alp1[1], at(1, 10), at(1, 30), True, True),
        (sessions["26T1S1"], alp1[2], at(2, 1), None, True, True),
        (sessions["26T1S1"], alp1[3], at(2, 3), None, False, True),
        (sessions["26T1S2"], alp2[0], at(2, 10), at(3, 12), True, True),
        (sessions["26T1S2"], alp2[1], at(3, 1), None, False, True),
        (sessions["26T1S2"], alp2[2], at(3, 1), at(3, 2), True, False),
        *[(sessions["26X9S1"], u, at(4, 1), at(4, 2), True, True) for u in dam],
    ]
    await Enrolment.insert(*[Enrolment(session=s, user=u, enrolled_at=e, completed_at=c, active=a,
                                       last_visit=e if v else None, required_total=2,
                                       required_done=2 if c else (1 if v else 0), percent=100 if c else 0)
                             for s, u, e, c, v, a in rows])
    # Certificates: a valid one for ALP001's first learner, a revoked one for the second (not counted).
    from app.tables.certificates import Certificate

    done = {r["user"]: r["id"] for r in await Enrolment.select(Enrolment.id, Enrolment.user).where(
        Enrolment.user.is_in(alp1[:2]))}
    await Certificate.insert(
        Certificate(enrolment=done[alp1[0]], code="AAAA1111", pdf_sha256="0" * 64, status="valid"),
        Certificate(enrolment=done[alp1[1]], code="BBBB2222", pdf_sha256="0" * 64, status="revoked"))
    return est, sessions, alp1, dam


def _figures(page: str) -> dict:
    """The "Synthèse" tiles: label -> first value."""
    found = {}
    for dt, dd in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page, flags=re.S):
        found[dt] = text(dd)
    return found


def _row(page: str, caption: str, code: str) -> list[str]:
    table = page.split(f"<caption>{caption}", 1)[1].split("</table>", 1)[0]
    row = re.search(rf"<tr><th scope=\"row\">(?:<span class=\"nowrap\">)?{code}.*?</tr>", table, flags=re.S)
    return [text(c) for c in re.findall(r"<td>(.*?)</td>", row.group(0), flags=re.S)] if row else []


@pytest.mark.smoke
async def test_figures_of_a_get_match_the_hand_computed_dataset(client):
    await _dataset()
    await login(client, "alp001.get")
    response = await client.get("/analytique")
    assert response.status_code == 200
    page = response.text
    figures = _figures(page)
    # 6 active enrolments in ALP001 + ALP002; 4 started; 3 done; times 10, 20, 30 days.
    assert figures["Inscrits"] == "6"
    assert figures["Participation"] == "66,7 %"
    assert figures["Jamais commencé"] == "2"
    assert figures["Taux d'achèvement"] == "50,0 %"
    assert figures["Sessions achevées"] == "3"
    assert figures["Certificats obtenus"] == "1"  # the revoked one does not count
    assert figures["Durée pour achever"] == "20,0 j"
    assert "80e centile 26,0 j" in text(page)  # 20 + 0.6 × (30 − 20)
    # Per establishment: enrolled, participated, never started, done, rate, median, 80th.
    assert _row(page, "Par établissement", "ALP001") == ["4", "3", "1", "2", "1", "50,0 %", "15,0 j", "18,0 j"]
    assert _row(page, "Par établissement", "ALP002") == ["2", "1", "1", "1", "0", "50,0 %", "30,0 j", "30,0 j"]
    assert _row(page, "Par délégation", "ALP")[:4] == ["6", "4", "2", "3"]
    assert _row(page, "Par cours modèle", "T1")[:4] == ["6", "4", "2", "3"]
    # Never another establishment's figures, nor its names.
    assert "DAM001" not in page and "26X9S1" not in page and "CH D&#39;AMBERT" not in page
    assert "Heures de présence : aucune présence saisie." in text(page)  # none recorded (issue 20 point 10)
    months = page.split("<caption>Par mois", 1)[1].split("</table>", 1)[0]
    assert [text(r) for r in re.findall(r"<tr><th scope=\"row\">.*?</tr>", months, flags=re.S)] == [
        "2026-01 2 2", "2026-02 3 0", "2026-03 1 1"]


@pytest.mark.smoke
async def test_admin_counts_the_whole_network_and_filters_narrow_it(client):
    await _dataset()
    await login(client, "admin")
    figures = _figures((await client.get("/analytique")).text)
    assert figures["Inscrits"] == "9" and figures["Sessions achevées"] == "6"
    assert figures["Durée pour achever"] == "5,5 j"  # 1, 1, 1, 10, 20, 30
    est = {r["code"]: r["id"] for r in await Establishment.select(Establishment.id, Establishment.code)}
    page = (await client.get(f"/analytique?establishment={est['ALP002']}")).text
    assert _figures(page)["Inscrits"] == "2"
    page = (await client.get("/analytique?start=2026-02-01&end=2026-03-31")).text
    assert _figures(page)["Inscrits"] == "4"  # enrolled from 1 February to 31 March
    page = (await client.get("/analytique?session=26x9s1")).text
    assert _figures(page)["Inscrits"] == "3"
    # Nonsense is ignored with a French message, what was typed is kept, never a 500.
    response = await client.get("/analytique?start=31/02/2026&establishment=abc&template=1%27")
    assert response.status_code == 200
    assert "« Du » : date invalide" in text(response.text) and 'value="31/02/2026"' in response.text
    assert _figures(response.text)["Inscrits"] == "9"


async def test_a_get_cannot_reach_another_establishment_through_the_filter(client):
    est, *_ = await _dataset()
    await login(client, "alp001.get")
    response = await client.get(f"/analytique?establishment={est['DAM001']}")
    assert response.status_code == 200
    assert _figures(response.text)["Inscrits"] == "6"  # the filter is refused, the scope stays
    assert "Établissement introuvable : filtre ignoré." in text(response.text)
    for table in ("establishment", "session", "delegation", "template", "month"):
        csv = (await client.get(f"/analytique?export=csv&table={table}&establishment={est['DAM001']}")).text
        assert "DAM" not in csv and "26X9S1" not in csv


async def test_charts_are_well_formed_svg_with_a_text_alternative(client):
    await _dataset()
    await login(client, "alp001.get")
    page = (await client.get("/analytique")).text
    charts = re.findall(r"<svg .*?</svg>", page, flags=re.S)
    assert len(charts) == 5  # stacked bar, bar, line, two sparklines
    ns = {"svg": "http://www.w3.org/2000/svg"}
    kinds = set()
    for chart in charts:
        root = ET.fromstring(chart)
        assert root.get("role") == "img"
        title, desc = root.find("svg:title", ns), root.find("svg:desc", ns)
        assert title is not None and title.text.strip() and desc is not None and desc.text.strip()
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        kinds |= {el.tag.split("}")[1] for el in root.iter()}
    assert {"rect", "polyline", "text"} <= kinds
    desc = ET.fromstring(next(c for c in charts if 'id="chart-rate"' in c)).find("svg:desc", ns).text
    assert "ALP001 50,0 %" in desc and "ALP002 50,0 %" in desc
    # Each chart has its table and its downloads.
    assert page.count("export=csv") >= 5 and "export=xlsx" in page


async def test_excel_of_the_whole_dashboard_has_a_sheet_per_table(client):
    await _dataset()
    await login(client, "alp001.get")
    response = await client.get("/analytique?export=xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheets = pl.read_excel(io.BytesIO(response.content), sheet_id=0)
    assert list(sheets) == ["Synthèse", "Par délégation", "Par établissement", "Par cours modèle", "Par session",
                            "Par mois"]
    establishments = sheets["Par établissement"]
    assert establishments["Code"].to_list() == ["ALP001", "ALP002"]
    assert establishments["Inscrits"].to_list() == [4, 2]
    assert establishments["Durée médiane (jours)"].to_list() == [15.0, 30.0]
    summary = dict(zip(sheets["Synthèse"]["Indicateur"], sheets["Synthèse"]["Valeur"]))
    assert summary["Sessions achevées"] == 3 and summary["Certificats obtenus (valides)"] == 1
    csv = (await client.get("/analytique?export=csv&table=establishment")).content.decode("utf-8-sig")
    assert csv.splitlines()[1].startswith("ALP001;CH BUIS LES BARONNIES;4;3;1;2;1;50,0;15,0")


async def test_figures_are_cached_and_say_when_they_were_computed(client):
    est, sessions, alp1, _ = await _dataset()
    await login(client, "alp001.get")
    first = (await client.get("/analytique")).text
    assert "Données du " in text(first)
    await Enrolment.update({Enrolment.active: False}).where(Enrolment.user == alp1[0])
    # Within the cache's lifetime, the same figures (and the same date).
    assert _figures((await client.get("/analytique")).text)["Inscrits"] == "6"
    from app.jobs.analytics import refresh_analytics  # noqa: F401 - the cron job exists

    redis = client._transport.app.state.redis
    await redis.delete(*[k async for k in redis.scan_iter("analytics:*")])
    assert _figures((await client.get("/analytique")).text)["Inscrits"] == "5"


@pytest.mark.smoke
async def test_enrolled_report_and_the_page_of_one_person(client):
    est, sessions, alp1, dam = await _dataset()
    await login(client, "alp001.get")
    page = (await client.get("/analytique/inscrits")).text
    assert "1–6 sur 6" in text(page)  # the six active enrolments of ALP001 and ALP002
    assert "26X9S1" not in page
    assert "1–1 sur 1" in text((await client.get("/analytique/inscrits?progress=started")).text)
    assert "1–3 sur 3" in text((await client.get("/analytique/inscrits?progress=completed")).text)
    link = f"/analytique/inscrits/{alp1[0]}"
    assert link in page
    person = await client.get(link)
    assert person.status_code == 200
    assert "26T1S1" in person.text and "100 %" in text(person.text) and "Certificat du " in text(person.text)
    assert "Session achevée, pas encore de certificat" in text((await client.get(f"/analytique/inscrits/{alp1[1]}")).text)
    # Someone outside the scope: the very page of a missing id.
    outside, missing = await client.get(f"/analytique/inscrits/{dam[0]}"), await client.get("/analytique/inscrits/999999")
    assert outside.status_code == missing.status_code == 404
    assert outside.text == missing.text and "Utilisateur introuvable." in text(outside.text)
    excel = pl.read_excel(io.BytesIO((await client.get("/analytique/inscrits?export=xlsx")).content))
    assert excel.height == 6


async def test_managers_home_and_navigation_link_the_dashboard(client):
    await login(client, "alp001.get")
    page = (await client.get("/")).text
    assert 'href="/analytique"' in page and 'href="/analytique/inscrits"' in page


async def test_one_month_is_drawn_and_attendance_hours_are_told(client):
    """Issue 20 point 10: with one month of enrolments « Participation dans le temps » still shows
    its point (a dot: a line needs two); « Heures de présence » says none were recorded, then
    shows the hours once attendance is recorded."""
    from app.services.enrolments import add_sources
    from app.tables.learning import SourceKind

    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session QVT", short_name="QVT", start_date=date(2026, 3, 9),
        end_date=date(2026, 3, 10), code="26X00S1")).returning(TrainingSession.id))[0]["id"]
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == alp001)).limit(2)]
    await add_sources(session_id, learners, SourceKind.manual)
    await login(client, "alp001.get")
    page = (await client.get("/analytique")).text
    chart = re.search(r'<svg [^>]*id="chart-months".*?</svg>', page, flags=re.S).group(0)
    assert chart.count("<circle ") == 2  # enrolments and completions of the one month
    assert "Heures de présence : aucune présence saisie." in text(page)
    await Enrolment.update({Enrolment.attended_minutes: 210}).where(Enrolment.user == learners[0])
    redis = client._transport.app.state.redis
    cached = [k async for k in redis.scan_iter("analytics:*")]
    if cached:
        await redis.delete(*cached)
    page = (await client.get("/analytique")).text
    assert "Heures de présence : 3,5 h saisies sur les créneaux, pour 1 inscrit(s)." in text(page)


async def test_the_page_shows_the_largest_rows_and_the_downloads_all_of_them(client):
    """Issue 24 (ten times the data): at 20,000 sessions the whole figures are megabytes, read back
    from the cache on every view. The page's figures are kept apart with each table's first 15 rows
    and their number; the CSV and the Excel still have every row."""
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    learner = (await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == alp001)).first())["user"]
    ids = [r["id"] for r in await TrainingSession.insert(*[TrainingSession(
        establishment=alp001, full_name=f"Session {n}", short_name=f"S{n}", start_date=date(2026, 1, 5),
        end_date=date(2026, 6, 30), code=f"26Z{n:02d}S1") for n in range(20)]).returning(TrainingSession.id)]
    await Enrolment.insert(*[Enrolment(session=s, user=learner, enrolled_at=at(1, 5), required_total=1) for s in ids])
    await login(client, "alp001.get")
    page = (await client.get("/analytique")).text
    assert "Par session — les 15 plus grands sur 20 (tous dans les téléchargements)" in text(page)
    sessions = page.split("<caption>Par session", 1)[1].split("</table>", 1)[0]
    assert sessions.count('<th scope="row">') == 15
    csv = (await client.get("/analytique?export=csv&table=session")).content.decode("utf-8-sig")
    assert len(csv.splitlines()) == 1 + 20
    excel = pl.read_excel(io.BytesIO((await client.get("/analytique?export=xlsx")).content), sheet_name="Par session")
    assert excel.height == 20
    # What every view reads back holds 15 sessions; the whole figures (downloads) all 20.
    redis = client._transport.app.state.redis
    values = {k: json.loads(await redis.get(k)) async for k in redis.scan_iter("analytics:*") if not k.endswith(b":computing")}
    assert sorted(len(v["session"]) for v in values.values()) == [15, 20]
