"""« Vue d'ensemble des inscrits » (issue 10 §3, SPEC D2): rows, percent and activity cells of a small
hand-made session, every filter and sort, the download of a selection or of the list (Excel read back,
CSV parsed), scope, and a manager marking / unmarking an activity for a learner."""

import csv
import io
import re
from datetime import date, datetime, timezone

import polars as pl
import pytest

from app.services import learning
from app.services.enrolments import add_sources
from app.services.text import user_text_fields
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import SessionActivity, TrainingSession
from app.tables.cohorts import Cohort
from app.tables.learning import ActivityCompletion, CompletionHow, Enrolment, SourceKind
from app.tables.org import Establishment
from tests.helpers import login, post_form, text

NAMES = [("Zoé", "Arnaud"), ("Bruno", "Bélier"), ("Chloé", "Caron"), ("Denis", "Dupont"), ("Élise", "Ewald")]
T1 = datetime(2025, 5, 28, 16, 8, tzinfo=timezone.utc)  # mercredi 28 mai 2025, 18:08 in Paris
T2 = datetime(2025, 6, 2, 7, 30, tzinfo=timezone.utc)
T3 = datetime(2025, 5, 28, 17, 8, tzinfo=timezone.utc)


async def _establishment(code):
    return (await Establishment.select(Establishment.id).where(Establishment.code == code).first())["id"]


async def _dataset():
    """A session of ALP001 with 3 activities (2 required) and 5 learners:
    Arnaud completed everything (visited T1), Bélier half-way (visited T2, in cohort "Groupe A"),
    Caron nothing and never visited, Dupont nothing but visited T3, Ewald unenrolled (not shown)."""
    alp001 = await _establishment("ALP001")
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session QVT", short_name="QVT", start_date=date(2025, 5, 2),
        end_date=date(2025, 6, 30), code="25X00S1")).returning(TrainingSession.id))[0]["id"]
    activities = [a["id"] for a in await SessionActivity.insert(*[
        SessionActivity(session=session_id, position=i, kind="page", title=title, required=required)
        for i, (title, required) in enumerate([("Lire la charte", True), ("Vidéo d'accueil", False),
                                               ("=Quiz final", True)])]).returning(SessionActivity.id)]
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == alp001)).order_by(RoleAssignment.user)][:5]
    for user_id, (first, last) in zip(learners, NAMES):
        await User.update({User.first_name: first, User.last_name: last, **{
            getattr(User, k): v for k, v in user_text_fields(first, last).items()}}).where(User.id == user_id)
    await add_sources(session_id, learners, SourceKind.manual)
    cohort = (await Cohort.insert(Cohort(establishment=alp001, name="Groupe A")).returning(Cohort.id))[0]["id"]
    await add_sources(session_id, [learners[1]], SourceKind.cohort, cohort=cohort)
    enrolments = {r["user"]: r["id"] for r in await Enrolment.select(Enrolment.id, Enrolment.user).where(
        Enrolment.session == session_id)}
    e = [enrolments[u] for u in learners]
    for activity in activities:
        await learning.set_completion(e[0], activity, True, CompletionHow.manual)
    await learning.set_completion(e[1], activities[0], True, CompletionHow.manual)
    await ActivityCompletion.update({ActivityCompletion.completed_at: T1}).where(ActivityCompletion.enrolment == e[1])
    await Enrolment.update({Enrolment.last_visit: T1}).where(Enrolment.id == e[0])
    await Enrolment.update({Enrolment.last_visit: T3}).where(Enrolment.id == e[3])
    await Enrolment.update({Enrolment.last_visit: T2}).where(Enrolment.id == e[1])
    await Enrolment.update({Enrolment.active: False}).where(Enrolment.id == e[4])
    return {"session": session_id, "activities": activities, "enrolments": e, "cohort": cohort, "learners": learners}


def _cells(row: str) -> list[str]:
    """The activity cells of a row: ✓ (done, its date under it) or – (not done)."""
    return ["✓ oui" if symbol == "✓" else "– non" for symbol in re.findall(r"<td(?: class=ok)?>([✓–])", row)]


def _names(page: str) -> list[str]:
    return re.findall(r'<th scope=row><a id=n\d+ href="[^"]+">([^<]+)</a>', page)


@pytest.mark.smoke
async def test_rows_percent_and_cells(client):
    data = await _dataset()
    await login(client, "alp001.get")
    session_page = await client.get(f"/sessions/{data['session']}/")
    assert f'href="/sessions/{data["session"]}/progression"' in session_page.text
    response = await client.get(f"/sessions/{data['session']}/progression")
    assert response.status_code == 200
    page = response.text
    assert _names(page) == ["Zoé Arnaud", "Bruno Bélier", "Chloé Caron", "Denis Dupont"]  # Ewald left
    rows = {name: row for name, row in re.findall(
        r'<th scope=row><a [^>]+>([^<]+)</a>(.*?)(?=<tr>|</tbody>)', page, flags=re.S)}
    assert "mercredi 28 mai 2025, 18:08" in rows["Zoé Arnaud"] and "100 %" in rows["Zoé Arnaud"]
    assert "lundi 2 juin 2025, 09:30" in rows["Bruno Bélier"] and "50 %" in rows["Bruno Bélier"]
    assert "Jamais" in rows["Chloé Caron"] and "0 %" in rows["Chloé Caron"]
    # One cell per activity: done (symbol, words, date in the title) or not.
    assert _cells(rows["Zoé Arnaud"]) == ["✓ oui", "✓ oui", "✓ oui"]
    assert _cells(rows["Bruno Bélier"]) == ["✓ oui", "– non", "– non"]
    # Issue 20 point 13: the completion date shown under the mark (a tablet has no hover), the bar a
    # link to the learner's full report (activities and quiz attempts).
    assert "<td class=ok>✓<br>28/05/25<td>" in rows["Bruno Bélier"]
    bruno = data["enrolments"][1]
    assert f'href="/sessions/{data["session"]}/progression/{bruno}#tentatives" class=bar' in rows["Bruno Bélier"]
    assert 'aria-label="50 % : rapport complet de Bruno Bélier"' in rows["Bruno Bélier"]
    report = await client.get(f"/sessions/{data['session']}/progression/{bruno}")
    assert '<h2 id="tentatives">Tentatives aux tests</h2>' in report.text
    assert "✓ terminée" in text(page) and "– pas encore terminée" in text(page)  # the symbols explained
    assert _cells(rows["Chloé Caron"]) == ["– non", "– non", "– non"]
    assert "1–4 sur 4 inscrits" in text(page)
    # htmx swaps only the table region.
    region = await client.get(f"/sessions/{data['session']}/progression?sort=-progress",
                              headers={"HX-Request": "true"})
    assert region.text.lstrip().startswith('<div id="table-region"') and "<html" not in region.text


async def test_every_filter_and_sort(client):
    data = await _dataset()
    await login(client, "alp001.get")
    base = f"/sessions/{data['session']}/progression"

    async def names(query: str) -> list[str]:
        return _names((await client.get(f"{base}?{query}")).text)

    assert await names("q=belier") == ["Bruno Bélier"]  # accent- and case-insensitive
    assert await names(f"cohort={data['cohort']}") == ["Bruno Bélier"]
    assert await names("state=completed") == ["Zoé Arnaud"]
    assert await names("state=in_progress") == ["Bruno Bélier"]
    assert await names("state=not_started") == ["Chloé Caron", "Denis Dupont"]
    assert await names("state=never_visited") == ["Chloé Caron"]
    # Issue 20 point 21 (the home page's « à relancer »): not completed, not seen for 7 days or never.
    assert await names("state=inactive") == ["Bruno Bélier", "Chloé Caron", "Denis Dupont"]
    assert await names("state=nonsense") == ["Zoé Arnaud", "Bruno Bélier", "Chloé Caron", "Denis Dupont"]
    assert await names("sort=-name") == ["Denis Dupont", "Chloé Caron", "Bruno Bélier", "Zoé Arnaud"]
    # Ties follow the sort's direction (one index serves both directions, app/datatable/table.py _order).
    assert await names("sort=-progress") == ["Zoé Arnaud", "Bruno Bélier", "Denis Dupont", "Chloé Caron"]
    assert (await names("sort=progress"))[-1] == "Zoé Arnaud"
    assert (await names("sort=-last_visit"))[1:] == ["Bruno Bélier", "Denis Dupont", "Zoé Arnaud"]  # never first
    assert await names("sort=last_visit") == ["Zoé Arnaud", "Denis Dupont", "Bruno Bélier", "Chloé Caron"]
    # Pagination and per page (20 minimum: 4 rows fit one page); a page past the end shows the last.
    page = (await client.get(f"{base}?page=9&per_page=20")).text
    assert "1–4 sur 4 inscrits" in text(page) and len(_names(page)) == 4
    # The filters stay in the URL of the sort links and in the download form.
    page = (await client.get(f"{base}?state=not_started&sort=name")).text
    assert "state=not_started" in page.split('data-hx-get="')[1] or "state=not_started&amp;sort=-name" in page
    assert '<input type="hidden" name="state" value="not_started">' in page
    # The cohort filter offers the establishment's cohorts.
    assert f'<option value="{data["cohort"]}"' in page and "Groupe A" in page


async def test_download_selection_as_excel_and_list_as_csv(client):
    data = await _dataset()
    await login(client, "alp001.get")
    base = f"/sessions/{data['session']}/progression"
    e = data["enrolments"]
    await User.update({User.matricule: "000812"}).where(User.id == data["learners"][1])
    response = await client.get(f"{base}?export=xlsx&which=selected&selected={e[1]}&selected={e[3]}&sort=name")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="progression_' in response.headers["content-disposition"]
    # Issue 20 point 13: a heading says what the file is (session, establishment, export date), the
    # table follows an empty row; the matricule is there.
    sheet = pl.read_excel(io.BytesIO(response.content), has_header=False, read_options={"n_rows": 4})
    heading = sheet.to_series(0).to_list()
    assert heading[0].startswith("Vue d'ensemble des inscrits — ") and heading[0].endswith("(25X00S1)")
    assert heading[1].startswith("Du ") and heading[2] == "Établissement : CH BUIS LES BARONNIES (ALP001)"
    assert heading[3].startswith("Exporté le ")
    frame = pl.read_excel(io.BytesIO(response.content), read_options={"header_row": 5})
    assert frame.columns == ["Prénom / Nom", "Nom d'utilisateur", "Adresse de courriel", "Matricule", "Dernière visite",
                             "Progression (%)", "Terminé le", "Heures de présence", "Taux de réalisation (%)",
                             "Lire la charte", "Vidéo d'accueil",
                             "'=Quiz final"]
    assert frame["Prénom / Nom"].to_list() == ["Bruno Bélier", "Denis Dupont"]
    assert frame["Matricule"].to_list()[0] == "000812"
    assert frame["Progression (%)"].to_list() == [50, 0]
    assert frame["Lire la charte"].to_list()[0] == datetime(2025, 5, 28, 18, 8)
    assert frame["Lire la charte"].to_list()[1] is None

    # The whole list, filters applied, as text: ";" separated, UTF-8, formula-safe.
    response = await client.get(f"{base}?export=csv&which=all&state=not_started")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[2] == ["Établissement : CH BUIS LES BARONNIES (ALP001)"] and rows[4] == []  # heading, empty line
    rows = rows[5:]
    assert rows[0][:7] == ["Prénom / Nom", "Nom d'utilisateur", "Adresse de courriel", "Matricule", "Dernière visite",
                           "Progression (%)", "Terminé le"]
    assert rows[0][11] == "'=Quiz final"  # a title typed as a formula stays text
    assert [r[0] for r in rows[1:]] == ["Chloé Caron", "Denis Dupont"]
    assert rows[2][4] == "28/05/2025 19:08" and rows[1][4] == ""
    response = await client.get(f"{base}?export=csv&which=all")
    assert len(list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))) == 5 + 5

    # Nothing selected: a clear message, the page and its filters intact.
    response = await client.get(f"{base}?export=xlsx&which=selected&state=not_started")
    assert response.status_code == 422
    assert "Sélectionnez au moins un inscrit" in text(response.text)
    assert _names(response.text) == ["Chloé Caron", "Denis Dupont"]
    # A selection cannot reach outside the session: another session's enrolment ids are ignored.
    other = await _other_session_enrolment()
    response = await client.get(f"{base}?export=csv&which=selected&selected={other}")
    assert len(list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))) == 5 + 1


async def _other_session_enrolment():
    dam001 = await _establishment("DAM001")
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=dam001, full_name="Session DAM", short_name="DAM", start_date=date(2025, 5, 2),
        end_date=date(2025, 6, 30), code="25X00S2")).returning(TrainingSession.id))[0]["id"]
    learner = (await User.select(User.id).where(User.establishment == dam001).first())["id"]
    await add_sources(session_id, [learner], SourceKind.manual)
    return (await Enrolment.select(Enrolment.id).where(Enrolment.session == session_id).first())["id"]


async def test_large_export_runs_as_a_job(client, run_jobs, monkeypatch):
    import dataclasses

    import app.http.tableview as tableview

    data = await _dataset()
    settings = dataclasses.replace(tableview.get_settings(), export_inline_max_rows=2)
    monkeypatch.setattr(tableview, "get_settings", lambda: settings)
    await login(client, "alp001.get")
    response = await client.get(f"/sessions/{data['session']}/progression?export=csv&which=all")
    assert response.status_code == 303 and "/taches/" in response.headers["location"]
    await run_jobs()
    job = await client.get(response.headers["location"])
    assert "Télécharger progression_" in text(job.text)
    link = re.search(r'href="(/exports/[^"]+)"', job.text).group(1)
    download = await client.get(link)
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0].startswith("Vue d'ensemble des inscrits — Session QVT")  # the job writes the heading too
    rows = rows[5:]
    assert [r[0] for r in rows[1:]] == ["Zoé Arnaud", "Bruno Bélier", "Chloé Caron", "Denis Dupont"]
    assert rows[0][-3:] == ["Lire la charte", "Vidéo d'accueil", "'=Quiz final"]


async def test_another_establishments_overview_is_missing(client):
    data = await _dataset()
    await login(client, "alp001.get")
    other = await _other_session_enrolment()
    other_session = (await Enrolment.select(Enrolment.session).where(Enrolment.id == other).first())["session"]
    foreign = await client.get(f"/sessions/{other_session}/progression")
    missing = await client.get("/sessions/987654321/progression")
    assert foreign.status_code == missing.status_code == 404
    assert text(foreign.text) == text(missing.text) and "Session introuvable." in text(foreign.text)
    assert (await client.get(f"/sessions/{other_session}/progression?export=xlsx&which=all")).status_code == 404
    # An enrolment of another session, through this session's URL: "Inscription introuvable."
    response = await client.get(f"/sessions/{data['session']}/progression/{other}")
    assert response.status_code == 404 and "Inscription introuvable." in text(response.text)
    response = await post_form(client, f"/sessions/{data['session']}/progression/{other}",
                               {"activity": data["activities"][0], "done": "1"})
    assert response.status_code == 404
    assert not await ActivityCompletion.exists().where(ActivityCompletion.enrolment == other)


@pytest.mark.smoke
async def test_manager_marks_and_unmarks_an_activity(client):
    data = await _dataset()
    await login(client, "alp001.get")
    manager = (await User.select(User.id).where(User.username == "alp001.get").first())["id"]
    caron = data["enrolments"][2]
    url = f"/sessions/{data['session']}/progression/{caron}"
    detail = text((await client.get(url)).text)
    assert "Chloé Caron" in detail and "0 % (0 sur 2 activités requises)" in detail
    assert detail.count("Marquer comme terminé") == 3

    for activity in (data["activities"][0], data["activities"][2]):
        response = await post_form(client, url, {"activity": activity, "done": "1"})
        assert response.status_code == 303 and response.headers["location"] == url
    row = await Enrolment.select().where(Enrolment.id == caron).first()
    assert row["percent"] == 100 and row["completed_at"] is not None
    completion = await ActivityCompletion.select().where(
        (ActivityCompletion.enrolment == caron) & (ActivityCompletion.activity == data["activities"][0])).first()
    assert completion["how"] == "manager" and completion["by"] == manager
    detail = text((await client.get(url)).text)
    assert "marquée par Emma Gestionnaire" in detail and "100 %" in detail
    assert "Activité marquée comme terminée." in detail

    response = await post_form(client, url, {"activity": data["activities"][2], "done": "0"}, follow_redirects=True)
    assert "Achèvement annulé." in text(response.text)
    row = await Enrolment.select().where(Enrolment.id == caron).first()
    assert (row["percent"], row["completed_at"]) == (50, None)
    overview = (await client.get(f"/sessions/{data['session']}/progression?q=caron")).text
    assert "50 %" in overview

    # An activity of another session: "Activité introuvable.", nothing written.
    response = await post_form(client, url, {"activity": 987654321, "done": "1"})
    assert response.status_code == 404 and "Activité introuvable." in text(response.text)
    response = await post_form(client, url, {"activity": "", "done": "1"})
    assert response.status_code == 404


async def test_the_rows_their_count_and_the_cells_queries(client, monkeypatch):
    """A list that fits in its page: one SQL query for the rows (the page tells the total), one for the
    activity cells. Past the page (a page past the end): one more, the count, on the enrolments with
    only the joins the filters need, never a window over the page's joins (``COUNT(*) OVER ()`` ran
    every learner of a 20,000 session through the join to their account before the LIMIT)."""
    data = await _dataset()
    await login(client, "alp001.get")
    engine = type(Enrolment._meta.db)
    original = engine.run_querystring
    seen: list[str] = []

    async def counting(self, querystring, *args, **kwargs):
        seen.append(str(querystring))
        return await original(self, querystring, *args, **kwargs)

    monkeypatch.setattr(engine, "run_querystring", counting)

    async def queries(query: str) -> tuple[list[str], list[str], str]:
        seen.clear()
        response = await client.get(f"/sessions/{data['session']}/progression?{query}")
        assert response.status_code == 200
        rows = [q for q in seen if re.search(r'FROM "?enrolment"?\b', q) and "activity_completion" not in q]
        cells = [q for q in seen if "activity_completion" in q]
        assert len(cells) == 1, cells
        assert not any("OVER ()" in q for q in rows), rows
        return rows, cells, text(response.text)

    for query in ("", "sort=-progress&state=in_progress", f"cohort={data['cohort']}&q=belier&sort=last_visit"):
        rows, _, _ = await queries(query)
        assert len(rows) == 1, rows
    rows, _, page = await queries("page=3&per_page=20")
    assert len(rows) == 3 and "COUNT(" in rows[1].upper(), rows  # the empty page, the count, the last page
    assert "app_user" not in rows[1], rows[1]  # no name filter: the enrolments alone
    assert "1–4 sur 4 inscrits" in page
    rows, _, page = await queries("page=3&per_page=20&q=belier")
    assert "app_user" in rows[1] and "1–1 sur 1 inscrit" in page, (rows, page)


async def test_pages_of_a_longer_list_and_their_total(client, monkeypatch):
    """45 learners, 20 a page: the pages put end to end are the whole list in its order (by name, by
    progress), each page states the exact total; the count is a query only when the page is full."""
    from tests import factories

    built = await factories.session_with_learners(await _establishment("ALP001"), 45, slots=0)
    await Enrolment.raw("UPDATE enrolment SET percent = id % 7 WHERE session = {}", built.id)  # ties: by id
    await login(client, "alp001.get")
    base = f"/sessions/{built.id}/progression"
    engine = type(Enrolment._meta.db)
    original = engine.run_querystring
    counts: list[str] = []

    async def counting(self, querystring, *args, **kwargs):
        if "COUNT(" in str(querystring).upper() and re.search(r'FROM "?enrolment"?\b', str(querystring)):
            counts.append(str(querystring))
        return await original(self, querystring, *args, **kwargs)

    monkeypatch.setattr(engine, "run_querystring", counting)
    for sort in ("name", "-progress"):
        whole = _names((await client.get(f"{base}?per_page=100&sort={sort}")).text)
        assert len(whole) == 45 and len(set(whole)) == 45
        pages, said = [], []
        for page in (1, 2, 3):
            counts.clear()
            body = (await client.get(f"{base}?per_page=20&sort={sort}&page={page}")).text
            pages += _names(body)
            said.append(re.search(r"\d+–\d+ sur \d+ inscrits", text(body)).group())
            assert len(counts) == (1 if page < 3 else 0), (page, counts)  # the last page is not full
        assert pages == whole, sort
        assert said == ["1–20 sur 45 inscrits", "21–40 sur 45 inscrits", "41–45 sur 45 inscrits"]
        last = (await client.get(f"{base}?per_page=20&sort={sort}&page=-1")).text
        assert _names(last) == whole[40:] and "41–45 sur 45 inscrits" in text(last)
        second_last = (await client.get(f"{base}?per_page=20&sort={sort}&page=-2")).text
        assert _names(second_last) == whole[20:40]
        past = (await client.get(f"{base}?per_page=20&sort={sort}&page=7")).text
        assert _names(past) == whole[40:] and "41–45 sur 45 inscrits" in text(past)


async def test_the_learner_detail_lists_quiz_attempts_with_score_and_time(client):
    from datetime import timedelta

    from app.dates import now
    from app.tables.learning import QuizAttempt

    data = await _dataset()
    caron = data["enrolments"][2]
    t = now()
    await QuizAttempt.insert(
        QuizAttempt(enrolment=caron, activity=data["activities"][0], score=33, passed=False,
                    started_at=t - timedelta(minutes=10), submitted_at=t - timedelta(minutes=8)),
        QuizAttempt(enrolment=caron, activity=data["activities"][0], score=100, passed=True,
                    started_at=t - timedelta(minutes=5, seconds=30), submitted_at=t - timedelta(minutes=4)),
    )
    await login(client, "alp001.get")
    detail = text((await client.get(f"/sessions/{data['session']}/progression/{caron}")).text)
    assert "Tentatives aux tests" in detail
    assert detail.index("100 %") < detail.index("33 %")  # latest first
    assert "✓ Réussi" in detail and "✗ Échoué" in detail and "1 min 30 s" in detail and "2 min 0 s" in detail


async def test_an_unenrolled_learners_record_is_kept_and_no_longer_marked(client):
    """After unenrolment the record stays as it was: a manager can no longer mark nor unmark an
    activity (a French message, nothing written), the buttons are gone from the detail page."""
    from app.services.enrolments import remove_sources
    from app.tables.certificates import Certificate

    data = await _dataset()
    arnaud, ewald = data["enrolments"][0], data["enrolments"][4]
    assert await Certificate.exists().where(Certificate.enrolment == arnaud)
    await remove_sources(data["session"], [data["learners"][0]], SourceKind.manual)  # Arnaud leaves (complete)
    await login(client, "alp001.get")
    for enrolment, activity, done in ((ewald, data["activities"][0], "1"), (arnaud, data["activities"][0], "0")):
        url = f"/sessions/{data['session']}/progression/{enrolment}"
        detail = text((await client.get(url)).text)
        assert "Cet apprenant n'est plus inscrit" in detail and "Marquer comme terminé" not in detail
        assert "Annuler l'achèvement" not in detail
        response = await post_form(client, url, {"activity": activity, "done": done})
        assert response.status_code == 303 and response.headers["location"] == url
        page = text((await client.get(url)).text)
        assert "Cet apprenant n'est plus inscrit à la session : son suivi est conservé tel quel" in page
    assert not await ActivityCompletion.exists().where(ActivityCompletion.enrolment == ewald)
    row = await Enrolment.select().where(Enrolment.id == arnaud).first()
    assert row["percent"] == 100 and row["completed_at"] is not None
    assert await ActivityCompletion.count().where(ActivityCompletion.enrolment == arnaud) == 3
    # Enrolled again: marking works again.
    await add_sources(data["session"], [data["learners"][4]], SourceKind.manual)
    url = f"/sessions/{data['session']}/progression/{ewald}"
    response = await post_form(client, url, {"activity": data["activities"][0], "done": "1"}, follow_redirects=True)
    assert "Activité marquée comme terminée." in text(response.text)
