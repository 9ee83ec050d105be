"""A new password ends the person's other sessions: their own change (the session making it stays
open), a manager's new password (edit form or "régénérer"), an import that updates the password."""

import pytest

from app.tables.accounts import User
from app.tables.imports import ImportRow
from app.tables.org import Establishment
from tests.helpers import DEMO_PASSWORD, login, post_form, text


async def _logged_in(client) -> bool:
    response = await client.get("/")
    return response.status_code == 200


async def _sent_to_login(client) -> bool:
    """Logged out: sent to the login page (not to the forced password change of a live session)."""
    response = await client.get("/")
    return response.status_code == 303 and response.headers["location"].startswith("/connexion")


@pytest.mark.smoke
async def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(client, new_client):
    await login(client, "alp001.get")
    async with new_client() as phone, new_client() as old_laptop:
        await login(phone, "alp001.get")
        await login(old_laptop, "alp001.get")
        response = await post_form(client, "/mot-de-passe/", {
            "current": DEMO_PASSWORD, "new": "Nouveau-2026!", "confirm": "Nouveau-2026!"})
        assert response.status_code == 303
        home = await client.get("/")
        assert home.status_code == 200 and "Votre mot de passe a été modifié." in text(home.text)
        for other in (phone, old_laptop):
            assert await _sent_to_login(other)
        # The other devices log in again with the new password.
        await login(phone, "alp001.get", "Nouveau-2026!")
        assert await _logged_in(phone)
    assert await _logged_in(client)


async def test_a_refused_change_ends_nothing(client, new_client):
    await login(client, "alp001.get")
    async with new_client() as other:
        await login(other, "alp001.get")
        response = await post_form(client, "/mot-de-passe/", {"current": "Mauvais-1!", "new": "Nouveau-2026!",
                                                               "confirm": "Nouveau-2026!"})
        assert response.status_code == 422
        assert await _logged_in(other) and await _logged_in(client)


async def _learner():
    return await User.select(User.id, User.username, User.email, User.establishment).where(
        User.username.like("alp001.%.%")).where(User.email.not_like("%fictif%")).order_by(User.id).first()


@pytest.mark.parametrize("how", ["regenerate", "edit"])
async def test_a_password_set_by_a_manager_ends_the_persons_sessions(client, new_client, how):
    learner = await _learner()
    async with new_client() as learner_browser:
        await login(learner_browser, learner["username"])
        assert await _logged_in(learner_browser)
        await login(client, "alp001.get")
        if how == "regenerate":
            response = await post_form(client, f"/utilisateurs/{learner['id']}/mot-de-passe")
        else:
            row = await User.select().where(User.id == learner["id"]).first()
            response = await post_form(client, f"/utilisateurs/{learner['id']}/modifier", {
                "username": row["username"], "first_name": row["first_name"], "last_name": row["last_name"],
                "email": row["email"], "establishment": row["establishment"], "status": row["status"] or "fph_agent",
                "matricule": row["matricule"], "password": "Choisi-2026!", "force_password_change": "1"})
        assert response.status_code == 303, text(response.text)
        assert await _sent_to_login(learner_browser)
    # The manager's own session is not concerned.
    assert await _logged_in(client)


async def test_a_manager_setting_their_own_password_stays_logged_in(client, new_client):
    await login(client, "alp001.get")
    me = await User.select().where(User.username == "alp001.get").first()
    async with new_client() as other:
        await login(other, "alp001.get")
        response = await post_form(client, f"/utilisateurs/{me['id']}/modifier", {
            "username": me["username"], "first_name": me["first_name"], "last_name": me["last_name"],
            "email": me["email"], "establishment": me["establishment"], "status": me["status"] or "staff",
            "matricule": me["matricule"], "password": "Choisi-2026!", "nomenclature_confirmed": "1"})
        assert response.status_code == 303, text(response.text)
        assert await _logged_in(client)
        assert await _sent_to_login(other)


async def test_an_import_that_updates_a_password_ends_the_persons_sessions(client, new_client, run_jobs):
    from tests.jobs.test_import_accounts import HEADER, _upload

    learner = await _learner()
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    async with new_client() as learner_browser:
        await login(learner_browser, learner["username"])
        await login(client, "alp001.get")
        response = await _upload(client, alp001, [HEADER, f"Paul;Existant;Importé-2026!;{learner['email']};8;"])
        batch_id = int(response.headers["location"].rsplit("/", 1)[1])
        row_id = (await ImportRow.select(ImportRow.id).where(ImportRow.batch == batch_id).first())["id"]
        response = await post_form(client, f"/imports/{batch_id}/lignes/{row_id}", {"decision": "update_password"})
        assert response.status_code in (200, 303), text(response.text)
        assert (await post_form(client, f"/imports/{batch_id}/confirmer")).status_code == 303
        await run_jobs()
        assert await _sent_to_login(learner_browser)
        await login(learner_browser, learner["username"], "Importé-2026!")


async def test_a_space_is_not_a_special_character(client):
    await login(client, "alp001.get")
    response = await post_form(client, "/mot-de-passe/", {"current": DEMO_PASSWORD, "new": "Nouveau mot 2026",
                                                           "confirm": "Nouveau mot 2026"})
    assert response.status_code == 422
    assert "au moins 1 caractère spécial (ni lettre, ni chiffre, ni espace)" in text(response.text)
    # A password is taken as typed: surrounding spaces are part of it.
    response = await post_form(client, "/mot-de-passe/", {"current": DEMO_PASSWORD, "new": " Nouveau-2026 ",
                                                           "confirm": " Nouveau-2026 "})
    assert response.status_code == 303
    await post_form(client, "/deconnexion")
    refused = await post_form(client, "/connexion", {"username": "alp001.get", "password": "Nouveau-2026"})
    assert "incorrect" in text(refused.text)
    await login(client, "alp001.get", " Nouveau-2026 ")
