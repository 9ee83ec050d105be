"""The BPF pages (issue 23): administrators only, the job with its progress, each figure clickable to
the people behind it, the completeness check with its links, the Excel files; the data-entry places
(template form, session settings, trainers page, trainee-type editor)."""

from __future__ import annotations

import io
import re

import openpyxl

from app.tables.accounts import User
from app.tables.catalogue import CourseTemplate, TrainingSession
from app.tables.learning import Enrolment
from app.tables.quality import YearReport
from tests.helpers import login, post_form, text
from tests.services.test_bpf import YEAR, build


async def test_admin_only(client):
    anonymous = await client.get(f"/bpf/?year={YEAR}")
    assert anonymous.status_code in (302, 303) and "connexion" in anonymous.headers["location"]
    await login(client, "alp001.get")
    assert (await client.get(f"/bpf/?year={YEAR}")).status_code == 403
    assert (await client.get(f"/bpf/{YEAR}/bpf.xlsx")).status_code == 403
    assert (await client.get(f"/bpf/{YEAR}/elus")).status_code == 403
    assert (await post_form(client, "/bpf/calculer", {"year": str(YEAR)})).status_code == 403


async def test_compute_see_figures_click_one_and_export(client, run_jobs):
    d = await build()
    await login(client, "admin")
    page = await client.get(f"/bpf/?year={YEAR}")
    assert page.status_code == 200
    body = text(page.text)
    assert "Réservé aux administrateurs" in body and "pas encore été calculé" in body
    # The completeness check, with links to fix each item.
    assert f"/catalogue/{d.templates['t3']}/modifier" in page.text
    assert f"/sessions/{d.sessions['s5']}/parametres" in page.text
    assert f"/sessions/{d.sessions['s2']}/types-stagiaires" in page.text
    assert f"/sessions/{d.sessions['s4']}/formateurs" in page.text
    assert "Créneaux sans formateur : 2" in body
    # Calculer: the progress page (JS off: a 303 to it, it refreshes itself), the job, the result's link.
    response = await post_form(client, "/bpf/calculer", {"year": str(YEAR)})
    assert response.status_code == 303
    job_page = await client.get(response.headers["location"])
    assert 'http-equiv="refresh"' in job_page.text
    await run_jobs()
    job_page = await client.get(response.headers["location"])
    assert "Terminé." in text(job_page.text)
    result = re.search(r'href="([^"]*/bpf/2025/calcul/[^"]+)"', job_page.text).group(1)
    follow = await client.get(result)
    assert follow.status_code in (302, 303) and follow.headers["location"].endswith(f"year={YEAR}")
    page = await client.get(f"/bpf/?year={YEAR}")
    body = text(page.text)
    assert "F-1. Type de stagiaires de l'organisme" in body and "dont élus" in body and "Chiffres calculés le" in body
    # A figure: the learners behind it.
    figure = await client.get(f"/bpf/{YEAR}/chiffres/f1.e_public")
    assert figure.status_code == 200
    rows = text(figure.text)
    assert "2 personnes" in rows and "13 h 30" in rows and "25T1S1" in rows and "25T2S1" in rows
    assert (await client.get(f"/bpf/{YEAR}/chiffres/nope")).status_code == 404
    # The full list of a completeness item.
    assert "Créneaux sans formateur (2)" in text((await client.get(f"/bpf/{YEAR}/manques/no_trainer")).text)
    # Excel.
    xlsx = await client.get(f"/bpf/{YEAR}/bpf.xlsx")
    assert xlsx.status_code == 200
    cells = [c for row in openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True)
             for c in row if c is not None]
    assert "G. Bilan pédagogique : stagiaires dont la formation a été confiée à votre organisme par un autre " \
           "organisme de formation" in cells
    # The élus' report and its participants.
    elus = await client.get(f"/bpf/{YEAR}/elus")
    assert "Session 25T3S1" in text(elus.text) and "Salle du conseil" in text(elus.text)
    people = await client.get(f"/bpf/{YEAR}/chiffres/elus.{d.sessions['s3']}")
    assert "Lucie" in text(people.text) and "Marc" in text(people.text)
    assert (await client.get(f"/bpf/{YEAR}/elus.xlsx")).status_code == 200
    # Recalculer: still one row per kind and year.
    await post_form(client, "/bpf/calculer", {"year": str(YEAR)})
    await run_jobs()
    assert await YearReport.count().where(YearReport.year == YEAR) == 2


async def test_data_entry_places(client):
    d = await build()
    await login(client, "admin")
    # Template: NSF code validated, objective from the list.
    form = await client.get(f"/catalogue/{d.templates['t3']}/modifier")
    assert "Code NSF" in form.text and "Objectif (BPF)" in form.text and "Bilans de compétences" in form.text
    base = {"code": "T3", "title": "Modèle T3"}
    bad = await post_form(client, f"/catalogue/{d.templates['t3']}/modifier", {**base, "nsf_code": "31", "bpf_objective": "x"})
    assert bad.status_code == 422 and "3 chiffres" in text(bad.text) and "objectif BPF" in text(bad.text)
    ok = await post_form(client, f"/catalogue/{d.templates['t3']}/modifier", {**base, "nsf_code": "315P", "bpf_objective": "vae"})
    assert ok.status_code == 303
    saved = await CourseTemplate.select(CourseTemplate.nsf_code, CourseTemplate.bpf_objective).where(
        CourseTemplate.id == d.templates["t3"]).first()
    assert saved == {"nsf_code": "315p", "bpf_objective": "vae"}
    # Session settings: « Réalisation (BPF) ».
    settings = await client.get(f"/sessions/{d.sessions['s5']}/parametres")
    assert "Réalisation (BPF)" in settings.text and "sous-traitance, F-2" in settings.text
    values = {"start_date": "2025-05-05", "end_date": "2025-05-05", "full_name": "Session 25T1S3", "visible": "1",
              "slots": "", "certificate_text": "", "place": "", "remote_url": "", "contact": "", "min_attendance": ""}
    bad = await post_form(client, f"/sessions/{d.sessions['s5']}/parametres", {**values, "delivery": "ailleurs"})
    assert bad.status_code == 422 and "réalisation" in text(bad.text)
    ok = await post_form(client, f"/sessions/{d.sessions['s5']}/parametres", {**values, "delivery": "subcontracted_in"})
    assert ok.status_code == 303, text(ok.text)[:500]
    assert (await TrainingSession.select(TrainingSession.delivery).where(
        TrainingSession.id == d.sessions["s5"]).first())["delivery"] == "subcontracted_in"
    # Trainers page: internal / external.
    manage = await client.get(f"/sessions/{d.sessions['s1']}/formateurs")
    assert "Formateur interne / externe (BPF)" in manage.text
    answer = await post_form(client, f"/sessions/{d.sessions['s1']}/formateurs",
                             {"action": "bpf_status", "trainer": str(d.trainers["a"]), "trainer_status": "external"})
    assert answer.status_code == 303
    assert (await User.select(User.trainer_status).where(User.id == d.trainers["a"]).first())["trainer_status"] == "external"
    # A trainer of another session is refused.
    other = await post_form(client, f"/sessions/{d.sessions['s1']}/formateurs",
                            {"action": "bpf_status", "trainer": str(d.trainers["d"]), "trainer_status": "internal"})
    assert other.status_code == 404
    # Trainee types: the ticked enrolments of this session only; the default shown.
    editor = await client.get(f"/sessions/{d.sessions['s2']}/types-stagiaires")
    assert editor.status_code == 200 and "Non renseigné" in text(editor.text) and "agent public" in text(editor.text)
    ids = {r["user"]: r["id"] for r in await Enrolment.select(Enrolment.id, Enrolment.user).where(
        Enrolment.session == d.sessions["s2"])}
    foreign = (await Enrolment.select(Enrolment.id).where(Enrolment.session == d.sessions["s3"]).first())["id"]
    saved = await post_form(client, f"/sessions/{d.sessions['s2']}/types-stagiaires",
                            {"trainee_type": "individual", "enrolments": [str(ids[d.users["l7"]]), str(foreign)]})
    assert saved.status_code == 303
    types = {r["id"]: r["trainee_type"] for r in await Enrolment.select(Enrolment.id, Enrolment.trainee_type)}
    assert types[ids[d.users["l7"]]] == "individual" and types[foreign] == ""
    empty = await post_form(client, f"/sessions/{d.sessions['s2']}/types-stagiaires", {"trainee_type": "individual"})
    assert empty.status_code == 422 and "Cochez au moins un participant" in text(empty.text)


async def test_trainee_types_respect_the_managers_scope(client):
    d = await build()
    # The dataset's establishment belongs to no GET of the demo: alp001.get does not see its sessions.
    await login(client, "alp001.get")
    assert (await client.get(f"/sessions/{d.sessions['s2']}/types-stagiaires")).status_code == 404
    forged = await post_form(client, f"/sessions/{d.sessions['s2']}/types-stagiaires",
                             {"trainee_type": "individual", "enrolments": ["1"]})
    assert forged.status_code == 404
    assert await TrainingSession.count() == 5


async def test_the_trainee_type_editor_is_linked_from_the_participants_page(client):
    d = await build()
    await login(client, "admin")
    page = await client.get(f"/sessions/{d.sessions['s2']}/participants")
    assert f"/sessions/{d.sessions['s2']}/types-stagiaires" in page.text


async def test_every_route_reads_its_year_the_same_way(client):
    """A year outside 2000 … next year is a French « not found » page on every route (never a 500)."""
    from app.dates import today

    await login(client, "admin")
    paths = ["/bpf/{y}/manques/templates", "/bpf/{y}/elus", "/bpf/{y}/elus.xlsx", "/bpf/{y}/bpf.xlsx",
             "/bpf/{y}/chiffres/f1.total", "/bpf/{y}/calcul/abc"]
    for year in ("-1", "0", "10000", "1999", str(today().year + 2)):
        for path in paths:
            answer = await client.get(path.format(y=year))
            assert answer.status_code in (400, 404), (path, year, answer.status_code)
            assert "-1" not in text(answer.text).split("formations suivies en")[-1][:3]
            assert "n'existe pas" in text(answer.text) or "Exercice inconnu" in text(answer.text), (path, year)
        assert (await post_form(client, "/bpf/calculer", {"year": year})).status_code in (400, 404), year
    # A query year that is not one: a French message and the default year (the last closed one).
    page = await client.get("/bpf/?year=abc")
    assert page.status_code == 200
    body = text(page.text)
    assert "Exercice inconnu" in body and f"Bilan pédagogique et financier {today().year - 1}" in body
    assert "Exercice inconnu" not in text((await client.get("/bpf/")).text)


async def test_the_figure_pages_match_the_frames(client, run_jobs):
    d = await build()
    await login(client, "admin")
    await post_form(client, "/bpf/calculer", {"year": str(YEAR)})
    await run_jobs()
    body = text((await client.get(f"/bpf/?year={YEAR}")).text)
    assert "heures arrondies à l'heure la plus proche, ligne par ligne" in body
    # F-3 « rs »: L3 and L7 counted; L1's 3 hours there, L1 counted at « other » (7 h there).
    rs = text((await client.get(f"/bpf/{YEAR}/chiffres/f3.rs")).text)
    assert "2 personnes, 9 h exactement" in rs and "le cadre indique 9 h" in rs
    assert rs.count("Oui") == 2 and "Non : à une autre ligne" in rs
    total = text((await client.get(f"/bpf/{YEAR}/chiffres/f3.total")).text)
    assert "6 personnes, 25 h 30 exactement" in total and "le cadre indique 26 h" in total
    assert total.count("Oui") == 6 and "Autres" in total
    # Frame E: the exact hours (3 h of D's slot) beside the rounded figure, B shown with no external hour.
    external = text((await client.get(f"/bpf/{YEAR}/chiffres/e.external")).text)
    assert "2 formateurs, 3 h exactement" in external and "le cadre indique 3 h" in external
    internal = (await client.get(f"/bpf/{YEAR}/chiffres/e.internal")).text
    assert "2 formateurs, 7 h exactement" in text(internal) and "le cadre indique 7 h" in text(internal)
    assert f"/sessions/{d.sessions['s1']}\"" in internal


async def test_the_elus_hours_are_written_the_french_way(client, run_jobs):
    from datetime import time

    from app.tables.catalogue import SessionSlot

    d = await build()
    await SessionSlot.update({SessionSlot.ends: time(17, 30)}).where(SessionSlot.session == d.sessions["s3"])
    await login(client, "admin")
    await post_form(client, "/bpf/calculer", {"year": str(YEAR)})
    await run_jobs()
    page = await client.get(f"/bpf/{YEAR}/elus")
    cells = re.findall(r'<td class="num">([^<]*)</td>', page.text)
    assert "3,5" in cells and "3.5" not in page.text
    xlsx = await client.get(f"/bpf/{YEAR}/elus.xlsx")
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert rows[4][3] == 3.5


async def test_the_trainee_type_editor_refuses_other_sessions_enrolments(client):
    d = await build()
    await login(client, "admin")
    foreign = (await Enrolment.select(Enrolment.id).where(Enrolment.session == d.sessions["s3"]).first())["id"]
    before = {r["id"]: r["trainee_type"] for r in await Enrolment.select(Enrolment.id, Enrolment.trainee_type)}
    for data in ({"trainee_type": "individual", "enrolments": [str(foreign)]}, {"trainee_type": "individual"}):
        answer = await post_form(client, f"/sessions/{d.sessions['s2']}/types-stagiaires", data)
        assert answer.status_code == 422
        assert "Cochez au moins un participant de cette session." in text(answer.text)
        assert "enregistré pour 0" not in text(answer.text)
    assert {r["id"]: r["trainee_type"] for r in await Enrolment.select(Enrolment.id, Enrolment.trainee_type)} == before


async def test_the_trainers_page_says_the_status_is_account_wide(client):
    d = await build()
    await login(client, "admin")
    manage = await client.get(f"/sessions/{d.sessions['s1']}/formateurs")
    assert "S'applique à toutes les sessions de ce formateur (BPF, cadre E)." in text(manage.text)
    assert f'aria-describedby="bpf-status-note-{d.trainers["a"]}"' in manage.text


async def test_the_not_computed_message_makes_way_for_the_progress(client):
    await build()
    await login(client, "admin")
    page = await client.get(f"/bpf/?year={YEAR}")
    # htmx swaps the progress into #compute-progress: the message is inside it, so it goes away.
    assert re.search(r'<div id="compute-progress"><p id="not-computed">Le bilan 2025 n.a pas encore été calculé\.</p></div>',
                     page.text)
    partial = await post_form(client, "/bpf/calculer", {"year": str(YEAR)}, htmx=True)
    assert partial.status_code == 200 and "pas encore été calculé" not in text(partial.text)
    assert 'id="job-progress"' in partial.text
