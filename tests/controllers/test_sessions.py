"""SPEC B1-B3 and C1: catalogue, sessions of an establishment, the import wizard, manual enrolment."""

from datetime import date

import pytest

from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import ContentImport, CourseTemplate, SessionActivity, TemplateActivity, TrainingSession
from app.tables.learning import Enrolment
from app.tables.org import Establishment
from tests.helpers import login, post_form, text


async def _ids():
    return {r["code"]: r["id"] for r in await Establishment.select(Establishment.id, Establishment.code)}


async def _template(code="C03"):
    return await CourseTemplate.select().where(CourseTemplate.code == code).first()


async def _create_session(client, establishment_id, **overrides):
    qvt = await _template()
    data = {"template": qvt["id"], "start_date": "2026-06-12", "end_date": "2026-06-16",
            "establishment": establishment_id, "visible": "1", "action": "save"}
    data.update(overrides)
    return await post_form(client, f"/etablissements/{establishment_id}/sessions/nouvelle", data)


@pytest.mark.smoke
async def test_create_session_with_proposed_name_and_code(client):
    ids = await _ids()
    await login(client, "alp001.get")
    qvt = await _template()
    proposed = await post_form(client, f"/etablissements/{ids['ALP001']}/sessions/nouvelle", {
        "template": qvt["id"], "start_date": "2026-06-12", "end_date": "2026-06-16", "action": "propose",
        "establishment": ids["ALP001"]})
    assert 'value="Session du 12-06-2026 au 16-06-2026_Qualité de vie au travail (QVT)"' in proposed.text
    response = await _create_session(client, ids["ALP001"])
    assert response.status_code == 303
    first = await TrainingSession.select().where(TrainingSession.establishment == ids["ALP001"]).first()
    assert first["full_name"] == "Session du 12-06-2026 au 16-06-2026_Qualité de vie au travail (QVT)"
    assert first["short_name"] == first["full_name"] and first["code"] == "26C03S1"
    await _create_session(client, ids["ALP002"], establishment=ids["ALP002"])
    codes = sorted(r["code"] for r in await TrainingSession.select(TrainingSession.code))
    assert codes == ["26C03S1", "26C03S2"]
    listing = text((await client.get(f"/etablissements/{ids['ALP001']}/sessions")).text)
    assert "ALPES ALP : 2" in listing and "CH BUIS LES BARONNIES ALP001 : 1" in listing
    assert "CH D'AMBERT" not in listing


async def test_session_form_errors(client):
    ids = await _ids()
    await login(client, "alp001.get")
    response = await _create_session(client, ids["ALP001"], start_date="2026-06-16", end_date="2026-06-12")
    assert response.status_code == 422
    assert "La date de fin doit être postérieure ou égale à la date de début." in text(response.text)
    await _create_session(client, ids["ALP001"], code="26C03S7")
    response = await _create_session(client, ids["ALP001"], code="26C03S7")
    assert "Le code 26C03S7 est déjà utilisé par une autre session." in text(response.text)
    response = await _create_session(client, ids["ALP001"], code="n'importe quoi")
    assert "Code de session invalide" in text(response.text)
    response = await _create_session(client, ids["ALP001"], establishment=ids["DAM001"])
    assert response.status_code == 422 and "Choisissez une catégorie" in text(response.text)
    assert await TrainingSession.count() == 1


async def test_import_wizard_six_steps_previous_keeps_choices_and_no_duplicates(client, run_jobs):
    ids = await _ids()
    await login(client, "alp001.get")
    await _create_session(client, ids["ALP001"], template="")
    session = await TrainingSession.select().first()
    url = f"/sessions/{session['id']}/import"
    step1 = await client.get(url)
    body = text(step1.text)
    assert "1. Sélection du contenu" in body and "Nombre de cours : 3" in body
    assert "Qualité de vie au travail (QVT)_C4_Inscription institutionnelle" in body
    search = text((await client.get(url + "?step=1&q=laïcité", headers={"HX-Request": "true"})).text)
    assert "fondamentaux de la laïcité" in search and "QVT" not in search
    assert "Nombre de cours : 1 sur 3 (recherche « laïcité »)" in search  # the list shown (issue 20 point 16)
    # Step 1 without a choice: a clear message.
    response = await post_form(client, url, {"step": "1", "go": "next"})
    assert response.status_code == 422 and "Sélectionnez un cours dans la liste." in text(response.text)
    qvt = await _template()
    assert (await post_form(client, url, {"step": "1", "go": "next", "template": qvt["id"]})).headers["location"] == url + "?step=2"
    await post_form(client, url, {"step": "2", "go": "next", "setting": ["files", "badges"]})
    # Previous keeps what was chosen.
    back = await client.get(url + "?step=2")
    assert 'value="badges" checked' in back.text and 'value="permissions" checked' not in back.text
    back = await client.get(url + "?step=1")
    assert f'value="{qvt["id"]}" id="t-{qvt["id"]}" checked' in back.text
    activities = await TemplateActivity.select().where(TemplateActivity.template == qvt["id"]).order_by(TemplateActivity.position)
    chosen = [str(a["id"]) for a in activities if a["title"] != "Réengagement"]
    await post_form(client, url, {"step": "3", "go": "next", "activity": chosen})
    review = text((await client.get(url + "?step=4")).text)
    assert "Confirmation et relecture" in review and "Inclure les badges" in review and "Réengagement" not in review
    response = await post_form(client, url, {"step": "4", "go": "next"})
    assert response.headers["location"] == url + "?step=5"
    await post_form(client, url, {"step": "4", "go": "next"})  # double submit
    assert await ContentImport.count().where(ContentImport.status == "queued") == 1
    progress = await client.get(url + "?step=5", headers={"HX-Request": "true"})
    assert "Importation du contenu" in progress.text
    await run_jobs()
    done = text((await client.get(url)).text)
    assert "Importation terminée. Cliquez sur continuer pour revenir au contenu." in done
    copied = await SessionActivity.select(SessionActivity.title).where(SessionActivity.session == session["id"])
    assert sorted(a["title"] for a in copied) == sorted(a["title"] for a in activities if a["title"] != "Réengagement")
    stored = await TrainingSession.select().where(TrainingSession.id == session["id"]).first()
    assert stored["certificate_text"].startswith("Atteste") and stored["template"] == qvt["id"]
    page = text((await client.get(f"/sessions/{session['id']}")).text)
    assert "Attestation de suivi de formation" in page and "Ma progression" in page

    # Importing the same template again copies nothing twice; the new choice adds what is missing.
    await post_form(client, url, {"step": "6", "go": "restart"})
    await post_form(client, url, {"step": "1", "go": "next", "template": qvt["id"]})
    await post_form(client, url, {"step": "2", "go": "last", "setting": ["files"]})
    await run_jobs()
    titles = [a["title"] for a in await SessionActivity.select(SessionActivity.title).where(SessionActivity.session == session["id"])]
    assert len(titles) == len(set(titles)) == len(activities)


async def test_wizard_steps_are_htmx_regions(client):
    ids = await _ids()
    await login(client, "alp001.get")
    await _create_session(client, ids["ALP001"])
    session = await TrainingSession.select().first()
    region = await client.get(f"/sessions/{session['id']}/import", headers={"HX-Request": "true"})
    assert region.text.lstrip().startswith('<div id="wizard">') and "<html" not in region.text


async def test_show_hide_and_delete_refused_while_learners_are_enrolled(client):
    ids = await _ids()
    await login(client, "alp001.get")
    await _create_session(client, ids["ALP001"])
    session = await TrainingSession.select().first()
    assert "Visibilité Visible" in text((await client.get(f"/sessions/{session['id']}/")).text)
    await post_form(client, f"/sessions/{session['id']}/cacher")
    assert (await TrainingSession.select(TrainingSession.visible).first())["visible"] is False
    # Issue 20 point 17: a state, not the option's label « Afficher ».
    assert "Visibilité Cachée" in text((await client.get(f"/sessions/{session['id']}/")).text)
    listing = text((await client.get(f"/etablissements/{ids['ALP001']}/sessions")).text)
    assert "Cachée" in listing
    learner = await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == ids["ALP001"])).first()
    await post_form(client, f"/sessions/{session['id']}/inscriptions", {"go": "add", "add": learner["user"]})
    response = await post_form(client, f"/sessions/{session['id']}/supprimer")
    assert response.status_code == 400 and "inscription(s) active(s)" in text(response.text)
    await post_form(client, f"/sessions/{session['id']}/inscriptions", {"go": "remove", "remove": learner["user"]})
    response = await post_form(client, f"/sessions/{session['id']}/supprimer")
    assert response.status_code == 303 and await TrainingSession.count() == 0


@pytest.mark.smoke
async def test_manual_enrolment_two_lists(client):
    ids = await _ids()
    await login(client, "alp001.get")
    await _create_session(client, ids["ALP001"])
    session = await TrainingSession.select().first()
    page = await client.get(f"/sessions/{session['id']}/inscriptions")
    body = text(page.text)
    assert "Utilisateurs existants (0)" in body and "Utilisateurs potentiels (13)" in body
    assert "Attention : une fois inscrits" in body and "Rôle à attribuer : Apprenant" in body
    alp001 = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == ids["ALP001"]))]
    dam = await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == ids["DAM001"])).first()
    # Add three (and a forged learner of another establishment, ignored), with htmx.
    response = await post_form(client, f"/sessions/{session['id']}/inscriptions",
                                {"go": "add", "add": alp001[:3] + [dam["user"]]}, htmx=True)
    assert response.status_code == 200 and response.text.lstrip().startswith('<div id="two-lists"')
    assert "3 utilisateur(s) inscrit(s) avec le rôle Apprenant." in text(response.text)
    enrolled = {r["user"] for r in await Enrolment.select(Enrolment.user).where(Enrolment.active == True)}  # noqa: E712
    assert enrolled == set(alp001[:3])
    # Search in the potential list.
    some = await User.select(User.last_name).where(User.id == alp001[5]).first()
    found = text((await client.get(f"/sessions/{session['id']}/inscriptions?q_potential={some['last_name']}")).text)
    assert some["last_name"] in found
    response = await post_form(client, f"/sessions/{session['id']}/inscriptions", {"go": "remove", "remove": alp001[:1]})
    assert response.status_code == 303
    assert await Enrolment.count().where(Enrolment.active == True) == 2  # noqa: E712


async def test_catalogue_is_read_by_managers_and_edited_by_administrators(client, new_client):
    qvt = await _template()
    await login(client, "alp001.get")
    page = text((await client.get(f"/catalogue/{qvt['id']}")).text)
    assert "Identifier les leviers" in page and "Réengagement" in page
    assert (await post_form(client, "/catalogue/nouveau", {"code": "C99", "title": "X"})).status_code == 403
    async with new_client() as admin:
        await login(admin, "admin")
        response = await post_form(admin, "/catalogue/nouveau", {"code": "C99", "title": "Hygiène des mains",
                                                                 "duration": "2 heures", "visible": "1"})
        assert response.status_code == 303
        template = await _template("C99")
        response = await post_form(admin, f"/catalogue/{template['id']}/activites",
                                   {"kind": "page", "title": "Les 5 moments", "required": "1"})
        assert response.status_code == 303
        assert await TemplateActivity.count().where(TemplateActivity.template == template["id"]) == 1
        response = await post_form(admin, "/catalogue/nouveau", {"code": "C99", "title": "Doublon"})
        assert response.status_code == 422 and "déjà utilisé" in text(response.text)
    _ = date
