"""The survey results pages (issue 23): a session's (from its page), all sessions by template, period
and phase, the financers' yearly survey; scope (another establishment's GET sees nothing, a forged id
answers like a missing one); downloads that open and run nothing."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import polars as pl

from app.services.surveys import results
from app.tables.org import Establishment
from app.tables.quality import FinancerInvitation, FinancerSurvey, SurveyResponse
from app.tables.registration import Organisation
from tests import factories
from tests.helpers import login, text
from tests.services.test_survey_results import FORMULA, OVERALL, REMARKS, answer, build_dataset, q, survey


async def _alp001() -> int:
    return (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]


async def test_a_session_s_results_from_its_page(client):
    data = await build_dataset(await _alp001())
    await login(client, "alp001.get")
    page = await client.get(f"/sessions/{data.s1.id}/")
    assert f'href="/sessions/{data.s1.id}/questionnaires"' in page.text
    response = await client.get(f"/sessions/{data.s1.id}/questionnaires")
    assert response.status_code == 200
    body = text(response.text)
    # S1, « Moment : Tous »: each questionnaire under its own heading — hot (3 invited, 2 answers),
    # cold (opened for its 3 learners, 1 answer).
    assert "À chaud Personnes invitées 3 Réponses 2 Taux de réponse 66,7 %" in body
    assert "À froid Personnes invitées 3 Réponses 1 Taux de réponse 33,3 %" in body
    assert "Satisfaction à chaud 4,0 / 5 moyenne de toutes les échelles, ramenées sur 5 (2 réponses à chaud)" in body  # 5 and 3
    assert OVERALL in body and "Très bien" in body
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in response.text and "<desc" in response.text
    hot = text((await client.get(f"/sessions/{data.s1.id}/questionnaires?phase=hot")).text)
    assert "Personnes invitées 3" in hot and "Réponses 2" in hot
    # No person on the page: the learners' names are nowhere.
    assert "Nom" not in body.replace("Nombre", "")


async def test_results_by_template_and_period(client):
    data = await build_dataset(await _alp001())
    await login(client, "alp001.get")
    body = text((await client.get(f"/questionnaires?template={data.template}&phase=hot")).text)
    assert "Personnes invitées 5" in body and "Réponses 4" in body and "80,0 %" in body and "3,8 / 5" in body
    assert "Les réponses anonymes sont datées" in body
    june = text((await client.get(f"/questionnaires?template={data.template}"
                                  f"&from={data.d2 - timedelta(days=5)}&to={data.d2 + timedelta(days=5)}")).text)
    assert "Personnes invitées 2" in june and "Réponses 2" in june and "100,0 %" in june
    assert 'href="/questionnaires"' in (await client.get("/analytique")).text  # linked from the dashboard
    bad = await client.get("/questionnaires?from=2026-02-30&phase=x")
    assert bad.status_code == 200 and "date invalide" in text(bad.text) and "Moment du questionnaire invalide" in bad.text


async def test_another_establishment_sees_nothing_and_forged_ids_are_missing(client, new_client):
    data = await build_dataset(await _alp001())
    await login(client, "dam001.get")
    forged = await client.get(f"/sessions/{data.s1.id}/questionnaires")
    missing = await client.get("/sessions/99999999/questionnaires")
    assert forged.status_code == missing.status_code == 404
    assert text(forged.text) == text(missing.text) and "Session introuvable." in text(forged.text)
    assert (await client.get(f"/sessions/{data.s1.id}/questionnaires?export=xlsx")).status_code == 404
    theirs = text((await client.get(f"/questionnaires?template={data.template}")).text)
    assert "Aucun questionnaire ne correspond." in theirs and OVERALL not in theirs
    assert (await client.get("/questionnaires?template=99999999")).status_code == 404
    async with new_client() as other:  # an administrator sees every establishment
        await login(other, "admin")
        admin = text((await other.get(f"/questionnaires?template={data.template}")).text)
        assert "À chaud Personnes invitées 5 Réponses 4" in admin and "À froid Personnes invitées 3 Réponses 1" in admin


async def test_downloads_open_and_are_formula_safe(client):
    data = await build_dataset(await _alp001())
    await login(client, "alp001.get")
    xlsx = await client.get(f"/questionnaires?template={data.template}&export=xlsx")
    assert xlsx.status_code == 200 and ".xlsx" in xlsx.headers["content-disposition"]
    sheets = pl.read_excel(io.BytesIO(xlsx.content), sheet_id=0)
    assert set(sheets) == {"Synthèse", "Questions", "Réponses libres"}
    free = sheets["Réponses libres"]
    assert "'" + FORMULA in free.to_series(1).to_list() and "Très bien" in free.to_series(1).to_list()
    figures = sheets["Questions"]
    overall = figures.filter(pl.col("Question") == OVERALL)
    assert overall.height == 5 and overall["Moyenne"].to_list()[0] == 3.4
    csv = await client.get(f"/questionnaires?template={data.template}&export=csv")
    content = csv.content.decode("utf-8-sig")
    assert csv.status_code == 200 and f"'{FORMULA}".replace('"', '""') in content
    assert "\n=" not in content and ";=" not in content


async def test_free_text_answers_are_paginated_and_escaped(client):
    data = await build_dataset(await _alp001())
    await SurveyResponse.insert(*[SurveyResponse(
        activity=data.hot1, session=data.s1.id, template=data.template, phase="hot",
        answers=json.dumps({"3": f"<b>remarque {i}</b>"})) for i in range(60)])
    await login(client, "alp001.get")
    page = await client.get(f"/sessions/{data.s1.id}/questionnaires")
    assert "&lt;b&gt;remarque 0&lt;/b&gt;" in page.text and "<b>remarque" not in page.text
    assert "Voir les 61 réponses libres" in text(page.text)
    second = await client.get(f"/sessions/{data.s1.id}/questionnaires?question=3&page=2")
    assert second.status_code == 200 and "page 2 sur 2" in text(second.text)
    assert "remarque 59" in text(second.text) and "remarque 10" not in text(second.text)
    wrong = await client.get(f"/sessions/{data.s1.id}/questionnaires?question=0")
    assert wrong.status_code == 404 and "Question introuvable." in text(wrong.text)


async def test_financers_results_by_year(client):
    org = (await Organisation.insert(Organisation(name="Mairie de Test")).returning(Organisation.id))[0]["id"]
    survey = (await FinancerSurvey.insert(FinancerSurvey(
        year=2026, title="Questionnaire des financeurs 2026",
        questions=json.dumps([q(OVERALL, "scale5"), q(REMARKS, "text")]))).returning(FinancerSurvey.id))[0]["id"]
    await FinancerInvitation.insert(FinancerInvitation(survey=survey, organisation=org, email="a@example.org",
                                                       answered=True, answered_on=date(2026, 11, 2)))
    await SurveyResponse.insert(SurveyResponse(financer_survey=survey, organisation=org, submitted_on=date(2026, 11, 2),
                                               answers=json.dumps({"0": 4, "1": "Bon partenariat"})))
    await login(client, "alp001.get")
    assert (await client.get("/questionnaires/financeurs")).status_code == 403
    await login(client, "inscriptions")
    assert 'href="/questionnaires/financeurs"' in (await client.get("/gestion-inscriptions/")).text
    body = text((await client.get("/questionnaires/financeurs?year=2026")).text)
    assert "Personnes invitées 1" in body and "Réponses 1" in body and "Bon partenariat" in body
    assert "moyenne 4,0 / 5" in body and "1 réponse " in body
    # No learners' wording, no « Satisfaction à chaud » tile on the financers' page.
    assert "Les réponses anonymes" not in body and "Satisfaction à chaud" not in body
    assert '<option value="2026" selected>2026</option>' in (await client.get("/questionnaires/financeurs")).text
    missing = text((await client.get("/questionnaires/financeurs?year=2024")).text)
    assert "Aucun questionnaire des financeurs pour cette année." in missing
    bad = await client.get("/questionnaires/financeurs?year=abc")
    assert bad.status_code == 200 and "Année invalide." in text(bad.text)


async def test_few_anonymous_answers_in_a_session_show_no_detail(client):
    data = await build_dataset(await _alp001())
    await login(client, "alp001.get")
    page = await client.get(f"/sessions/{data.s2.id}/questionnaires")
    body = text(page.text)
    assert "Réponses 2" in body
    assert "Moins de 5 réponses anonymes : le détail n'est pas affiché, pour préserver l'anonymat." in body
    assert "HYPERLINK" not in page.text and "Répartition" not in body and "Télécharger" not in body
    for export in ("csv", "xlsx"):  # nor by the download's address
        response = await client.get(f"/sessions/{data.s2.id}/questionnaires?export={export}")
        assert response.headers["content-type"].startswith("text/html") and "HYPERLINK" not in response.text
    assert (await client.get(f"/sessions/{data.s2.id}/questionnaires?question=0")).status_code == 404


async def test_exports_headers_names_and_links(client):
    data = await build_dataset(await _alp001())
    await login(client, "alp001.get")
    page = await client.get(f"/sessions/{data.s1.id}/questionnaires")
    assert "?&amp;" not in page.text and f'href="/sessions/{data.s1.id}/questionnaires?export=csv"' in page.text
    csv = await client.get(f"/sessions/{data.s1.id}/questionnaires?export=csv")
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = csv.headers["content-disposition"]
    assert "filename*=UTF-8''Questionnaires_" in disposition and "questionnaires_Questionnaires" not in disposition
    assert "fabriqu%C3%A9e" in disposition  # « Session fabriquée »: the accent kept in the exact name
    # Numbers right-aligned under their own header.
    assert '<th scope="col" class="num">Nombre</th>' in page.text and '<td class="num">' in page.text


async def test_the_moment_filter_shows_the_page_s_filter(client):
    data = await build_dataset(await _alp001())
    await login(client, "alp001.get")
    hot = (await client.get(f"/sessions/{data.s1.id}/questionnaires?phase=hot")).text
    assert '<option value="hot" selected>' in hot and 'autocomplete="off"' in hot
    every = (await client.get(f"/sessions/{data.s1.id}/questionnaires")).text
    assert "selected>" not in every.split('name="phase"')[1].split("</select>")[0]


async def test_the_index_shows_the_last_12_months_by_default(client):
    data = await build_dataset(await _alp001())
    old = await factories.session_with_learners(await _alp001(), 1, slots=2, start=date.today() - timedelta(days=500),
                                                template=data.template)
    activity = await survey(old.id, [q(OVERALL, "scale5")])
    await answer(activity, old.id, data.template, "hot", {"0": 1}, None, date.today() - timedelta(days=499))
    await login(client, "alp001.get")
    body = text((await client.get(f"/questionnaires?template={data.template}&phase=hot")).text)
    start, _ = results.last_12_months(date.today())
    assert "Réponses 4" in body and f"du {start:%d/%m/%Y}" in body
