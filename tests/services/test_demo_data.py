"""The demo a newcomer opens shows the learning half too: the finishers of the session in progress
hold a sealed certificate that verifies."""

import hashlib

from app.demo import load_demo
from app.services import certificates
from app.tables.catalogue import TrainingSession
from app.tables.certificates import Certificate


async def test_the_demo_session_in_progress_has_sealed_certificates(clean):
    await load_demo()
    rows = await Certificate.select(Certificate.id, Certificate.code, Certificate.pdf_sha256,
                                    Certificate.enrolment.session.as_alias("session"))
    assert rows, "the demo's finishers should hold a certificate"
    assert all(r["pdf_sha256"] != certificates.UNSEALED for r in rows)
    # The session in progress, and the two finished ones of issue 23 (last month's, last November's).
    assert len({r["session"] for r in rows}) == 3
    assert await TrainingSession.exists().where(TrainingSession.id == rows[0]["session"])
    found = await certificates.verify(rows[0]["code"])
    assert found is not None and found["status"] == "valid"
    issued = (await certificates.for_session(rows[0]["session"]))[0]
    assert hashlib.sha256(await certificates.pdf_of(issued)).hexdigest() == issued["pdf_sha256"]


async def test_the_demo_is_believable_at_first_look(clean):
    """Issue 20 point 9: each template's own pages and quiz (the QVT quiz is about QVT, not the
    entretien professionnel); in the session in progress every learner was enrolled before any visit
    or completion (« Dernier accès » never precedes « Inscrit le »), completions take days (not
    « 0,0 j »), and the session has past slots with attendance recorded (the finishers present)."""
    import json

    from app.dates import today
    from app.tables.catalogue import CourseTemplate, SessionSlot, TemplateActivity
    from app.tables.learning import Attendance, Enrolment

    await load_demo()
    activities = await TemplateActivity.select(TemplateActivity.kind, TemplateActivity.title, TemplateActivity.content,
                                               TemplateActivity.quiz, TemplateActivity.template.code.as_alias("code"))
    pages = [a["content"] for a in activities if a["kind"] == "page"]
    assert len(set(pages)) == len(pages)  # no two pages alike
    quizzes = {a["code"]: json.loads(a["quiz"]) for a in activities if a["kind"] == "quiz"}
    assert "QVT" in quizzes["C03"][0]["text"]
    assert not any("entretien" in q["text"].lower() for q in quizzes["C03"] + quizzes["C07"])
    assert await CourseTemplate.count() == 3

    session = await TrainingSession.select().where(TrainingSession.code.like("%C01S%")).where(
        (TrainingSession.start_date < today()) & (TrainingSession.end_date > today())).first()
    rows = await Enrolment.select().where(Enrolment.session == session["id"])
    for r in rows:
        assert r["last_visit"] is None or r["last_visit"] >= r["enrolled_at"]
        assert r["completed_at"] is None or (r["completed_at"] - r["enrolled_at"]).days >= 1
    slots = await SessionSlot.select().where(SessionSlot.session == session["id"])
    assert len(slots) == 4 and all(s["day"] < today() for s in slots)
    finishers = [r["id"] for r in rows if r["completed_at"]]
    assert finishers
    present = await Attendance.count().where(Attendance.enrolment.is_in(finishers) & (Attendance.status == "present"))
    assert present == 4 * len(finishers)
    assert all(r["attended_minutes"] == 14 * 60 for r in rows if r["completed_at"])
    # One duration on the demo's certificates: the text says the slots' 14 h, as « Durée prévue »
    # does (the template's « 7 heures » written into the text contradicted them).
    from app.tables.certificates import Certificate

    certificate = await Certificate.select(Certificate.snapshot).where(Certificate.enrolment == finishers[0]).first()
    snapshot = certificate["snapshot"] if isinstance(certificate["snapshot"], dict) else json.loads(certificate["snapshot"])
    assert "(14 h)" in snapshot["text"] and snapshot["heures_prevues"] == "14 h" and "7 heures" not in snapshot["text"]


async def test_the_demo_holds_the_quality_evidence_of_issue_23(clean):
    """A newcomer finds figures behind every new screen: answered satisfaction questionnaires (the
    à chaud one anonymous), C03's entry and exit assessments tagged with its two objectives, and last
    November's session with elected officials registered through the public wizard and two trainers —
    the BPF and the élus' report of the last closed year."""
    import json

    from app.dates import today
    from app.tables.catalogue import CourseTemplate, SessionActivity
    from app.tables.evidence import SessionTrainer
    from app.tables.learning import EnrolmentSource
    from app.tables.quality import SurveyInvitation, SurveyResponse
    from app.tables.registration import RegistrationRequest

    await load_demo()
    assert all(t["nsf_code"] and t["bpf_objective"] for t in await CourseTemplate.select())
    hot = await SurveyResponse.select().where(SurveyResponse.phase == "hot")
    assert len(hot) >= 10 and all(r["enrolment"] is None and r["submitted_on"] is None for r in hot)
    assert await SurveyInvitation.count().where(SurveyInvitation.answered == False) > 0  # noqa: E712
    exit_quiz = await SessionActivity.select().where(SessionActivity.assessment == "exit").first()
    assert {q.get("objective") for q in json.loads(exit_quiz["quiz"])} == {1, 2}
    (last_year,) = [s for s in await TrainingSession.select() if s["end_date"].year == today().year - 1]
    assert await SessionTrainer.count().where(SessionTrainer.session == last_year["id"]) == 2
    requests = await RegistrationRequest.select().where(RegistrationRequest.session == last_year["id"])
    assert len(requests) == 4 and all(r["status"] == "completed" and r["mandate"] for r in requests)
    assert await EnrolmentSource.count().where(EnrolmentSource.kind == "registration") == 4
