"""Entry and exit assessments on screen (issue 23): the activity editor's « Évaluation » and objective
tags (template and session, JS off: plain forms), the « Positionnement et acquis » page of the progress
overview and the learner record against the hand-computed dataset, and scope (another establishment's
session or person answers exactly like a missing one)."""

import html
import json
import re

import pytest

from app.tables.catalogue import CourseTemplate, SessionActivity, TemplateActivity
from app.tables.learning import Enrolment, QuizAttempt
from tests.helpers import login, post_form, text
from tests.services.test_assessments import ENTRY, assessed_session


async def test_the_session_editor_flags_an_assessment_and_checks_the_tags(client):
    data = await assessed_session()
    await login(client, "alp001.get")
    url = f"/sessions/{data.session}/contenu/{data.exit}"
    page = (await client.get(url)).text
    assert '<option value="exit" selected>Évaluation des acquis (sortie)</option>' in page
    assert '<option value="entry" >Positionnement (entrée)</option>' in page or 'value="entry"' in page
    words = text(page)
    assert "commencez sa première ligne par « [Objectif N] »" in words
    assert "Objectifs du cours modèle : Repérer les situations de maltraitance Savoir alerter" in words
    assert "[Objectif 1] Un signe ?" in page  # the tags written back in the text

    form = {"kind": "quiz", "title": "Évaluation finale", "completion": "quiz", "pass_mark": "50",
            "assessment": "entry", "quiz_text": "[Objectif 2] Qui alerter ?\n* a\n- b\n\n[O 3] Trop loin ?\n* a\n- b"}
    refused = await post_form(client, url, form)
    assert refused.status_code == 422
    assert "Question 2 (« Trop loin ? ») : l'objectif 3 n'existe pas — le cours modèle en compte 2" in text(refused.text)
    # With attempts, an assessment keeps what it measures and its structure (session_content's rule):
    # refused; once nobody has tried it, the change is saved.
    kept = await post_form(client, url, {**form, "quiz_text": ENTRY})
    assert kept.status_code == 422 and "a déjà des tentatives" in text(kept.text)
    await QuizAttempt.delete().where(QuizAttempt.activity == data.exit)
    saved = await post_form(client, url, {**form, "quiz_text": ENTRY})
    assert saved.status_code == 303
    row = await SessionActivity.select().where(SessionActivity.id == data.exit).first()
    assert row["assessment"] == "entry" and [q.get("objective") for q in json.loads(row["quiz"])] == [1, 2, None]
    # Added from the session's content page with its « Évaluation ».
    added = await post_form(client, f"/sessions/{data.session}/contenu",
                            {"kind": "quiz", "title": "Positionnement bis", "assessment": "entry"})
    assert added.status_code == 303
    assert (await SessionActivity.select(SessionActivity.assessment).where(
        SessionActivity.title == "Positionnement bis").first())["assessment"] == "entry"


async def test_the_template_editor_checks_tags_against_the_templates_objectives(client):
    await login(client, "admin")
    template = (await CourseTemplate.insert(CourseTemplate(
        code="Z42", title="Gestes d'urgence", short_name="GU", objectives="• Alerter\n• Protéger\n• Secourir")).returning(
        CourseTemplate.id))[0]["id"]
    activity = (await TemplateActivity.insert(TemplateActivity(template=template, kind="quiz", title="Positionnement")
                                              ).returning(TemplateActivity.id))[0]["id"]
    url = f"/catalogue/{template}/activites/{activity}"
    assert "Objectifs du cours modèle : Alerter Protéger Secourir" in text((await client.get(url)).text)
    form = {"kind": "quiz", "title": "Positionnement", "completion": "quiz", "pass_mark": "70", "assessment": "entry",
            "quiz_text": "[O3] Premier geste ?\n* a\n- b\n\n[Objectif 4] Ensuite ?\n* a\n- b"}
    refused = await post_form(client, url, form)
    assert refused.status_code == 422 and "Question 2 (« Ensuite ? ») : l'objectif 4 n'existe pas" in text(refused.text)
    assert (await post_form(client, url, {**form, "quiz_text": "[O3] Premier geste ?\n* a\n- b"})).status_code == 303
    row = await TemplateActivity.select().where(TemplateActivity.id == activity).first()
    assert row["assessment"] == "entry" and json.loads(row["quiz"])[0]["objective"] == 3


@pytest.mark.smoke
async def test_the_progress_overview_shows_entry_vs_exit_per_objective(client):
    data = await assessed_session()
    await login(client, "alp001.get")
    overview = (await client.get(f"/sessions/{data.session}/progression")).text
    assert f'href="/sessions/{data.session}/progression/acquis"' in overview
    page = text((await client.get(f"/sessions/{data.session}/progression/acquis")).text)
    assert "Positionnement et acquis" in page
    assert ("1. Repérer les situations de maltraitance 50 % (2 apprenants) 25 % (2 apprenants) 1 sur 2 (seuil 50 %)"
            in page)
    assert "2. Savoir alerter 0 % (2 apprenants) 75 % (2 apprenants) 2 sur 2 (seuil 50 %)" in page
    assert "Score global (toutes les questions) 33 % 50 %" in page
    names = {r["id"]: f"{r['first_name']} {r['last_name']}" for r in await Enrolment.select(
        Enrolment.id, Enrolment.user.first_name.as_alias("first_name"),
        Enrolment.user.last_name.as_alias("last_name")).where(Enrolment.session == data.session)}
    assert f"{names[data.a]} 100 % → 50 % ✓ atteint 0 % → 100 % ✓ atteint 66 % → 60 %" in page
    assert f"{names[data.b]} — → 0 % ✗ non atteint — → 50 % ✓ atteint — → 40 %" in page
    assert f"{names[data.c]} 0 % → — 0 % → — 0 % → —" in page
    # The learner's detail has their table too.
    detail = text((await client.get(f"/sessions/{data.session}/progression/{data.a}")).text)
    assert "2. Savoir alerter 0 % 100 % Oui (seuil 50 %)" in detail
    # A session with no assessment says how to make one.
    await SessionActivity.update({SessionActivity.assessment: ""}).where(SessionActivity.session == data.session)
    page = text((await client.get(f"/sessions/{data.session}/progression/acquis")).text)
    assert "Aucun test de cette session n'est un positionnement (entrée) ni une évaluation des acquis (sortie)." in page


async def test_the_learner_record_shows_entry_vs_exit(client):
    data = await assessed_session()
    user = (await Enrolment.select(Enrolment.user).where(Enrolment.id == data.a).first())["user"]
    await login(client, "alp001.get")
    page = text((await client.get(f"/analytique/inscrits/{user}")).text)
    assert ("Positionnement et évaluation des acquis" in page
            and "Objectif Positionnement (entrée) Évaluation des acquis (sortie) Atteint" in page)
    assert "1. Repérer les situations de maltraitance 100 % 50 % Oui (seuil 50 %)" in page
    assert "2. Savoir alerter 0 % 100 % Oui (seuil 50 %)" in page
    assert "Score global (toutes les questions) 66 % 60 %" in page
    user_b = (await Enrolment.select(Enrolment.user).where(Enrolment.id == data.b).first())["user"]
    page = text((await client.get(f"/analytique/inscrits/{user_b}")).text)
    assert "1. Repérer les situations de maltraitance non passé 0 % Non (seuil 50 %)" in page


async def test_another_establishments_assessments_are_missing(client):
    foreign = await assessed_session("DAM001")
    user = (await Enrolment.select(Enrolment.user).where(Enrolment.id == foreign.a).first())["user"]
    await login(client, "alp001.get")
    outside, missing = (await client.get(f"/sessions/{foreign.session}/progression/acquis"),
                        await client.get("/sessions/987654321/progression/acquis"))
    assert outside.status_code == missing.status_code == 404
    assert text(outside.text) == text(missing.text) and "Session introuvable." in text(outside.text)
    outside, missing = await client.get(f"/analytique/inscrits/{user}"), await client.get("/analytique/inscrits/987654321")
    assert outside.status_code == missing.status_code == 404 and text(outside.text) == text(missing.text)
    # Their own manager sees them.
    await post_form(client, "/deconnexion")
    await login(client, "dam001.get")
    assert "Savoir alerter" in text((await client.get(f"/sessions/{foreign.session}/progression/acquis")).text)


async def test_an_unreadable_tag_number_is_a_french_error_in_both_editors(client):
    """« [Objectif 999…9] » with 5,000 digits was a 500 (int() refuses more than 4,300 digits); an
    Arabic-Indic « ١ » was read as 1. Both editors answer 422 naming the question."""
    data = await assessed_session()
    template = (await CourseTemplate.insert(CourseTemplate(
        code="Z43", title="Gestes d'urgence", short_name="GU", objectives="Alerter\nProtéger")).returning(
        CourseTemplate.id))[0]["id"]
    activity = (await TemplateActivity.insert(TemplateActivity(template=template, kind="quiz", title="Positionnement")
                                              ).returning(TemplateActivity.id))[0]["id"]
    await login(client, "admin")
    for url in (f"/sessions/{data.session}/contenu/{data.exit}", f"/catalogue/{template}/activites/{activity}"):
        for tag in ("[Objectif " + "9" * 5000 + "]", "[Objectif \u0661]"):
            refused = await post_form(client, url, {
                "kind": "quiz", "title": "Évaluation", "completion": "quiz", "pass_mark": "50", "assessment": "exit",
                "quiz_text": f"{tag} Qui alerter ?\n* a\n- b"})
            assert refused.status_code == 422, (url, refused.status_code)
            assert ("Question 1 (« [Objectif " in text(refused.text)
                    and "l'étiquette d'objectif s'écrit « [Objectif N] », N étant le numéro de l'objectif." in text(refused.text))
    assert (await TemplateActivity.select(TemplateActivity.quiz).where(TemplateActivity.id == activity).first())["quiz"] in ("", None, "[]")


async def test_the_pages_state_the_best_exit_attempt_with_french_typography(client):
    """The « Positionnement et acquis » page and the learner record count the best exit attempt (as the
    attestation does), say so, and put a no-break space before « % » (« (seuil 60 %) » never breaks)."""
    from tests.services.test_assessments import attempt_at

    data = await assessed_session()
    await SessionActivity.update({SessionActivity.pass_mark: 60}).where(SessionActivity.id == data.exit)
    await attempt_at(data.a, data.exit, [1], [2], [1], [0], [1])  # a worse last attempt: the best counts
    await login(client, "alp001.get")
    raw = html.unescape((await client.get(f"/sessions/{data.session}/progression/acquis")).text)
    page = text(raw)
    assert "à la meilleure tentative de l'évaluation des acquis" in page and "dernière tentative" not in page
    assert "(seuil 60\u00a0%)" in raw and "(seuil 60 %)" not in raw
    assert "50\u00a0%" in raw and not re.search(r"\d %", raw)
    assert "(2\u00a0apprenants)" in raw
    names = {r["id"]: f"{r['first_name']} {r['last_name']}" for r in await Enrolment.select(
        Enrolment.id, Enrolment.user.first_name.as_alias("first_name"),
        Enrolment.user.last_name.as_alias("last_name")).where(Enrolment.session == data.session)}
    assert f"{names[data.a]} 100 % → 50 % ✗ non atteint 0 % → 100 % ✓ atteint 66 % → 60 %" in page
    user = (await Enrolment.select(Enrolment.user).where(Enrolment.id == data.a).first())["user"]
    raw = html.unescape((await client.get(f"/analytique/inscrits/{user}")).text)
    assert "(meilleure tentative" in text(raw) and "dernière tentative" not in text(raw)
    assert "2. Savoir alerter 0 % 100 % Oui (seuil 60 %)" in text(raw) and "(seuil 60\u00a0%)" in raw
    detail = html.unescape((await client.get(f"/sessions/{data.session}/progression/{data.a}")).text)
    assert "Score global (toutes les questions) 66 % 60 %" in text(detail) and "66\u00a0%" in detail
