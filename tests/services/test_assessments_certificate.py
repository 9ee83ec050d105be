"""The attestation de fin de formation states the exit assessment per objective (issue 23): frozen in
the snapshot at issue (« acquis »), printed « atteint / non atteint (NN %) » — only when the session has
an exit assessment; a snapshot without the key (attestations issued before) prints none of it."""

import io
import json

from pypdf import PdfReader

from app.services import attendance, certificates, learning
from app.tables.catalogue import CourseTemplate, SessionActivity, TrainingSession
from app.tables.learning import CompletionHow, QuizAttempt
from tests.services.test_certificate_realisation import past_session
from tests.services.test_certificates import pdf_text

QUESTIONS = [{"text": "Un signe ?", "objective": 1, "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": False}]},
             {"text": "Un autre ?", "objective": 1, "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": False}]},
             {"text": "Qui alerter ?", "objective": 2, "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": False}]},
             {"text": "Libre", "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": False}]}]


async def _attestation_session(exit_assessment: bool = True):
    session_id, activity, (enrolment,), slot_ids = await past_session(learners=1)
    template = (await CourseTemplate.insert(CourseTemplate(
        code="C98", title="Bientraitance", short_name="BT",
        objectives="1. Repérer les situations de maltraitance\n2. Savoir alerter\n3. Connaître la charte")).returning(
        CourseTemplate.id))[0]["id"]
    await TrainingSession.update({TrainingSession.template: template}).where(TrainingSession.id == session_id)
    quiz = (await SessionActivity.insert(SessionActivity(
        session=session_id, position=1, kind="quiz", title="Évaluation finale", required=False, pass_mark=50,
        quiz=json.dumps(QUESTIONS), assessment="exit" if exit_assessment else "")).returning(SessionActivity.id))[0]["id"]
    # First attempt all right; the last one counts: objective 1 half right (50 % ≥ 50), objective 2 wrong.
    await QuizAttempt.insert(QuizAttempt(enrolment=enrolment, activity=quiz, answers=json.dumps(
        {"0": [0], "1": [0], "2": [0], "3": [0]}), score=100, passed=True))
    await QuizAttempt.insert(QuizAttempt(enrolment=enrolment, activity=quiz, answers=json.dumps(
        {"0": [0], "1": [1], "2": [1], "3": [0]}), score=50, passed=True))
    await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    await attendance.save(None, session_id, {(enrolment, s): "present" for s in slot_ids})
    return enrolment, quiz


async def test_the_attestation_prints_the_exit_results_per_objective(demo):
    enrolment, quiz = await _attestation_session()
    certificate = await certificates.for_enrolment(enrolment)
    snap = certificate["snapshot"]
    assert snap["acquis"] == [
        {"numero": 1, "objectif": "Repérer les situations de maltraitance", "pourcentage": 50, "atteint": True},
        {"numero": 2, "objectif": "Savoir alerter", "pourcentage": 0, "atteint": False},
        {"numero": 3, "objectif": "Connaître la charte", "pourcentage": None, "atteint": False}]
    pdf = await certificates.pdf_of(certificate)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1  # still one A4 page
    content = pdf_text(pdf)
    for expected in ("Résultats de l'évaluation des acquis", "Objectif Résultat",
                     "Repérer les situations de maltraitance atteint (50 %)", "Savoir alerter non atteint (0 %)",
                     "Connaître la charte non évalué", "Évaluation finale 100 % Réussie"):
        assert expected in content, expected
    # Frozen: a later attempt changes nothing on the attestation issued.
    await QuizAttempt.insert(QuizAttempt(enrolment=enrolment, activity=quiz, answers=json.dumps(
        {"0": [0], "1": [0], "2": [0], "3": [0]}), score=100, passed=True))
    again = await certificates.for_enrolment(enrolment)
    assert again["snapshot"]["acquis"] == snap["acquis"] and await certificates.pdf_of(again) == pdf
    # An attestation issued before (no « acquis » in its snapshot) prints no such table.
    old = {k: v for k, v in snap.items() if k != "acquis"}
    old_content = pdf_text(certificates.render_sync(old))
    assert "Résultats de l'évaluation des acquis" in old_content and "atteint" not in old_content
    assert "Évaluation finale 100 % Réussie" in old_content


async def test_without_exit_assessment_the_attestation_has_no_objective_results(demo):
    enrolment, _ = await _attestation_session(exit_assessment=False)
    certificate = await certificates.for_enrolment(enrolment)
    assert "acquis" not in certificate["snapshot"]
    content = pdf_text(await certificates.pdf_of(certificate))
    assert "atteint" not in content and "Évaluation finale 100 % Réussie" in content
