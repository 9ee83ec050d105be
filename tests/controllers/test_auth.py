import pytest

from app.tables.accounts import User
from tests.helpers import DEMO_PASSWORD, csrf_token, login, post_form, text


@pytest.mark.smoke
async def test_pages_need_a_login_and_come_back_after_it(client):
    response = await client.get("/admin/delegations?page=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?next=/admin/delegations%3Fpage%3D2"
    page = await client.get(response.headers["location"])
    assert "Connexion" in page.text
    response = await post_form(
        client, "/connexion", {"username": "admin", "password": DEMO_PASSWORD, "next": "/admin/delegations?page=2"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/delegations?page=2"
    home = await client.get("/")
    assert "Bonjour Alice" in home.text


@pytest.mark.smoke
async def test_wrong_password_gets_a_french_message_and_no_session(client):
    response = await post_form(client, "/connexion", {"username": "admin", "password": "nope"})
    assert response.status_code == 400
    assert "Nom d'utilisateur ou mot de passe incorrect." in text(response.text)
    assert (await client.get("/")).status_code == 303


async def test_unknown_user_gets_the_same_message(client):
    response = await post_form(client, "/connexion", {"username": "personne", "password": "Whatever-1"})
    assert "Nom d'utilisateur ou mot de passe incorrect." in text(response.text)


async def test_login_is_rate_limited_per_account_even_with_the_right_password(client):
    for _ in range(5):
        response = await post_form(client, "/connexion", {"username": "alp001.get", "password": "bad"})
        assert "incorrect" in response.text
    response = await post_form(client, "/connexion", {"username": "alp001.get", "password": DEMO_PASSWORD})
    assert response.status_code == 429
    assert "Trop de tentatives de connexion échouées pour ce compte. Réessayez dans 15 minutes" in text(response.text)
    # Another account from the same place still gets in.
    await login(client, "dam001.get")


async def test_login_is_rate_limited_per_ip(client, monkeypatch):
    from app.settings import get_settings

    limit = get_settings().security.login_max_failures_per_ip
    for i in range(limit):
        await post_form(client, "/connexion", {"username": f"inconnu{i}", "password": "bad"})
    response = await post_form(client, "/connexion", {"username": "admin", "password": DEMO_PASSWORD})
    assert "Trop de tentatives de connexion échouées depuis ce poste" in text(response.text)


@pytest.mark.smoke
async def test_suspended_account_is_refused_and_suspension_ends_open_sessions(client, new_client):
    await login(client, "alp001.get")
    assert (await client.get("/")).status_code == 200
    await User.update({User.is_suspended: True}).where(User.username == "alp001.get")
    # The open session is worth nothing at once.
    assert (await client.get("/")).status_code == 303
    async with new_client() as other:
        response = await post_form(other, "/connexion", {"username": "alp001.get", "password": DEMO_PASSWORD})
        assert response.status_code == 400
        assert "Votre compte est suspendu" in text(response.text)


@pytest.mark.smoke
async def test_post_without_csrf_token_is_refused_in_french(client):
    await csrf_token(client)
    response = await client.post("/connexion", data={"username": "admin", "password": DEMO_PASSWORD})
    assert response.status_code == 403
    assert "jeton de sécurité" in text(response.text)
    assert (await client.get("/")).status_code == 303  # not logged in


async def test_csrf_token_is_accepted_from_the_htmx_header(client):
    await login(client, "admin")
    token = client.cookies.get("csrftoken")
    response = await client.post(
        "/admin/delegations/nouvelle", data={"code": "NOR", "name": "NORD"},
        headers={"HX-Request": "true", "x-csrftoken": token},
    )
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/admin/delegations"


async def test_session_id_changes_at_login(client):
    await client.get("/connexion")
    await post_form(client, "/connexion", {"username": "admin", "password": "wrong"})
    before = client.cookies.get("session")
    await login(client, "admin")
    after = client.cookies.get("session")
    assert after and after != before


@pytest.mark.smoke
async def test_logout_ends_the_session(client):
    await login(client, "admin")
    response = await post_form(client, "/deconnexion")
    assert response.status_code == 303
    assert (await client.get("/")).status_code == 303


async def test_next_cannot_send_the_user_to_another_site(client):
    response = await post_form(
        client, "/connexion", {"username": "admin", "password": DEMO_PASSWORD, "next": "https://evil.example/"}
    )
    assert response.headers["location"] == "/"
    await post_form(client, "/deconnexion")
    response = await post_form(
        client, "/connexion", {"username": "admin", "password": DEMO_PASSWORD, "next": "//evil.example/x"}
    )
    assert response.headers["location"] == "/"


@pytest.mark.smoke
async def test_forced_password_change_comes_before_anything_else(client):
    await User.update({User.force_password_change: True}).where(User.username == "alp001.get")
    await login(client, "alp001.get")
    for url in ("/", "/etablissements/1", "/roles"):
        response = await client.get(url)
        assert response.status_code == 303
        assert response.headers["location"] == "/mot-de-passe"
    page = await client.get("/mot-de-passe")
    assert "Vous devez changer votre mot de passe avant de continuer." in text(page.text)

    # The policy of SPEC A2, checked server-side, with the reason next to the field.
    response = await post_form(
        client, "/mot-de-passe/", {"current": DEMO_PASSWORD, "new": "faible", "confirm": "faible"}
    )
    assert response.status_code == 422
    body = text(response.text)
    assert "au moins 8 caractères" in body and "au moins 1 majuscule" in body
    response = await post_form(
        client, "/mot-de-passe/", {"current": "mauvais", "new": "Nouveau-2026", "confirm": "Nouveau-2026"}
    )
    assert "Le mot de passe actuel est incorrect." in text(response.text)
    response = await post_form(
        client, "/mot-de-passe/", {"current": DEMO_PASSWORD, "new": "Nouveau-2026", "confirm": "Autre-2026!"}
    )
    assert "Les deux mots de passe ne correspondent pas." in text(response.text)
    response = await post_form(
        client, "/mot-de-passe/", {"current": DEMO_PASSWORD, "new": "Nouveau-2026", "confirm": "Nouveau-2026"}
    )
    assert response.status_code == 303
    home = await client.get("/")
    assert home.status_code == 200
    assert "Votre mot de passe a été modifié." in text(home.text)
    row = await User.select(User.force_password_change).where(User.username == "alp001.get").first()
    assert row["force_password_change"] is False
    # The new password is the one that works now.
    await post_form(client, "/deconnexion")
    await login(client, "alp001.get", "Nouveau-2026")


async def test_htmx_request_without_session_gets_a_client_redirect(client):
    response = await client.get("/admin/delegations", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["hx-redirect"].startswith("/connexion?next=")
