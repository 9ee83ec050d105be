"""Issue 20 point 3: a person registered through the public wizard is an external trainee — attached
to their organisation, not to the establishment running the session, named by a rule of its own,
seen by a GET only as a participant of their sessions, counted apart in analytics."""

import re

from app.tables.accounts import RoleAssignment, User
from app.tables.org import Establishment
from app.tables.registration import Organisation, RegistrationRequest
from tests.controllers.test_registration import _fill, _link, _session
from tests.helpers import login, post_form, text


async def _through_step_10(client, new_client, smtp, run_jobs) -> dict:
    """A request of « Mairie de Nyons » to 26C03S1 (ALP001) confirmed, then the back office's 6, 8, 10."""
    await _fill(client)
    await run_jobs()
    link = _link(smtp, r"http://testserver\.local/inscription/confirmer/\S+")
    assert (await client.get(link.replace("http://testserver.local", ""))).status_code == 200
    await run_jobs()
    request = await RegistrationRequest.select().where(RegistrationRequest.email == "elodie@example.org").first()
    async with new_client() as manager:
        await login(manager, "inscriptions")
        base = f"/gestion-inscriptions/demandes/{request['id']}"
        for action in ("validate_instance", "validate_operator", "validate_requester"):
            if action == "validate_operator":
                confirm = text((await manager.get(f"{base}/validate_operator")).text)
                assert "stagiaire externe" in confirm and "Mairie de Nyons" in confirm
            response = await post_form(manager, f"{base}/{action}")
            assert response.status_code == 303, (action, text(response.text))
    await run_jobs()
    return request


def _kpi(page: str, label: str) -> str:
    return re.search(rf"{label} ([\d  ]+)", text(page)).group(1).strip()


async def test_a_registered_person_is_an_external_trainee_a_get_sees_only_in_their_sessions(
        client, new_client, smtp, run_jobs):
    session_id = await _session()
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    async with new_client() as get:
        await login(get, "alp001.get")
        before = _kpi((await get.get(f"/etablissements/{alp001}")).text, "Utilisateurs")
    await _through_step_10(client, new_client, smtp, run_jobs)
    credentials = _link(smtp, r"Nom d'utilisateur : \S+")
    # Her own rule: no establishment code (the session is ALP001's, she works for a town hall).
    assert credentials == "Nom d'utilisateur : ext.e.dartagnan-le"
    person = await User.select().where(User.username == "ext.e.dartagnan-le").first()
    nyons = await Organisation.select(Organisation.id).where(Organisation.name == "Mairie de Nyons").first()
    assert person["external"] is True and person["establishment"] is None and person["organisation"] == nyons["id"]
    grants = await RoleAssignment.select(RoleAssignment.role, RoleAssignment.establishment).where(
        RoleAssignment.user == person["id"])
    assert grants == [{"role": "learner", "establishment": None}]

    async with new_client() as get:
        await login(get, "alp001.get")
        # Not one of the establishment's accounts: not in the users table, nor its counts, nor editable.
        users = text((await get.get("/utilisateurs/?per_page=100")).text)
        assert "ext.e.dartagnan-le" not in users and "D'Artagnan-Lé" not in users
        assert _kpi((await get.get(f"/etablissements/{alp001}")).text, "Utilisateurs") == before
        assert (await get.get(f"/utilisateurs/{person['id']}/modifier")).status_code == 404
        assert (await post_form(get, f"/utilisateurs/{person['id']}/suspendre")).status_code == 404
        # A participant of the GET's session: listed there, with her progress.
        participants = text((await get.get(f"/sessions/{session_id}/participants")).text)
        assert "ext.e.dartagnan-le" in participants
        progress = text((await get.get(f"/sessions/{session_id}/progression/")).text)
        assert "D'Artagnan-Lé" in progress
        # Counted apart in analytics.
        external = (await get.get("/analytique?session=26C03S1&audience=external")).text
        agents = (await get.get("/analytique?session=26C03S1&audience=agents")).text
        assert _kpi(external, "Inscrits") == "1" and _kpi(agents, "Inscrits") == "0"
        listed = text((await get.get("/analytique/inscrits?audience=external")).text)
        assert "ext.e.dartagnan-le" in listed
        assert "ext.e.dartagnan-le" not in text((await get.get("/analytique/inscrits?audience=agents")).text)
    async with new_client() as admin:
        await login(admin, "admin")
        users = text((await admin.get("/utilisateurs/?audience=external")).text)
        assert "ext.e.dartagnan-le" in users and "Externe" in users and "alp001.get" not in users
        # An administrator edits her without giving her an establishment: she stays external.
        response = await post_form(admin, f"/utilisateurs/{person['id']}/modifier", {
            "username": "ext.e.dartagnan-le", "first_name": "Élodie", "last_name": "D'Artagnan-Lé",
            "email": "elodie@example.org", "status": "elected"})
        assert response.status_code == 303, text(response.text)
        assert (await User.select(User.external, User.establishment).where(User.id == person["id"]).first()) == {
            "external": True, "establishment": None}
