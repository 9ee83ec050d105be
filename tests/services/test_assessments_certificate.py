"""The attestation de fin de formation states the exit assessment per objective (issue 23): frozen in
the snapshot at issue (« acquis »), printed « atteint / non atteint (NN %) » — only when the session has
an exit assessment; a snapshot without the key (attestations issued before) prints none of it.

One rule for the attempt that counts (issue 23 review): the results per objective come from the same
attempt as the « Meilleur score » of the evaluation table — the best one (the highest score, the latest
of equal ones) — and the page says so; an entry assessment (« Positionnement (entrée) ») is not
pass/fail: out of that table, stated apart with its first attempt's score."""

import io
import json

from pypdf import PdfReader

from app.pdf.render import render_html
from app.services import attendance, certificates, learning
from app.tables.catalogue import CourseTemplate, SessionActivity, TrainingSession
from app.tables.learning import CompletionHow, QuizAttempt
from tests.services.test_certificate_realisation import past_session
from tests.services.test_certificates import pdf_text

QUESTIONS = [{"text": "Un signe ?", "objective": 1, "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": False}]},
             {"text": "Un autre ?", "objective": 1, "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": False}]},
             {"text": "Qui alerter ?", "objective": 2, "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": False}]},
             {"text": "Libre", "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": False}]}]


async def attempt(enrolment: int, quiz: int, chosen: tuple, score: int) -> None:
    await QuizAttempt.insert(QuizAttempt(enrolment=enrolment, activity=quiz, answers=json.dumps(
        {str(i): c for i, c in enumerate(chosen)}), score=score, passed=score >= 50))


async def _attestation_session(exit_assessment: bool = True, entry_quiz: bool = False, tie: bool = False):
    session_id, activity, (enrolment,), slot_ids = await past_session(learners=1)
    template = (await CourseTemplate.insert(CourseTemplate(
        code="C98", title="Bientraitance", short_name="BT",
        objectives="1. Repérer les situations de maltraitance\n2. Savoir alerter\n3. Connaître la charte")).returning(
        CourseTemplate.id))[0]["id"]
    await TrainingSession.update({TrainingSession.template: template}).where(TrainingSession.id == session_id)
    quiz = (await SessionActivity.insert(SessionActivity(
        session=session_id, position=1, kind="quiz", title="Évaluation finale", required=False, pass_mark=50,
        quiz=json.dumps(QUESTIONS), assessment="exit" if exit_assessment else "")).returning(SessionActivity.id))[0]["id"]
    # The best attempt counts, not the last: 75 % (objective 1 all right, objective 2 wrong), then 50 %
    # (objective 1 half right, objective 2 right) — the table's « Meilleur score » is the first one's.
    await attempt(enrolment, quiz, ([0], [0], [1], [0]), 75)
    await attempt(enrolment, quiz, ([0], [1], [0], [1]), 50)
    if tie:  # a third attempt at 75 %, other answers: objective 1 half right, objective 2 right
        await attempt(enrolment, quiz, ([0], [1], [0], [0]), 75)
    if entry_quiz:
        entry = (await SessionActivity.insert(SessionActivity(
            session=session_id, position=0, kind="quiz", title="Test de positionnement", required=False, pass_mark=80,
            quiz=json.dumps(QUESTIONS), assessment="entry")).returning(SessionActivity.id))[0]["id"]
        # Positioning: the first attempt (25 %), not the better retry; below the pass mark, yet no « Non réussie ».
        await attempt(enrolment, entry, ([1], [1], [1], [0]), 25)
        await attempt(enrolment, entry, ([0], [0], [0], [0]), 100)
    await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    await attendance.save(None, session_id, {(enrolment, s): "present" for s in slot_ids})
    return enrolment, quiz


async def test_the_attestation_prints_the_exit_results_per_objective_from_the_best_attempt(demo):
    enrolment, quiz = await _attestation_session()
    certificate = await certificates.for_enrolment(enrolment)
    snap = certificate["snapshot"]
    assert snap["acquis"] == [
        {"numero": 1, "objectif": "Repérer les situations de maltraitance", "pourcentage": 100, "atteint": True},
        {"numero": 2, "objectif": "Savoir alerter", "pourcentage": 0, "atteint": False},
        {"numero": 3, "objectif": "Connaître la charte", "pourcentage": None, "atteint": False}]
    assert snap["evaluations"] == [{"titre": "Évaluation finale", "score": 75, "reussi": True}]
    assert snap["tentatives"] == "meilleure" and "positionnements" not in snap
    pdf = await certificates.pdf_of(certificate)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1  # still one A4 page
    content = pdf_text(pdf)
    for expected in ("Résultats de l'évaluation des acquis", "Objectif Résultat (meilleure tentative)",
                     "Repérer les situations de maltraitance atteint (100 %)", "Savoir alerter non atteint (0 %)",
                     "Connaître la charte non évalué", "Évaluation finale 75 % Réussie"):
        assert expected in content, expected
    assert "(50 %)" not in content  # the last attempt's figures are on no line
    html = render_html("pdf/certificate_v4.html", {"c": snap, "qr": "data:x"})
    assert "(100\u00a0%)" in html and ">75\u00a0%<" in html and "100 %" not in html  # a no-break space before « % »
    # Frozen: a later (better) attempt changes nothing on the attestation issued.
    await attempt(enrolment, quiz, ([0], [0], [0], [0]), 100)
    again = await certificates.for_enrolment(enrolment)
    assert again["snapshot"]["acquis"] == snap["acquis"] and await certificates.pdf_of(again) == pdf
    # An attestation issued before (no « acquis » nor « tentatives » in its snapshot) prints no such table.
    old = {k: v for k, v in snap.items() if k not in ("acquis", "tentatives")}
    old_content = pdf_text(certificates.render_sync(old))
    assert "Résultats de l'évaluation des acquis" in old_content and "atteint" not in old_content
    assert "Évaluation finale 75 % Réussie" in old_content and "meilleure tentative" not in old_content


async def test_of_equal_best_scores_the_latest_attempt_counts(demo):
    enrolment, _ = await _attestation_session(tie=True)
    snap = (await certificates.for_enrolment(enrolment))["snapshot"]
    assert [(o["pourcentage"], o["atteint"]) for o in snap["acquis"]] == [(50, True), (100, True), (None, False)]
    assert snap["evaluations"] == [{"titre": "Évaluation finale", "score": 75, "reussi": True}]


async def test_an_entry_assessment_is_stated_apart_never_as_non_reussie(demo):
    enrolment, _ = await _attestation_session(entry_quiz=True)
    snap = (await certificates.for_enrolment(enrolment))["snapshot"]
    assert snap["evaluations"] == [{"titre": "Évaluation finale", "score": 75, "reussi": True}]
    assert snap["positionnements"] == [{"titre": "Test de positionnement", "score": 25}]  # its first attempt
    pdf = await certificates.pdf_of(await certificates.for_enrolment(enrolment))
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    content = pdf_text(pdf)
    assert "Positionnement (entrée), « Test de positionnement » : 25 % à la première tentative." in content
    assert "Non réussie" not in content and "Test de positionnement 25" not in content
    assert "Aucune évaluation" not in content


async def test_without_exit_assessment_the_attestation_has_no_objective_results(demo):
    enrolment, _ = await _attestation_session(exit_assessment=False)
    certificate = await certificates.for_enrolment(enrolment)
    assert "acquis" not in certificate["snapshot"]
    content = pdf_text(await certificates.pdf_of(certificate))
    assert "atteint" not in content and "Évaluation finale 75 % Réussie" in content
