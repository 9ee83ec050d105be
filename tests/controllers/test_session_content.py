"""A session's own activities edited by its managers (issue 10): add, edit (rich text sanitised, a
file uploaded then replaced), reorder, retire / restore an activity with records (never deleted),
delete one without; every change of the required set recomputes everyone's percent and completion
date; JS off (plain forms and redirects); another establishment's session answers as missing."""

import re

import pytest

from app.services import files
from app.tables.catalogue import SessionActivity
from app.tables.files import StoredFile
from app.tables.learning import ActivityCompletion, Enrolment
from tests.controllers.test_learner_space import _setup
from tests.helpers import login, post_form, text

PDF = b"%PDF-1.4\n" + b"premier support " * 50
PDF2 = b"%PDF-1.7\n" + b"second support " * 60


async def _percents(session_id):
    rows = await Enrolment.select(Enrolment.percent, Enrolment.completed_at, Enrolment.required_total).where(
        Enrolment.session == session_id).order_by(Enrolment.id)
    return [(r["percent"], r["completed_at"] is not None, r["required_total"]) for r in rows]


async def _titles(session_id):
    return [r["title"] for r in await SessionActivity.select(SessionActivity.title).where(
        SessionActivity.session == session_id).order_by(SessionActivity.position).order_by(SessionActivity.id)]


@pytest.mark.smoke
async def test_manager_edits_the_sessions_activities_and_progress_follows(client):
    session, act, fresh = await _setup()
    sid = session["id"]
    before = await _percents(sid)
    assert {p for p, _, _ in before} == {0, 66, 100} and all(t == 3 for _, _, t in before)
    await login(client, "alp001.get")
    assert f'href="/sessions/{sid}/contenu"' in (await client.get(f"/sessions/{sid}/")).text
    page = text((await client.get(f"/sessions/{sid}/contenu")).text)
    assert "Généralités" in page and "Quiz final" in page and "Ajouter une activité" in page

    # Add a required page: everyone's percent is recomputed, the finished learners are finished no more.
    added = await post_form(client, f"/sessions/{sid}/contenu", {"kind": "page", "title": "Charte", "required": "1"})
    assert added.status_code == 303
    new_id = (await SessionActivity.select(SessionActivity.id).where(
        (SessionActivity.session == sid) & (SessionActivity.title == "Charte")).first())["id"]
    assert added.headers["location"] == f"/sessions/{sid}/contenu/{new_id}"
    after = await _percents(sid)
    assert {p for p, _, _ in after} == {0, 50, 75} and not any(done for _, done, _ in after)
    assert all(t == 4 for _, _, t in after)

    # Edit it with a file (the template editor's form): rich text sanitised, real type checked.
    url = f"/sessions/{sid}/contenu/{new_id}"
    assert "Déposer un fichier" in (await client.get(url)).text
    token = client.cookies.get("csrftoken")
    form = {"kind": "page", "title": "Charte", "completion": "manual", "required": "1", "pass_mark": "80",
            "content": "<p>Lisez</p><script>alert(1)</script>", "_csrf_token": token}
    refused = await client.post(url, data=form, files={"file": ("charte.pdf", b"MZ\x90" + b"\x00" * 50, "application/pdf")})
    assert refused.status_code == 422 and "Type de fichier non accepté" in refused.text
    saved = await client.post(url, data=form, files={"file": ("charte.pdf", PDF, "application/pdf")})
    assert saved.status_code == 303
    row = await SessionActivity.select().where(SessionActivity.id == new_id).first()
    assert row["content"] == "<p>Lisez</p>" and row["file"]
    first_file = row["file"]
    assert "Remplacer le fichier" in (await client.get(url)).text
    replaced = await client.post(url, data=form, files={"file": ("charte-v2.pdf", PDF2, "application/pdf")})
    assert replaced.status_code == 303
    second_file = (await SessionActivity.select(SessionActivity.file).where(SessionActivity.id == new_id).first())["file"]
    assert second_file != first_file
    assert (await files.info(second_file))["name"] == "charte-v2.pdf"

    # Reorder: the new activity (last) moves up before the quiz; at the top it cannot go higher.
    titles = await _titles(sid)
    assert titles[-1] == "Charte"
    moved = await post_form(client, f"{url}/deplacer", {"direction": "up"}, follow_redirects=True)
    assert "Activité déplacée." in text(moved.text)
    assert await _titles(sid) == titles[:-2] + ["Charte", titles[-2]]
    top = (await SessionActivity.select(SessionActivity.id).where(SessionActivity.session == sid).order_by(
        SessionActivity.position).first())["id"]
    same = await post_form(client, f"/sessions/{sid}/contenu/{top}/deplacer", {"direction": "up"}, follow_redirects=True)
    assert "déjà à cette place" in text(same.text)

    # The page has completions: it cannot be deleted, only retired; retiring it recomputes everyone.
    page_id = act["page"]["id"]
    done_before = await ActivityCompletion.count().where(ActivityCompletion.activity == page_id)
    assert done_before > 0
    listing = (await client.get(f"/sessions/{sid}/contenu")).text
    assert f'/sessions/{sid}/contenu/{page_id}/supprimer' not in listing
    assert f'/sessions/{sid}/contenu/{new_id}/supprimer' in listing
    refused = await post_form(client, f"/sessions/{sid}/contenu/{page_id}/supprimer", {}, follow_redirects=True)
    assert "ne peut pas être supprimée" in text(refused.text)
    assert await SessionActivity.exists().where(SessionActivity.id == page_id)
    retired = await post_form(client, f"/sessions/{sid}/contenu/{page_id}/retirer", {}, follow_redirects=True)
    assert "Activité retirée" in text(retired.text) and "✗ Retirée le" in text(retired.text)
    assert await ActivityCompletion.count().where(ActivityCompletion.activity == page_id) == done_before
    assert all(t == 3 for _, _, t in await _percents(sid))
    assert {p for p, _, _ in await _percents(sid)} == {0, 33, 66}
    # The learner no longer sees it, and it is not a column of the overview.
    await client.post("/deconnexion", data={"_csrf_token": client.cookies.get("csrftoken")})
    await login(client, fresh["username"])
    learner_page = text((await client.get(f"/mes-sessions/{sid}/")).text)
    assert "Charte" in learner_page and "Généralités" not in learner_page
    assert (await client.get(f"/mes-sessions/{sid}/activites/{page_id}")).status_code == 404
    await client.post("/deconnexion", data={"_csrf_token": client.cookies.get("csrftoken")})
    await login(client, "alp001.get")
    assert "Généralités" not in (await client.get(f"/sessions/{sid}/progression")).text

    # Restored: it counts again, its completions are still there.
    restored = await post_form(client, f"/sessions/{sid}/contenu/{page_id}/retablir", {}, follow_redirects=True)
    assert "Activité rétablie." in text(restored.text)
    assert all(t == 4 for _, _, t in await _percents(sid))

    # An activity nobody did is deleted (after a confirmation page); the required set shrinks back.
    confirm = await client.get(f"/sessions/{sid}/contenu/{new_id}/supprimer")
    assert "Supprimer l'activité « Charte »" in text(confirm.text)
    deleted = await post_form(client, f"/sessions/{sid}/contenu/{new_id}/supprimer", {}, follow_redirects=True)
    assert "Activité supprimée." in text(deleted.text)
    assert not await SessionActivity.exists().where(SessionActivity.id == new_id)
    assert sorted(await _percents(sid)) == sorted(before)

    # Bad input: a clear French message, nothing added.
    bad = await post_form(client, f"/sessions/{sid}/contenu", {"kind": "page", "title": ""})
    assert bad.status_code == 422 and "Le titre de l'activité est obligatoire." in text(bad.text)


async def test_another_establishments_session_content_is_missing(client):
    session, act, fresh = await _setup()
    await login(client, "dam001.get")
    sid, page_id = session["id"], act["page"]["id"]
    before = await SessionActivity.count().where(SessionActivity.session == sid)
    missing = await client.get("/sessions/987654321/contenu")
    foreign = await client.get(f"/sessions/{sid}/contenu")
    assert foreign.status_code == missing.status_code == 404 and text(foreign.text) == text(missing.text)
    assert (await client.get(f"/sessions/{sid}/contenu/{page_id}")).status_code == 404
    for action, data in (("", {"kind": "page", "title": "x"}), (f"/{page_id}", {"kind": "page", "title": "x"}),
                         (f"/{page_id}/retirer", {}), (f"/{page_id}/deplacer", {"direction": "down"}),
                         (f"/{page_id}/supprimer", {})):
        assert (await post_form(client, f"/sessions/{sid}/contenu{action}", data)).status_code == 404
    row = await SessionActivity.select().where(SessionActivity.id == page_id).first()
    assert row["title"] == "Généralités" and row["retired_at"] is None
    assert await SessionActivity.count().where(SessionActivity.session == sid) == before


async def test_an_activity_of_another_session_is_missing(client):
    session, act, fresh = await _setup()
    from app.tables.catalogue import TrainingSession

    other = (await TrainingSession.insert(TrainingSession(
        establishment=session["establishment"], full_name="Autre session", short_name="Autre",
        start_date=session["start_date"], end_date=session["end_date"], code="26X00S9")).returning(
        TrainingSession.id))[0]["id"]
    await login(client, "alp001.get")
    for action in ("/retirer", "/supprimer", ""):
        data = {"kind": "page", "title": "x"} if not action else {}
        response = await post_form(client, f"/sessions/{other}/contenu/{act['page']['id']}{action}", data)
        assert response.status_code == 404 and "Activité introuvable." in text(response.text)
    assert (await SessionActivity.select().where(SessionActivity.id == act["page"]["id"]).first())["retired_at"] is None


async def test_unreferenced_files_are_deleted_after_the_grace_period(demo):
    from datetime import timedelta

    from app.dates import now
    from app.jobs.files import delete_unreferenced_files
    from app.jobs.worker import CRON_JOBS

    session, act, fresh = await _setup()
    used = await files.store("utilise.pdf", PDF, None)
    replaced = await files.store("remplace.pdf", PDF, None)
    recent = await files.store("tout-juste-depose.pdf", PDF, None)
    of_retired_long_ago = await files.store("retiree.pdf", PDF, None)
    of_retired_today = await files.store("retiree-ce-jour.pdf", PDF2, None)
    old = now() - timedelta(days=3)
    await StoredFile.update({StoredFile.created_at: old}).where(StoredFile.id != recent)
    await SessionActivity.update({SessionActivity.file: used}).where(SessionActivity.id == act["page"]["id"])
    await SessionActivity.update({SessionActivity.file: of_retired_long_ago, SessionActivity.retired_at: old}).where(
        SessionActivity.id == act["video"]["id"])
    await SessionActivity.update({SessionActivity.file: of_retired_today, SessionActivity.retired_at: now()}).where(
        SessionActivity.id == act["quiz"]["id"])
    assert any(getattr(job.coroutine, "__wrapped__", job.coroutine) is delete_unreferenced_files for job in CRON_JOBS)

    assert await delete_unreferenced_files({}) >= 2
    left = {r["id"] for r in await StoredFile.select(StoredFile.id)}
    assert used in left and recent in left and of_retired_today in left
    assert replaced not in left and of_retired_long_ago not in left
    video = await SessionActivity.select(SessionActivity.file).where(SessionActivity.id == act["video"]["id"]).first()
    assert video["file"] is None  # the retired activity no longer points at a deleted file
    assert await delete_unreferenced_files({}) == 0  # idempotent


async def test_the_template_editor_reorders_with_the_same_helper(client):
    from app.tables.catalogue import CourseTemplate, TemplateActivity

    await login(client, "admin")
    template = await CourseTemplate.select().where(CourseTemplate.code == "C01").first()

    async def titles():
        return [r["title"] for r in await TemplateActivity.select(TemplateActivity.title).where(
            TemplateActivity.template == template["id"]).order_by(TemplateActivity.position).order_by(TemplateActivity.id)]

    before = await titles()
    last = (await TemplateActivity.select(TemplateActivity.id).where(TemplateActivity.template == template["id"]).order_by(
        TemplateActivity.position, ascending=False).first())["id"]
    page = (await client.get(f"/catalogue/{template['id']}")).text
    assert f"/catalogue/{template['id']}/activites/{last}/deplacer" in page and "↑ Monter" in page
    moved = await post_form(client, f"/catalogue/{template['id']}/activites/{last}/deplacer", {"direction": "up"},
                            follow_redirects=True)
    assert "Activité déplacée." in text(moved.text)
    assert await titles() == before[:-2] + [before[-1], before[-2]]
    bad = await post_form(client, f"/catalogue/{template['id']}/activites/{last}/deplacer", {"direction": "sideways"})
    assert bad.status_code == 422 and "Déplacement inconnu" in text(bad.text)


async def test_retiring_the_last_missing_activity_completes_the_learner_and_issues_the_certificate(client):
    """A change of the required set that completes someone is a completion like any other: the
    enrolment's completed_at is set and the certificate issued, without a learner's action."""
    from app.tables.certificates import Certificate

    session, act, fresh = await _setup()
    sid = session["id"]
    rows = await Enrolment.select(Enrolment.id, Enrolment.percent).where(Enrolment.session == sid)
    halfway = next(r["id"] for r in rows if r["percent"] == 66)
    done = {r["activity"] for r in await ActivityCompletion.select(ActivityCompletion.activity).where(
        ActivityCompletion.enrolment == halfway)}
    missing = (await SessionActivity.select(SessionActivity.id).where(
        (SessionActivity.session == sid) & (SessionActivity.required == True)  # noqa: E712
        & SessionActivity.id.not_in(list(done))).first())["id"]
    assert not await Certificate.exists().where(Certificate.enrolment == halfway)

    await login(client, "alp001.get")
    retired = await post_form(client, f"/sessions/{sid}/contenu/{missing}/retirer", {})
    assert retired.status_code == 303
    row = await Enrolment.select(Enrolment.percent, Enrolment.completed_at).where(Enrolment.id == halfway).first()
    assert row["percent"] == 100 and row["completed_at"] is not None
    certificate = await Certificate.select(Certificate.id).where(Certificate.enrolment == halfway).first()
    assert certificate is not None
    # Sealed now or by its job (several completed at once here); downloadable at once either way.
    pdf = await client.get(f"/attestations/{certificate['id']}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    sealed = await Certificate.select(Certificate.pdf_sha256).where(Certificate.id == certificate["id"]).first()
    assert len(sealed["pdf_sha256"]) == 64


async def test_the_editor_shows_the_settings_of_the_activitys_own_type(client):
    """A questionnaire's form shows no video nor test block, a quiz's no questionnaire, a page's
    neither (the file block, which any type may carry, stays)."""
    session, act, _ = await _setup()
    await login(client, "alp001.get")
    base = f"/sessions/{session['id']}/contenu"

    def legends(page: str) -> set[str]:
        return set(re.findall(r"<legend>([^<]+)</legend>", page))

    assert legends((await client.get(f"{base}/{act['survey']['id']}")).text) == {"Fichier", "Questionnaire"}
    assert legends((await client.get(f"{base}/{act['quiz']['id']}")).text) == {"Fichier", "Test"}
    assert legends((await client.get(f"{base}/{act['video']['id']}")).text) == {"Fichier", "Vidéo"}
    assert legends((await client.get(f"{base}/{act['page']['id']}")).text) == {"Fichier"}
