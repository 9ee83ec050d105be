"""The survey results pages (issue 23): a session's (from its page), all sessions by template, period
and phase, the financers' yearly survey; scope (another establishment's GET sees nothing, a forged id
answers like a missing one); downloads that open and run nothing."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import polars as pl

from app.tables.org import Establishment
from app.tables.quality import FinancerInvitation, FinancerSurvey, SurveyResponse
from app.tables.registration import Organisation
from tests.helpers import login, text
from tests.services.test_survey_results import FORMULA, OVERALL, REMARKS, build_dataset, q


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
    # S1: hot (3 invited, 2 answers) and cold (1 and 1).
    assert "Personnes invitées 4" in body and "Réponses 3" in body and "Taux de réponse 75,0 %" in body
    assert "Satisfaction à chaud 4,0 / 5" in body  # 5 and 3
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
    assert "Personnes invitées 0" in theirs and "Réponses 0" in theirs and OVERALL not in theirs
    assert (await client.get("/questionnaires?template=99999999")).status_code == 404
    async with new_client() as other:  # an administrator sees every establishment
        await login(other, "admin")
        admin = text((await other.get(f"/questionnaires?template={data.template}")).text)
        assert "Réponses 5" in admin


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
    assert "moyenne 4,0 / 5" in body
    bad = await client.get("/questionnaires/financeurs?year=abc")
    assert bad.status_code == 200 and "Année invalide." in text(bad.text)
