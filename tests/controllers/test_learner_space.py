"""The learner's space (issue 10 §2, SPEC D1): who sees which session, the completion rules (manual,
on view, on passing the quiz) written with the summary, the discussion, rich text and files."""

import re
from datetime import timedelta

import pytest

from app.dates import today
from app.demo import _load_session_in_progress
from app.services.enrolments import add_sources, remove_sources
from app.services.errors import ValidationFailed
from app.services.learner import clean_html
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import CourseTemplate, SessionActivity, TemplateActivity, TrainingSession
from app.tables.learning import ActivityCompletion, DiscussionMessage, Enrolment, QuizAttempt, SourceKind
from app.tables.org import Establishment
from tests.helpers import attended_every_slot, login, post_form, text


async def _setup():
    """The demo session in progress at ALP001 (page, video, quiz), and one learner not started."""
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == alp001)).order_by(RoleAssignment.user)]
    await _load_session_in_progress(alp001, learners)
    session = await TrainingSession.select().where(TrainingSession.start_date <= today()).first()
    activities = await SessionActivity.select().where(SessionActivity.session == session["id"]).order_by(
        SessionActivity.position)
    fresh = await Enrolment.select(Enrolment.id, Enrolment.user.username.as_alias("username")).where(
        (Enrolment.session == session["id"]) & (Enrolment.percent == 0)).order_by(Enrolment.user).first()
    await attended_every_slot(session["id"], fresh["id"])  # there in person; the online part follows
    return session, {a["kind"]: a for a in activities}, fresh


async def _summary(enrolment_id):
    return await Enrolment.select().where(Enrolment.id == enrolment_id).first()


@pytest.mark.smoke
async def test_a_learner_goes_from_nothing_to_completed(client):
    session, act, me = await _setup()
    await login(client, me["username"])
    base = f"/mes-sessions/{session['id']}"

    home = text((await client.get("/")).text)
    assert "En cours" in home and "0 % — 0 / 3 activités requises terminées" in home
    assert "Reprendre là où je me suis arrêté" not in home  # nothing opened yet

    page = await client.get(base + "/")
    assert page.status_code == 200
    body = text(page.text)
    assert "Ma progression" in body and "Discuter" in body and "○ À faire" in body

    # Manual rule: opening the page completes nothing; « J'ai terminé » does, with the summary.
    opened = await client.get(f"{base}/activites/{act['page']['id']}")
    assert "J'ai terminé" in opened.text and "Le cadre" in text(opened.text)
    assert (await _summary(me["id"]))["required_done"] == 0
    done = await post_form(client, f"{base}/activites/{act['page']['id']}/terminer", {"done": "1"}, htmx=True)
    assert done.status_code == 200 and 'id="learner-state"' in done.text and "<html" not in done.text
    assert "✔ Terminée" in done.text and "33 %" in done.text and "1 / 3" in text(done.text)
    row = await _summary(me["id"])
    assert (row["required_done"], row["percent"], row["completed_at"]) == (1, 33, None)
    completion = await ActivityCompletion.select().where(ActivityCompletion.enrolment == me["id"]).first()
    assert completion["how"] == "manual"

    # Resume where I stopped.
    home = text((await client.get("/")).text)
    assert "Reprendre là où je me suis arrêté « Généralités »" in home

    # View rule: the video is completed by opening it.
    await client.get(f"{base}/activites/{act['video']['id']}")
    assert (await _summary(me["id"]))["percent"] == 66

    # Quiz rule: a failed attempt is recorded and completes nothing; a pass completes the session.
    quiz_url = f"{base}/activites/{act['quiz']['id']}/test"
    failed = await post_form(client, quiz_url, {"q0": "1", "q1": "0", "q2": "0"})
    assert failed.status_code == 303
    shown = text((await client.get(failed.headers["location"])).text)
    assert "Test non réussi : 33 % (seuil 60 %)" in shown and "✘ Non réussi" in shown
    # Issue 20 point 14: which questions were wrong, with what was answered (not the right answers).
    assert "Votre dernière tentative : 33 % — les questions à revoir" in shown
    assert shown.count("✘ À revoir") == 2 and shown.count("✔ Juste") == 1
    assert shown.count("vous aviez répondu :") == 3
    assert (await _summary(me["id"]))["completed_at"] is None
    incomplete = await post_form(client, quiz_url, {"q0": "0"})
    assert incomplete.status_code == 422 and "Répondez à toutes les questions." in incomplete.text
    quiz_page = (await client.get(f"{base}/activites/{act['quiz']['id']}")).text
    started = re.search(r'name="started" value="(\d+)"', quiz_page)[1]
    passed = await post_form(client, quiz_url, {"q0": "0", "q1": "0", "q2": ["0", "1"], "started": started})
    assert passed.status_code == 303
    tries = await QuizAttempt.select().where(QuizAttempt.enrolment == me["id"]).order_by(QuizAttempt.id)
    assert [(t["score"], t["passed"]) for t in tries] == [(33, False), (100, True)]
    assert tries[1]["answers"] and tries[1]["started_at"] is not None and tries[1]["submitted_at"]
    row = await _summary(me["id"])
    assert row["percent"] == 100 and row["completed_at"] is not None
    assert "les questions à revoir" not in (await client.get(f"{base}/activites/{act['quiz']['id']}")).text
    home = text((await client.get("/")).text)
    assert "Terminées" in home and "✔ terminée le" in home


async def test_the_learner_sees_the_slots_place_contact_and_what_to_bring(client):
    """Issue 12: the session's times, place and contact shown in the learner's space, as on the
    convocation; typed text escaped, the link only an http(s) one."""
    from datetime import time as clock

    from app.services import slots

    from app.tables.catalogue import SessionSlot
    from app.tables.evidence import AttendanceRecord
    from app.tables.learning import Attendance

    session, activities, fresh = await _setup()
    # The demo session has two days of slots with attendance (issue 20 point 9): start from none.
    slot_ids = [r["id"] for r in await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session["id"])]
    await Attendance.delete().where(Attendance.slot.is_in(slot_ids or [-1]))
    # Issue 22: the attendance records (append-only evidence) hold the slots too.
    await AttendanceRecord.delete().where(AttendanceRecord.slot.is_in(slot_ids or [-1]))
    await SessionSlot.delete().where(SessionSlot.session == session["id"])
    await login(client, fresh["username"])
    page = text((await client.get(f"/mes-sessions/{session['id']}")).text)
    assert "Informations pratiques" not in page  # nothing to show yet: no empty box
    day = session["start_date"]
    await slots.replace(session["id"], [slots.Slot(day, clock(9), clock(12, 30)), slots.Slot(day, clock(13, 30), clock(17))])
    await TrainingSession.update({
        TrainingSession.place: "Salle Rhône\n12 rue des Lilas", TrainingSession.remote_url: "https://visio.example.org/abc",
        TrainingSession.contact: "Claire <b>Martin</b>", TrainingSession.what_to_bring: "Pièce d'identité\nStylo",
    }).where(TrainingSession.id == session["id"])
    answer = await client.get(f"/mes-sessions/{session['id']}")
    page = text(answer.text)
    assert "Informations pratiques" in page
    assert "09:00–12:30, 13:30–17:00" in page and "Salle Rhône 12 rue des Lilas" in page
    assert '<a href="https://visio.example.org/abc" rel="noopener noreferrer">' in answer.text
    assert "Claire &lt;b&gt;Martin&lt;/b&gt;" in answer.text and "Pièce d'identité" in page and "Stylo" in page
    await TrainingSession.update({TrainingSession.remote_url: "javascript:alert(1)"}).where(
        TrainingSession.id == session["id"])  # never through the form (it checks), but never a link either
    assert 'href="javascript:' not in (await client.get(f"/mes-sessions/{session['id']}")).text


async def test_manual_completion_without_javascript_and_undo(client):
    session, act, me = await _setup()
    await login(client, me["username"])
    url = f"/mes-sessions/{session['id']}/activites/{act['page']['id']}/terminer"
    response = await post_form(client, url, {"done": "1"})
    assert response.status_code == 303
    assert "Activité marquée terminée." in (await client.get(response.headers["location"])).text
    await post_form(client, url, {"done": "0"})
    assert (await _summary(me["id"]))["required_done"] == 0
    # The quiz is not marked by hand.
    refused = await post_form(client, f"/mes-sessions/{session['id']}/activites/{act['quiz']['id']}/terminer")
    assert refused.status_code == 422 and "ne se marque pas terminée à la main" in refused.text


@pytest.mark.smoke
async def test_what_a_learner_may_not_see_answers_like_a_missing_session(client):
    session, act, me = await _setup()
    dam = (await Establishment.select(Establishment.id).where(Establishment.code == "DAM001").first())["id"]
    await login(client, me["username"])
    missing = await client.get("/mes-sessions/987654321/")
    assert missing.status_code == 404 and "Session introuvable." in missing.text

    def same(response):
        return response.status_code == 404 and text(response.text) == text(missing.text)

    other = (await TrainingSession.insert(TrainingSession(
        establishment=dam, full_name="Autre", short_name="Autre", start_date=today() - timedelta(days=1),
        end_date=today() + timedelta(days=3), code="26X01S1")).returning(TrainingSession.id))[0]["id"]
    assert same(await client.get(f"/mes-sessions/{other}/"))  # not enrolled
    assert same(await post_form(client, f"/mes-sessions/{other}/discussion", {"body": "Bonjour"}))
    # Completion posted for an activity of a session I am not in, through mine or through the other.
    assert (await post_form(client, f"/mes-sessions/{other}/activites/{act['page']['id']}/terminer")).status_code == 404
    other_activity = (await SessionActivity.insert(SessionActivity(session=other, title="X", kind="page")).returning(
        SessionActivity.id))[0]["id"]
    refused = await post_form(client, f"/mes-sessions/{session['id']}/activites/{other_activity}/terminer")
    assert refused.status_code == 404 and "Activité introuvable." in refused.text
    assert not await ActivityCompletion.exists().where(ActivityCompletion.activity == other_activity)

    # Hidden, not yet started, or unenrolled: the same answer as missing.
    await TrainingSession.update({TrainingSession.visible: False}).where(TrainingSession.id == session["id"])
    assert same(await client.get(f"/mes-sessions/{session['id']}/"))
    await TrainingSession.update({TrainingSession.visible: True, TrainingSession.start_date: today() + timedelta(days=1)}
                                 ).where(TrainingSession.id == session["id"])
    assert same(await client.get(f"/mes-sessions/{session['id']}/"))
    home = text((await client.get("/")).text)
    assert "À venir" in home and "ouverte à partir du" in home
    await TrainingSession.update({TrainingSession.start_date: today()}).where(TrainingSession.id == session["id"])
    assert (await client.get(f"/mes-sessions/{session['id']}/")).status_code == 200
    # The manager's address of the session takes the learner to their own page, never "Accès refusé".
    redirected = await client.get(f"/sessions/{session['id']}/")
    assert redirected.status_code == 303 and redirected.headers["location"] == f"/mes-sessions/{session['id']}"
    assert same(await client.get(f"/sessions/{other}/"))
    user_id = (await User.select(User.id).where(User.username == me["username"]).first())["id"]
    await remove_sources(session["id"], [user_id], SourceKind.manual)
    assert same(await client.get(f"/mes-sessions/{session['id']}/"))
    assert same(await post_form(client, f"/mes-sessions/{session['id']}/activites/{act['page']['id']}/terminer"))
    await add_sources(session["id"], [user_id], SourceKind.manual)
    assert (await client.get(f"/mes-sessions/{session['id']}/")).status_code == 200


async def test_discussion_post_escape_and_hide(client, new_client):
    session, act, me = await _setup()
    await login(client, me["username"])
    url = f"/mes-sessions/{session['id']}/discussion"
    empty = await post_form(client, url, {"body": "   "})
    assert empty.status_code == 422 and "Écrivez un message" in empty.text
    posted = await post_form(client, url, {"body": "<script>alert(1)</script>\nDeuxième ligne"})
    assert posted.status_code == 303
    page = (await client.get(f"/mes-sessions/{session['id']}/")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\nDeuxième ligne" in page and "<script>alert" not in page

    async with new_client() as manager:
        await login(manager, "alp001.get")
        shown = await manager.get(f"/sessions/{session['id']}/discussion")
        assert "&lt;script&gt;" in shown.text
        await post_form(manager, f"/sessions/{session['id']}/discussion", {"body": "Réponse de la gestionnaire"})
        message = await DiscussionMessage.select().where(DiscussionMessage.body.like("<script>%")).first()
        hidden = await post_form(manager, f"/sessions/{session['id']}/discussion/{message['id']}/masquer")
        assert hidden.status_code == 303
        row = await DiscussionMessage.select().where(DiscussionMessage.id == message["id"]).first()
        assert row["hidden_at"] is not None and row["hidden_by"] is not None
        assert "⊘ Masqué par Emma Gestionnaire" in text((await manager.get(f"/sessions/{session['id']}/discussion")).text)
    async with new_client() as foreign:
        await login(foreign, "dam001.get")
        assert (await foreign.get(f"/sessions/{session['id']}/discussion")).status_code == 404
        assert (await post_form(foreign, f"/sessions/{session['id']}/discussion/{message['id']}/masquer")).status_code == 404
    page = text((await client.get(f"/mes-sessions/{session['id']}/")).text)
    assert "alert(1)" not in page and "Réponse de la gestionnaire" in page


@pytest.mark.smoke
def test_rich_text_is_sanitised():
    dirty = ('<p onclick="x()">Texte <strong>gras</strong></p><script>alert(1)</script>'
             '<img src="x" onerror="alert(2)"><a href="javascript:alert(3)">lien</a>'
             '<a href="https://example.org">ok</a><iframe src="https://evil"></iframe><svg onload="alert(4)"></svg>')
    clean = clean_html(dirty)
    for bad in ("script", "onerror", "onclick", "javascript:", "iframe", "onload", "svg"):
        assert bad not in clean.lower()
    assert "<strong>gras</strong>" in clean and 'href="https://example.org"' in clean


async def test_admin_edits_activity_content_file_and_quiz(client):
    session, act, me = await _setup()
    await login(client, "admin")
    template = await CourseTemplate.select().where(CourseTemplate.code == "C01").first()
    page = await TemplateActivity.select().where(
        (TemplateActivity.template == template["id"]) & (TemplateActivity.kind == "page")).first()
    url = f"/catalogue/{template['id']}/activites/{page['id']}"
    assert (await client.get(url)).status_code == 200
    form = {"kind": "page", "title": "Généralités", "completion": "manual", "required": "1", "pass_mark": "80",
            "content": '<p>Bonjour</p><script>alert(1)</script><a href="javascript:alert(2)">x</a>'}
    # A file whose name says PDF but whose bytes are a Windows program: refused, nothing lost.
    token = client.cookies.get("csrftoken")
    refused = await client.post(url, data={**form, "_csrf_token": token},
                                files={"file": ("cours.pdf", b"MZ\x90\x00" + b"\x00" * 100, "application/pdf")})
    assert refused.status_code == 422 and "Type de fichier non accepté" in refused.text
    assert "Bonjour" in refused.text  # the typed content comes back
    pdf = b"%PDF-1.4\n" + b"0123456789" * 200
    saved = await client.post(url, data={**form, "_csrf_token": token}, files={"file": ("cours.pdf", pdf, "text/plain")})
    assert saved.status_code == 303
    row = await TemplateActivity.select().where(TemplateActivity.id == page["id"]).first()
    assert "script" not in row["content"] and "javascript" not in row["content"] and row["file"]

    quiz = await TemplateActivity.select().where(
        (TemplateActivity.template == template["id"]) & (TemplateActivity.kind == "quiz")).first()
    bad = await post_form(client, f"/catalogue/{template['id']}/activites/{quiz['id']}", {
        "kind": "quiz", "title": "Quiz", "completion": "quiz", "pass_mark": "150", "quiz_text": "Question ?\n- a\n- b"})
    assert bad.status_code == 422 and "entre 0 et 100" in bad.text and "au moins une réponse juste" in bad.text


@pytest.mark.smoke
async def test_file_download_with_range(client):
    from app.services import files

    session, act, me = await _setup()
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    file_id = await files.store("Support de cours.pdf", pdf, None)
    await SessionActivity.update({SessionActivity.file: file_id}).where(SessionActivity.id == act["page"]["id"])
    await login(client, me["username"])
    url = f"/mes-sessions/{session['id']}/activites/{act['page']['id']}/fichier"
    whole = await client.get(url)
    assert whole.status_code == 200 and whole.content == pdf and whole.headers["content-type"] == "application/pdf"
    part = await client.get(url, headers={"Range": "bytes=100-199", "Accept-Encoding": "br, gzip"})
    assert part.status_code == 206 and part.content == pdf[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(pdf)}"
    assert (await client.get(url, headers={"Range": "bytes=999999-"})).status_code == 416
    with pytest.raises(ValidationFailed) as refused:
        await files.store("virus.pdf", b"MZ" + b"\x00" * 50, None)
    assert "Type de fichier non accepté" in refused.value.errors["file"]
    # A learner who is not enrolled cannot fetch it.
    dam_learner = await User.select(User.username).where(User.username.like("dam001.%")
                                                         & (User.username != "dam001.get")).first()
    await client.post("/deconnexion", data={"_csrf_token": client.cookies.get("csrftoken")})
    await login(client, dam_learner["username"])
    assert (await client.get(url)).status_code == 404


async def test_reengagement_is_kept_for_managers_and_hidden_from_learners(client, new_client):
    """Issue 20 point 8: « Réengagement » (Moodle's reminder module, « caché pour les apprenants » in
    the seed) is never shown to learners, never required; managers see and preview it."""
    session, act, fresh = await _setup()
    await login(client, "alp001.get")
    response = await post_form(client, f"/sessions/{session['id']}/contenu/", {
        "kind": "reminder", "title": "Réengagement", "required": "1", "completion": "manual"})
    assert response.status_code == 303, text(response.text)
    reminder = await SessionActivity.select().where(
        (SessionActivity.session == session["id"]) & (SessionActivity.kind == "reminder")).first()
    assert reminder["required"] is False and reminder["completion"] == "none"
    assert "Réengagement" in text((await client.get(f"/sessions/{session['id']}/")).text)
    preview = text((await client.get(f"/sessions/{session['id']}/contenu/{reminder['id']}/apercu")).text)
    assert "Les apprenants ne voient pas cette activité" in preview
    async with new_client() as learner:
        await login(learner, fresh["username"])
        page = text((await learner.get(f"/mes-sessions/{session['id']}/")).text)
        assert "Généralités" in page and "Réengagement" not in page
        hidden = await learner.get(f"/mes-sessions/{session['id']}/activites/{reminder['id']}")
        assert hidden.status_code == 404
        assert "0 / 3 activités requises terminées" in page
