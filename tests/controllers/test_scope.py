"""The hard rule: a GET never reaches anything outside their establishments, whatever id they send.

The first test walks every route of the app that takes an id, so a route added later is checked
without anyone having to remember to write a test for it.
"""

import re

import pytest

from app.tables.accounts import RoleAssignment
from app.tables.org import Delegation, Establishment
from tests.helpers import login, post_form, text

# For each path parameter, how to find an object that is outside ALP001/ALP002.
FOREIGN = {
    "establishment_id": lambda ids: ids["DAM001"],
    "delegation_id": lambda ids: ids["DAM"],
    "assignment_id": lambda ids: ids["dam_grant"],
    "token": lambda ids: "x" * 22,
    "user_id": lambda ids: ids["dam_learner"],
    "batch_id": lambda ids: ids["dam_batch"],
    "row_id": lambda ids: ids["dam_row"],
    "session_id": lambda ids: ids["dam_session"],
    "slot_id": lambda ids: ids["dam_slot"],  # issue 22: a slot's émargement
    "cohort_id": lambda ids: ids["dam_cohort"],
    "sync_id": lambda ids: ids["dam_sync"],
    "enrolment_id": lambda ids: ids["dam_enrolment"],
    "template_id": lambda ids: ids["template"],
    "certificate_id": lambda ids: ids["dam_certificate"],
    "activity_id": lambda ids: ids["template_activity"],
    "message_id": lambda ids: ids["dam_message"],
    # Registration back office: reserved to its managers, so refused to a GET or a GED whatever the id.
    "kind": lambda ids: "funding_method",
    "item_id": lambda ids: 1,
    "action": lambda ids: "supprimer",
    "org_id": lambda ids: 1,
    "mail_id": lambda ids: 1,
    "attachment_id": lambda ids: 1,
    "request_id": lambda ids: 1,
    # Operations dashboard: administrators and the operations role only; "not found" for everyone else.
    "run_id": lambda ids: ids["job_run"],
    # Issue 23, administrators only (and registration managers for the financers' survey of a year):
    # the BPF, refused to a GET or a GED whatever the year.
    "year": lambda ids: 2025,
    "key": lambda ids: "f1.total",
    "item": lambda ids: "templates",
}
# The catalogue is shared by the whole network: every manager may read a template.
GLOBAL_READABLE = {"GET /catalogue/{template_id:int}"}


async def _foreign_ids() -> dict:
    ids = {r["code"]: r["id"] for r in await Establishment.select(Establishment.id, Establishment.code)}
    ids.update({r["code"]: r["id"] for r in await Delegation.select(Delegation.id, Delegation.code)})
    grant = await RoleAssignment.select(RoleAssignment.id).where(
        (RoleAssignment.establishment == ids["DAM001"]) & (RoleAssignment.role == "get")
    ).first()
    ids["dam_grant"] = grant["id"]
    from app.tables.jobs import JobRun

    run = await JobRun.insert(JobRun(kind="import_accounts", job_key="scope:1", status="failed")).returning(JobRun.id)
    ids["job_run"] = run[0]["id"]
    from app.tables.accounts import User
    from app.tables.imports import ImportBatch

    learner = await User.select(User.id).where(User.establishment == ids["DAM001"]).first()
    ids["dam_learner"] = learner["id"]
    batch = await ImportBatch.insert(ImportBatch(establishment=ids["DAM001"], filename="dam.csv")).returning(ImportBatch.id)
    ids["dam_batch"] = batch[0]["id"]
    from app.tables.imports import ImportRow

    row = await ImportRow.insert(ImportRow(batch=ids["dam_batch"], line=2, allowed=["create", "skip"])).returning(ImportRow.id)
    ids["dam_row"] = row[0]["id"]
    from datetime import date, time

    from app.tables.catalogue import CohortSync, CourseTemplate, TemplateActivity, TrainingSession
    from app.tables.cohorts import Cohort

    session = await TrainingSession.insert(TrainingSession(
        establishment=ids["DAM001"], full_name="Session DAM", short_name="DAM", start_date=date(2026, 1, 5),
        end_date=date(2026, 1, 6), code="26X00S99")).returning(TrainingSession.id)
    ids["dam_session"] = session[0]["id"]
    from app.tables.catalogue import SessionSlot

    ids["dam_slot"] = (await SessionSlot.insert(SessionSlot(
        session=ids["dam_session"], day=date(2026, 1, 5), starts=time(9), ends=time(12))).returning(SessionSlot.id))[0]["id"]
    cohort = await Cohort.insert(Cohort(establishment=ids["DAM001"], name="Cohorte DAM")).returning(Cohort.id)
    ids["dam_cohort"] = cohort[0]["id"]
    sync = await CohortSync.insert(CohortSync(session=ids["dam_session"], cohort=ids["dam_cohort"])).returning(CohortSync.id)
    ids["dam_sync"] = sync[0]["id"]
    from app.services.enrolments import add_sources
    from app.tables.certificates import Certificate
    from app.tables.learning import Enrolment, SourceKind

    # Another DAM learner than dam_learner (whom the id-in-body test checks is enrolled nowhere).
    dam_other = (await User.select(User.id).where((User.establishment == ids["DAM001"]) & (User.id != ids["dam_learner"]))
                 .first())["id"]
    await add_sources(ids["dam_session"], [dam_other], SourceKind.manual)
    ids["dam_enrolment"] = (await Enrolment.select(Enrolment.id).where(Enrolment.session == ids["dam_session"]).first())["id"]
    certificate = await Certificate.insert(Certificate(
        enrolment=ids["dam_enrolment"], code="23456789AB", pdf_sha256="0" * 64, snapshot="{}")).returning(Certificate.id)
    ids["dam_certificate"] = certificate[0]["id"]
    ids["template"] = (await CourseTemplate.select(CourseTemplate.id).first())["id"]
    ids["template_activity"] = (await TemplateActivity.select(TemplateActivity.id).first())["id"]
    from app.tables.learning import DiscussionMessage

    ids["dam_message"] = (await DiscussionMessage.insert(DiscussionMessage(
        session=ids["dam_session"], author=ids["dam_learner"], body="Bonjour")).returning(DiscussionMessage.id))[0]["id"]
    return ids


def _routes_with_ids(app):
    """Every private route taking an id. Public routes (the registration wizard, signed links) hold
    no establishment data by id and have tests of their own."""
    for route in app.routes:
        params = re.findall(r"{(\w+):\w+}", route.path)
        if not params or route.path.startswith("/static"):
            continue
        handlers = getattr(route, "route_handlers", [])
        if handlers and all(h.opt.get("public") for h in handlers):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            yield method, route.path, params


@pytest.mark.parametrize("username", ["alp001.get", "ged.alp"])
async def test_nothing_outside_the_scope_is_reachable_on_any_route(app, client, username):
    """alp001.get (GET of ALP001, ALP002) and ged.alp (GED of ALP) against the DAM delegation's ids."""
    ids = await _foreign_ids()
    await login(client, username)
    checked = []

    async def call(method, url):
        if method == "GET":
            return await client.get(url)
        return await post_form(client, url, {"code": "HACK", "name": "Piraté", "delegation": ids["ALP"]})

    for method, path, params in _routes_with_ids(app):
        url = missing_url = path
        for name in params:
            assert name in FOREIGN, f"add a foreign value for path parameter {name!r} ({path})"
            url = re.sub(r"{%s:\w+}" % name, str(FOREIGN[name](ids)), url)
            missing = "y" * 22 if name == "token" else "zzz" if path.endswith("{%s:str}" % name) else "987654321"
            missing_url = re.sub(r"{%s:\w+}" % name, missing, missing_url)
        response = await call(method, url)
        if f"{method} {path}" in GLOBAL_READABLE:
            assert response.status_code == 200
        else:
            assert response.status_code in (403, 404), f"{method} {url} answered {response.status_code}"
            # No existence oracle: an object that exists elsewhere answers exactly like one that does not.
            absent = await call(method, missing_url)
            assert (absent.status_code, text(absent.text)) == (response.status_code, text(response.text)), (
                f"{method} {path}: out of scope and missing differ"
            )
        checked.append(f"{method} {path}")
    # Sanity: the walk really covered the id-taking routes.
    assert "GET /etablissements/{establishment_id:int}" in checked
    assert "POST /admin/etablissements/{establishment_id:int}/modifier" in checked
    assert "POST /roles/{assignment_id:int}/retirer" in checked
    assert "POST /attestations/{certificate_id:int}/revoquer" in checked
    # And nothing was changed on the way.
    assert (await Establishment.select(Establishment.name).where(Establishment.id == ids["DAM001"]).first())[
        "name"
    ] == "CH D'AMBERT"
    assert await RoleAssignment.exists().where(RoleAssignment.id == ids["dam_grant"])
    from app.tables.catalogue import CohortSync, TrainingSession

    assert await TrainingSession.exists().where(TrainingSession.id == ids["dam_session"])
    assert await CohortSync.exists().where(CohortSync.id == ids["dam_sync"])
    from app.tables.learning import DiscussionMessage

    assert (await DiscussionMessage.select().where(DiscussionMessage.id == ids["dam_message"]).first())["hidden_at"] is None


@pytest.mark.smoke
async def test_get_sees_own_establishments_only(client):
    await login(client, "alp001.get")
    home = text((await client.get("/")).text)
    assert "CH BUIS LES BARONNIES" in home and "EHPAD LES ÉDELWEISS" in home
    assert "CH D'AMBERT" not in home and "VERT BOIS" not in home
    alp001 = await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first()
    page = await client.get(f"/etablissements/{alp001['id']}")
    assert page.status_code == 200
    assert "Emma Gestionnaire" in text(page.text)


async def test_out_of_scope_and_missing_establishments_look_the_same(client):
    ids = await _foreign_ids()
    await login(client, "alp001.get")
    foreign = await client.get(f"/etablissements/{ids['DAM001']}")
    missing = await client.get("/etablissements/999999")
    assert foreign.status_code == missing.status_code == 404
    assert text(foreign.text) == text(missing.text)


async def test_forged_non_numeric_id_gets_a_clear_message(client):
    await login(client, "alp001.get")
    response = await client.get("/etablissements/abc")
    assert response.status_code in (400, 404)
    assert "Tremplin" in response.text and "Traceback" not in response.text


async def test_ged_sees_the_whole_delegation_and_nothing_else(client):
    ids = await _foreign_ids()
    await login(client, "ged.alp")
    home = text((await client.get("/")).text)
    assert "CH BUIS LES BARONNIES" in home and "EHPAD LES ÉDELWEISS" in home and "CH D'AMBERT" not in home
    assert (await client.get(f"/etablissements/{ids['ALP002']}")).status_code == 200
    assert (await client.get(f"/etablissements/{ids['DAM016']}")).status_code == 404
    roles = text((await client.get("/roles?per_page=100")).text)
    assert "alp001.get" in roles and "dam001.get" not in roles


async def test_role_pages_are_refused_with_the_reason(client):
    await login(client, "alp001.get")
    response = await client.get("/admin/delegations")
    assert response.status_code == 403
    assert "Cette page est réservée aux rôles : Administrateur." in text(response.text)
    response = await client.get("/roles")
    assert response.status_code == 403


async def test_get_role_pages_refused_to_a_learner(client):
    from app.tables.accounts import User

    learner = await User.select(User.username).where(User.username.like("alp001.%")).where(
        User.username != "alp001.get"
    ).first()
    await login(client, learner["username"])
    assert (await client.get("/etablissements/1")).status_code == 403
    home = text((await client.get("/")).text)
    assert "Mes sessions de formation" in home
    assert "Gestion des contenus" not in home


async def test_ids_in_form_bodies_are_no_oracle_either(client):
    """An id sent in a form body (cohort=, users to enrol or add, a username to grant a role to) that
    exists elsewhere gets exactly the answer of an id that exists nowhere."""
    from app.tables.accounts import User
    from app.tables.catalogue import TrainingSession
    from app.tables.learning import Enrolment
    from app.tables.cohorts import Cohort, CohortMember

    ids = await _foreign_ids()
    from datetime import date

    own_session = (await TrainingSession.insert(TrainingSession(
        establishment=ids["ALP001"], full_name="Session ALP", short_name="ALP", start_date=date(2026, 1, 5),
        end_date=date(2026, 1, 6), code="26X00S98")).returning(TrainingSession.id))[0]["id"]
    own_cohort = (await Cohort.insert(Cohort(establishment=ids["ALP001"], name="Cohorte ALP")).returning(Cohort.id))[0]["id"]
    dam_username = (await User.select(User.username).where(User.id == ids["dam_learner"]).first())["username"]
    cases = [
        ("alp001.get", f"/sessions/{own_session}/participants/methodes", "cohort", ids["dam_cohort"], 987654321),
        ("alp001.get", f"/sessions/{own_session}/inscriptions", "add", ids["dam_learner"], 987654321),
        ("alp001.get", f"/cohortes/{own_cohort}/membres", "add", ids["dam_learner"], 987654321),
        ("ged.alp", "/roles", "username", dam_username, "personne.inconnue"),
    ]
    for username, url, field, foreign, missing in cases:
        client.cookies.clear()
        await login(client, username)
        extra = {"go": "add"} if field == "add" else {"role": "get", "establishment": ids["ALP001"]} if field == "username" else {}
        answers = []
        for value in (foreign, missing):
            response = await post_form(client, url, {**extra, field: value}, follow_redirects=True)
            answers.append((response.status_code, text(response.text).replace(str(value), "<id>")))
        assert answers[0] == answers[1], f"{url} {field}: {answers[0][0]} vs {answers[1][0]}"
    assert not await Enrolment.exists().where(Enrolment.user == ids["dam_learner"])
    assert not await CohortMember.exists().where(CohortMember.user == ids["dam_learner"])
    assert not await RoleAssignment.exists().where((RoleAssignment.user == ids["dam_learner"]) & (RoleAssignment.role == "get"))
