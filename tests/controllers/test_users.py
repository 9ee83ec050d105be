"""SPEC A2 (manual account) and A4 (Gérer mes utilisateurs)."""

import io

import polars as pl
import pytest

from app.tables.accounts import RoleAssignment, User
from app.tables.org import Establishment
from tests import factories
from tests.helpers import login, post_form, text


async def _ids():
    return {r["code"]: r["id"] for r in await Establishment.select(Establishment.id, Establishment.code)}


def _account(establishment_id, **overrides):
    data = {
        "username": "alp001.v.blondel", "password": "Anfh_2025!", "force_password_change": "1",
        "first_name": "Valentin", "last_name": "Blondel", "email": "v.blondel@example.org",
        "establishment": establishment_id, "status": "fph_agent", "matricule": "812",
    }
    data.update(overrides)
    return data


@pytest.mark.smoke
async def test_manual_account_with_every_field(client):
    ids = await _ids()
    await login(client, "alp001.get")
    page = await client.get(f"/etablissements/{ids['ALP001']}/comptes/nouveau")
    assert "Ajouter un utilisateur" in page.text and "Générer le mot de passe et informer l'utilisateur" in page.text
    response = await post_form(client, f"/etablissements/{ids['ALP001']}/comptes/nouveau",
                               _account(ids["ALP001"], username="alp001.v.blondel99"))
    assert response.status_code == 303, text(response.text)
    user = await User.select().where(User.username == "alp001.v.blondel99").first()
    assert user["matricule"] == "000812" and user["force_password_change"] is True
    assert user["establishment"] == ids["ALP001"] and user["status"] == "fph_agent"
    assert await RoleAssignment.exists().where((RoleAssignment.user == user["id"]) & (RoleAssignment.role == "learner"))
    await post_form(client, "/deconnexion")
    await login(client, "alp001.v.blondel99", "Anfh_2025!")
    assert (await client.get("/")).headers["location"] == "/mot-de-passe"


async def test_generate_and_inform_mails_the_credentials(client, smtp, run_jobs):
    ids = await _ids()
    await login(client, "alp001.get")
    response = await post_form(client, f"/etablissements/{ids['ALP002']}/comptes/nouveau",
                               _account(ids["ALP002"], username="alp002.n.nouveau", password="", generate_password="1",
                                        force_password_change="", first_name="Noé", last_name="Nouveau",
                                        email="noe@example.org", matricule=""))
    assert response.status_code == 303
    await run_jobs()
    (recipients, message), = smtp.messages
    assert recipients == ["noe@example.org"]
    body = message.get_payload(decode=True).decode()
    assert "alp002.n.nouveau" in body and "http://testserver.local/connexion" in body
    password = body.split("Mot de passe : ")[1].split("\n")[0].strip()
    user = await User.select(User.force_password_change).where(User.username == "alp002.n.nouveau").first()
    assert user["force_password_change"] is True
    await post_form(client, "/deconnexion")
    await login(client, "alp002.n.nouveau", password)


async def test_form_errors_and_suggestion(client):
    ids = await _ids()
    await login(client, "alp001.get")
    url = f"/etablissements/{ids['ALP001']}/comptes/nouveau"
    response = await post_form(client, url, _account(ids["ALP001"], password="faible", first_name="", email="pas-un-mail"))
    assert response.status_code == 422
    body = text(response.text)
    assert "Le prénom est obligatoire." in body and "Adresse de courriel invalide." in body and "au moins 8 caractères" in body
    # An address with an accent cannot be mailed by most servers (no SMTPUTF8): refused, not retried for days.
    response = await post_form(client, url, _account(ids["ALP001"], email="élodie.lefèvre@example.org"))
    assert response.status_code == 422 and "Adresse de courriel invalide." in text(response.text)
    # "Proposer un nom d'utilisateur" fills it from the nomenclature, without JS.
    response = await post_form(client, url, _account(ids["ALP002"], username="", first_name="Élodie",
                                                     last_name="D'Artagnan-Lé", action="suggest"))
    assert 'value="alp002.e.dartagnan-le"' in response.text
    # A taken username gets a clear message and an alternative.
    taken = (await User.select(User.username).where(User.username.like("alp001.%.%")).first())["username"]
    response = await post_form(client, url, _account(ids["ALP001"], username=taken))
    assert f"Ce nom d'utilisateur est déjà utilisé. Proposition : {taken}2" in text(response.text)
    # Inline checks (htmx).
    check = await client.get(f"/utilisateurs/verifier-nom?username={taken}", headers={"HX-Request": "true"})
    assert "déjà utilisé" in check.text
    check = await post_form(client, "/utilisateurs/verifier-mot-de-passe", {"password": "abc"}, htmx=True)
    assert "au moins 1 majuscule" in check.text
    suggestion = await client.get(
        f"/utilisateurs/suggestion?establishment={ids['ALP001']}&first_name=Zoé&last_name=Noël", headers={"HX-Request": "true"})
    assert 'value="alp001.z.noel' in suggestion.text


async def test_no_email_gets_a_fictitious_one_and_never_a_mail(client, smtp, run_jobs):
    ids = await _ids()
    await login(client, "alp001.get")
    response = await post_form(client, f"/etablissements/{ids['ALP001']}/comptes/nouveau",
                               _account(ids["ALP001"], username="alp001.s.sansmail", email="", first_name="Sam",
                                        last_name="Sansmail"))
    assert response.status_code == 303
    user = await User.select(User.email).where(User.username == "alp001.s.sansmail").first()
    assert user["email"] == "alp001.s.sansmail.fictif@tremplin.local"
    # Generating a password for someone without e-mail is refused: nobody would receive it.
    response = await post_form(client, f"/etablissements/{ids['ALP001']}/comptes/nouveau",
                               _account(ids["ALP001"], username="alp001.s.sansmail2", email="", password="",
                                        generate_password="1", first_name="Sam", last_name="Sansmail"))
    assert response.status_code == 422 and "mot de passe généré ne pourrait pas être envoyé" in text(response.text)


async def test_get_cannot_create_in_another_establishment(client):
    ids = await _ids()
    await login(client, "alp001.get")
    response = await post_form(client, f"/etablissements/{ids['DAM001']}/comptes/nouveau", _account(ids["DAM001"]))
    assert response.status_code == 404
    # Nor through the establishment field of an allowed page.
    response = await post_form(client, f"/etablissements/{ids['ALP001']}/comptes/nouveau",
                               _account(ids["DAM001"], username="alp001.x.forge"))
    assert response.status_code == 422 and "Choisissez un établissement de votre périmètre." in text(response.text)
    assert not await User.exists().where(User.username == "alp001.x.forge")


async def test_user_table_shows_only_the_scope_with_the_seed_columns(client):
    ids = await _ids()
    await login(client, "alp001.get")
    page = await client.get("/utilisateurs?per_page=100")
    body = text(page.text)
    for label in ("Prénom / Nom de famille", "Nom d'utilisateur", "Adresse de courriel", "Statut", "Établissement",
                  "Instance", "Organisation partenaire", "État du compte", "Dernier accès"):
        assert label in body
    # Every account at home in ALP001 or ALP002 (the GET's two establishments), 5 of them made here.
    await factories.learners(ids["ALP002"], 5)
    in_scope = await User.count().where(User.establishment.is_in([ids["ALP001"], ids["ALP002"]]))
    body = text((await client.get("/utilisateurs?per_page=100")).text)
    assert f"sur {in_scope}" in body
    assert "dam001." not in body and "Jamais" in body
    forged = text((await client.get(f"/utilisateurs?establishment={ids['DAM001']}")).text)
    assert "Aucune ligne" in forged


@pytest.mark.smoke
async def test_accent_and_case_insensitive_name_filters(client):
    await User.update({User.last_name: "Lefèvre", User.last_name_key: "lefevre"}).where(User.username == "dam001.get")
    await login(client, "admin")
    for query in ("LEFEVRE", "lefèvre", "Lefevre", "fèv"):
        body = text((await client.get(f"/utilisateurs?last_name={query}&per_page=100")).text)
        assert "dam001.get" in body, query
    assert "dam001.get" not in text((await client.get("/utilisateurs?last_name=martin&per_page=100")).text)


async def test_state_and_last_access_filters_and_export(client):
    await User.update({User.is_suspended: True}).where(User.username.like("alp002.%"))
    alp002 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP002").first())["id"]
    await factories.learners(alp002, 4, suspended=True)
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    suspended = await User.count().where((User.is_suspended == True)  # noqa: E712
                                         & User.establishment.is_in([alp001, alp002]))
    await login(client, "alp001.get")
    body = text((await client.get("/utilisateurs?state=suspended&per_page=100")).text)
    assert f"sur {suspended}" in body
    body = text((await client.get("/utilisateurs?last_access=7d")).text)
    assert "alp001.get" in body and "1–1 sur 1" in body  # only the GET logged in
    response = await client.get("/utilisateurs?state=suspended&export=xlsx")
    frame = pl.read_excel(io.BytesIO(response.content))
    assert frame.height == suspended and set(frame["État du compte"]) == {"Suspendu"}
    assert set(frame["Dernier accès"]) == {None}  # never: an empty cell, the column stays dates (issue 20 point 23)


async def test_suspend_reactivate_regenerate_and_delete(client, new_client, smtp, run_jobs):
    await login(client, "alp001.get")
    target = await User.select(User.id, User.username, User.email).where(User.username.like("alp001.%")).where(
        User.username != "alp001.get").where(User.email.not_like("%fictif%")).first()
    # Suspend (htmx: the row comes back with its new state).
    response = await post_form(client, f"/utilisateurs/{target['id']}/suspendre", htmx=True)
    assert response.status_code == 200 and f'id="row-{target["id"]}"' in response.text and "Suspendu" in response.text
    async with new_client() as other:
        refused = await post_form(other, "/connexion", {"username": target["username"], "password": "Demo-2026!"})
        assert "Votre compte est suspendu" in text(refused.text)
    await post_form(client, f"/utilisateurs/{target['id']}/reactiver")
    async with new_client() as other:
        await login(other, target["username"])
    # Regenerate: mailed, change forced.
    confirm = await client.get(f"/utilisateurs/{target['id']}/mot-de-passe")
    assert "Générer un nouveau mot de passe" in text(confirm.text)
    response = await post_form(client, f"/utilisateurs/{target['id']}/mot-de-passe")
    assert response.status_code == 303
    await run_jobs()
    assert smtp.messages[0][0] == [target["email"]]
    assert (await User.select(User.force_password_change).where(User.id == target["id"]).first())["force_password_change"]
    # Delete, after a confirmation page.
    assert "Supprimer définitivement" in text((await client.get(f"/utilisateurs/{target['id']}/supprimer")).text)
    response = await post_form(client, f"/utilisateurs/{target['id']}/supprimer")
    assert response.status_code == 303
    assert not await User.exists().where(User.id == target["id"])


async def test_regenerating_for_a_fictitious_address_shows_the_password_once(client):
    await User.update({User.email: "alp001.x.y.fictif@tremplin.local"}).where(User.username.like("alp001.%.%"))
    target = await User.select(User.id).where(User.username.like("alp001.%.%")).first()
    await login(client, "alp001.get")
    response = await post_form(client, f"/utilisateurs/{target['id']}/mot-de-passe")
    assert response.status_code == 200
    assert "communiquez-lui vous-même ce mot de passe" in text(response.text)


async def test_edit_profile(client):
    target = await User.select().where(User.username.like("alp002.%")).first()
    await login(client, "alp001.get")
    page = await client.get(f"/utilisateurs/{target['id']}/modifier")
    assert f'value="{target["username"]}"' in page.text
    response = await post_form(client, f"/utilisateurs/{target['id']}/modifier", {
        "username": target["username"], "first_name": "Élise", "last_name": "Nouveau-Nom", "email": "elise@example.org",
        "establishment": target["establishment"], "status": "contract", "matricule": "44",
    })
    assert response.status_code == 303
    row = await User.select().where(User.id == target["id"]).first()
    assert (row["first_name"], row["last_name"], row["matricule"], row["last_name_key"]) == (
        "Élise", "Nouveau-Nom", "00044", "nouveau-nom")


async def test_regeneration_says_what_happened_and_row_actions_keep_the_filters(client, smtp, run_jobs):
    """Issue 9: the regeneration mail is not a "compte créé" mail; the confirmation promises a mail
    only for a real address; every row action returns to the list with its filters."""
    mailed = await User.select().where(User.username.like("alp001.%.%")).where(
        User.email.not_like("%fictif%")).first()
    fictive = await User.select().where(User.username.like("alp001.%.%")).where(
        User.email.like("%fictif%")).first()
    await login(client, "alp001.get")
    listing = f"/utilisateurs?last_name={mailed['last_name'][:3]}&state=active"
    page = (await client.get(listing)).text
    encoded = "next=" + listing.replace("?", "%3F").replace("=", "%3D").replace("&", "%26")
    assert f"/utilisateurs/{mailed['id']}/mot-de-passe?{encoded}" in page.replace("&amp;", "&")
    assert f'name="next" value="{listing.replace("&", "&amp;")}"' in page

    confirm = text((await client.get(f"/utilisateurs/{fictive['id']}/mot-de-passe?next=/utilisateurs")).text)
    assert "envoyé par courriel" not in confirm and "vous le lui communiquerez" in confirm
    confirm = text((await client.get(f"/utilisateurs/{mailed['id']}/mot-de-passe")).text)
    assert f"Il lui sera envoyé par courriel à {mailed['email']}" in confirm

    response = await post_form(client, f"/utilisateurs/{mailed['id']}/mot-de-passe", {"next": listing})
    assert response.status_code == 303 and response.headers["location"] == listing
    response = await post_form(client, f"/utilisateurs/{mailed['id']}/suspendre", {"next": listing})
    assert response.headers["location"] == listing
    await run_jobs()
    (_, message), = smtp.messages
    body = message.get_payload(decode=True).decode()
    assert "Un nouveau mot de passe a été généré pour votre compte" in body
    assert "Un compte a été créé pour vous" not in body and message["Subject"] == "Tremplin : votre nouveau mot de passe"


async def test_the_account_form_has_the_delegation_of_the_seed(client):
    """Issue 20 point 19: « Délégation » (seed 000) on the account form, checked against the establishment."""
    from app.tables.org import Delegation

    ids = await _ids()
    delegations = {r["code"]: r["id"] for r in await Delegation.select(Delegation.id, Delegation.code)}
    await login(client, "ged.alp")
    url = f"/etablissements/{ids['ALP001']}/comptes/nouveau"
    page = (await client.get(url)).text
    assert '<label for="f-delegation"' in page and "Délégation" in text(page)
    assert f'<option value="{delegations["ALP"]}" selected>' in page
    response = await post_form(client, url, _account(ids["ALP001"], username="alp001.v.blondel98",
                                                     delegation=delegations["DAM"]))
    assert response.status_code == 422
    assert "L'établissement choisi n'appartient pas à cette délégation" in text(response.text)
    assert not await User.exists().where(User.username == "alp001.v.blondel98")
    response = await post_form(client, url, _account(ids["ALP001"], username="alp001.v.blondel98",
                                                     delegation=delegations["ALP"]))
    assert response.status_code == 303
    user = await User.select(User.id).where(User.username == "alp001.v.blondel98").first()
    edit = (await client.get(f"/utilisateurs/{user['id']}/modifier")).text
    assert f'<option value="{delegations["ALP"]}" selected>' in edit
