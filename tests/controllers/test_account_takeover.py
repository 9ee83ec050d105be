"""Hardening (issue 8, items 1 and 6): an account holding rights beyond the caller's scope is out of
scope, whatever its home establishment; a GED grants roles to their delegation's accounts only;
someone moved to another establishment leaves what the old one managed of them."""

import pytest

from app.tables.accounts import RoleAssignment, User
from app.tables.org import Delegation, Establishment
from app.services.text import user_text_fields
from tests.helpers import login, post_form, text


async def _ids():
    ids = {r["code"]: r["id"] for r in await Establishment.select(Establishment.id, Establishment.code)}
    ids.update({r["code"]: r["id"] for r in await Delegation.select(Delegation.id, Delegation.code)})
    return ids


async def _account(username: str, establishment: int, grants: list[dict]) -> int:
    from app.services.passwords import hash_password

    row = await User.insert(User(
        username=username, password_hash=hash_password("Demo-2026!"), first_name="Haut", last_name="Placé",
        email=f"{username}@example.org", establishment=establishment,
        **user_text_fields("Haut", "Placé", username, f"{username}@example.org"),
    )).returning(User.id)
    user_id = row[0]["id"]
    await RoleAssignment.insert(*[RoleAssignment(user=user_id, **g) for g in grants])
    return user_id


@pytest.mark.parametrize("role", ["ged", "admin", "registration_manager"])
async def test_a_get_cannot_touch_an_account_with_wider_rights_at_home(client, role):
    ids = await _ids()
    grant = {"role": role}
    if role == "ged":
        grant["delegation"] = ids["DAM"]
    target = await _account(f"dam001.haut.{role}", ids["DAM001"], [
        grant, {"role": "learner", "establishment": ids["DAM001"]}])
    missing = 999_999
    await login(client, "dam001.get")
    # The list does not show it…
    listing = text((await client.get("/utilisateurs?per_page=100")).text)
    assert f"dam001.haut.{role}" not in listing and "dam001.get" in listing
    # …and every action answers exactly as for an account that does not exist.
    for method, path, data in [
        ("GET", "/utilisateurs/{}/modifier", None),
        ("POST", "/utilisateurs/{}/modifier", {"username": "pirate", "first_name": "P", "last_name": "P",
                                               "email": "p@example.org", "establishment": ids["DAM001"],
                                               "password": "Pirate-2026!"}),
        ("GET", "/utilisateurs/{}/mot-de-passe", None),
        ("POST", "/utilisateurs/{}/mot-de-passe", {}),
        ("POST", "/utilisateurs/{}/suspendre", {}),
        ("GET", "/utilisateurs/{}/supprimer", None),
        ("POST", "/utilisateurs/{}/supprimer", {}),
    ]:
        answers = []
        for user_id in (target, missing):
            url = path.format(user_id)
            response = await (client.get(url) if method == "GET" else post_form(client, url, data))
            answers.append((response.status_code, text(response.text)))
        assert answers[0] == answers[1], f"{method} {path}: {answers[0][0]} vs {answers[1][0]}"
        assert answers[0][0] == 404
    row = await User.select().where(User.id == target).first()
    assert row["username"] == f"dam001.haut.{role}" and not row["is_suspended"]
    # The username check does not tell whose name it is either.
    check = await client.get(f"/utilisateurs/verifier-nom?username=dam001.haut.{role}&user_id={target}")
    assert "déjà utilisé" in text(check.text)


async def test_the_get_still_manages_plain_accounts_and_colleagues(client):
    ids = await _ids()
    learner = await User.select(User.id).where(
        (User.establishment == ids["DAM001"]) & (User.username != "dam001.get")).first()
    await login(client, "dam001.get")
    assert (await client.get(f"/utilisateurs/{learner['id']}/modifier")).status_code == 200


async def test_an_admin_manages_everyone(client):
    ids = await _ids()
    target = await _account("dam001.haut.ged", ids["DAM001"], [{"role": "ged", "delegation": ids["DAM"]}])
    await login(client, "admin")
    assert (await client.get(f"/utilisateurs/{target}/modifier")).status_code == 200


async def test_a_ged_grants_roles_only_to_accounts_of_their_delegation(client):
    ids = await _ids()
    await login(client, "ged.alp")
    outsider = await User.select(User.id, User.username).where(User.establishment == ids["DAM016"]).first()
    response = await post_form(client, "/roles", {"role": "get", "username": outsider["username"],
                                                  "establishment": ids["ALP001"]})
    assert response.status_code == 422
    assert "Aucun utilisateur avec ce nom d'utilisateur." in text(response.text)
    assert not await RoleAssignment.exists().where(
        (RoleAssignment.user == outsider["id"]) & (RoleAssignment.role == "get"))
    insider = await User.select(User.id, User.username).where(
        (User.establishment == ids["ALP002"]) & User.username.like("alp002.%.%")).first()
    response = await post_form(client, "/roles", {"role": "get", "username": insider["username"],
                                                  "establishment": ids["ALP002"]})
    assert response.status_code == 303


async def test_moving_someone_ends_what_the_old_establishment_managed(client):
    from datetime import date

    from app.services import enrolments
    from app.tables.catalogue import CohortSync, TrainingSession
    from app.tables.learning import Enrolment
    from app.tables.cohorts import Cohort, CohortMember

    ids = await _ids()
    person = await User.select().where(
        (User.establishment == ids["ALP001"]) & User.username.like("alp001.%.%")).first()
    cohort = (await Cohort.insert(Cohort(establishment=ids["ALP001"], name="Groupe A")).returning(Cohort.id))[0]["id"]
    await CohortMember.insert(CohortMember(cohort=cohort, user=person["id"]))
    session = (await TrainingSession.insert(TrainingSession(
        establishment=ids["ALP001"], full_name="S", short_name="S", start_date=date(2027, 1, 4),
        end_date=date(2027, 1, 5), code="27X00S1")).returning(TrainingSession.id))[0]["id"]
    await CohortSync.insert(CohortSync(session=session, cohort=cohort))
    await enrolments.sync_cohort(cohort)
    assert await Enrolment.exists().where((Enrolment.user == person["id"]) & (Enrolment.active == True))  # noqa: E712

    await login(client, "ged.alp")
    response = await post_form(client, f"/utilisateurs/{person['id']}/modifier", {
        "username": person["username"], "first_name": person["first_name"], "last_name": person["last_name"],
        "email": person["email"], "establishment": ids["ALP002"], "status": person["status"],
        "matricule": person["matricule"]})
    assert response.status_code == 303, text(response.text)
    assert not await CohortMember.exists().where(CohortMember.user == person["id"])
    assert not await Enrolment.exists().where((Enrolment.user == person["id"]) & (Enrolment.active == True))  # noqa: E712
    # The record is kept, inactive.
    assert await Enrolment.exists().where(Enrolment.user == person["id"])
    # ALP001's potential learners no longer list them.
    rows, _ = await enrolments.establishment_learners(ids["ALP001"])
    assert person["id"] not in {r["id"] for r in rows}
