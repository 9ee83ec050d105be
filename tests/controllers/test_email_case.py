"""E-mails compare case-insensitively: stored lower-cased by every writer (normalise_email), so the
import finds the existing account, the registration reuses it, and old rows are converted by a
migration that reports the accounts it makes share an address."""

import importlib
import re

import pytest

from app.tables.accounts import User
from app.tables.imports import ImportRow
from app.tables.org import Establishment
from app.tables.registration import Organisation, RegistrationRequest
from tests.controllers.test_registration import _fill, _link, _session
from tests.helpers import login, post_form, text
from tests.jobs.test_import_accounts import HEADER, _upload


async def _alp001() -> int:
    return (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]


async def _create(client, establishment_id, username, email, first="Marie", last="Curie"):
    response = await post_form(client, f"/etablissements/{establishment_id}/comptes/nouveau", {
        "username": username, "password": "Anfh_2025!", "first_name": first, "last_name": last, "email": email,
        "establishment": establishment_id, "status": "fph_agent", "matricule": "", "nomenclature_confirmed": "1"})
    assert response.status_code == 303, text(response.text)
    return await User.select().where(User.username == username).first()


@pytest.mark.smoke
async def test_accounts_store_the_address_lower_cased(client):
    alp001 = await _alp001()
    await login(client, "alp001.get")
    user = await _create(client, alp001, "alp001.m.curie", "  Marie.Curie@Example.ORG ")
    assert user["email"] == "marie.curie@example.org"
    response = await post_form(client, f"/utilisateurs/{user['id']}/modifier", {
        "username": user["username"], "first_name": "Marie", "last_name": "Curie", "email": "MARIE@Radium.FR",
        "establishment": alp001, "status": "fph_agent", "matricule": ""})
    assert response.status_code == 303, text(response.text)
    assert (await User.select(User.email).where(User.id == user["id"]).first())["email"] == "marie@radium.fr"


async def test_the_import_finds_an_account_whatever_the_case_of_its_address(client):
    alp001 = await _alp001()
    await login(client, "alp001.get")
    existing = await _create(client, alp001, "alp001.m.curie", "Marie.Curie@Example.org")
    response = await _upload(client, alp001, [
        HEADER,
        "Marie;Curie;;MARIE.CURIE@EXAMPLE.ORG;;",   # 2 the existing account
        "Pierre;Curie;;Pierre@Example.org;;",       # 3 a new one
        "Pierre;Curie2;;pierre@example.ORG;;",      # 4 the same address as line 3
    ])
    assert response.status_code == 303, text(response.text)
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    rows = {r["line"]: r for r in await ImportRow.select().where(ImportRow.batch == batch_id)}
    assert rows[2]["existing_user"] == existing["id"] and rows[2]["status"] == "problem"
    assert "Un compte existe déjà avec la même adresse de courriel" in rows[2]["problems"]
    assert rows[3]["status"] == "ok" and rows[3]["email"] == "pierre@example.org"
    assert "Même personne que la ligne 3 (la même adresse de courriel)" in rows[4]["problems"]
    assert rows[4]["status"] == "error" and rows[4]["allowed"] == ["skip"]


async def test_a_registration_reuses_the_account_whatever_the_case_of_its_address(client, new_client, smtp, run_jobs):
    await _session()
    alp001 = await _alp001()
    async with new_client() as manager:
        await login(manager, "alp001.get")
        account = await _create(manager, alp001, "alp001.e.dartagnan", "Elodie@Example.ORG", "Élodie", "D'Artagnan")
    await _fill(client)  # the requester types elodie@example.org
    request = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    await run_jobs()
    await client.get(_link(smtp, r"http://testserver\.local/inscription/confirmer/\S+").replace("http://testserver.local", ""))
    await run_jobs()
    async with new_client() as back_office:
        await login(back_office, "inscriptions")
        for action in ("validate_instance", "validate_operator", "validate_requester"):
            response = await post_form(back_office, f"/gestion-inscriptions/demandes/{request['id']}/{action}")
            assert response.status_code == 303, (action, text(response.text))
    await run_jobs()
    assert _link(smtp, r"Vous avez déjà un compte.*?nom d'utilisateur \S+").endswith(account["username"])
    assert await User.count().where(User.email == "elodie@example.org") == 1
    assert (await RegistrationRequest.select(RegistrationRequest.user).where(
        RegistrationRequest.id == request["id"]).first())["user"] == account["id"]


async def test_the_follow_link_is_sent_whatever_the_case_typed(client, new_client, smtp, run_jobs):
    await _session()
    await _fill(client)
    request = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    async with new_client() as someone:
        await post_form(someone, "/inscription/suivi", {"email": " ELODIE@Example.org ", "reference": request["reference"]})
        await run_jobs()
    assert any(m["Subject"].startswith("Suivi de votre demande") for _, m in smtp.messages)


@pytest.fixture
async def without_email_index(demo):
    """A database as it was before the unique index on the address (migration 2026-12-06T18:30),
    which old duplicate rows could not enter; the index is back afterwards."""
    from app.tables.constraints import EMAIL_UNIQUE_INDEX

    await User.raw("DROP INDEX IF EXISTS app_user_email_unique")
    yield
    await User.delete().where(User.username.like("alp001.old.%"))
    await User.raw(EMAIL_UNIQUE_INDEX)


async def test_the_migration_lower_cases_old_rows_and_reports_would_be_duplicates(without_email_index, capsys):
    migration = importlib.import_module("app.tables.migrations.tremplin_2026_11_23t13_10_10_000000")
    alp001 = await _alp001()
    common = {"password_hash": "x", "establishment": alp001}
    for username, email in (("alp001.old.one", "Jean.Dupont@Example.org"), ("alp001.old.two", "jean.dupont@example.org"),
                            ("alp001.old.three", "SEUL@Example.org"), ("alp001.old.four", "same@example.org"),
                            ("alp001.old.five", "same@example.org")):
        await User.insert(User(username=username, first_name="Old", last_name="Row", email=email, **common))
    org = await Organisation.select(Organisation.id).first()
    await Organisation.update({Organisation.validation_email: "Formation@Mairie.FR"}).where(Organisation.id == org["id"])
    await User.raw("INSERT INTO platform_setting (key, value) VALUES ('operator_copy_email', 'Copie@Example.ORG') "
                   "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")

    manager = await migration.forwards()
    await manager.run()

    emails = {r["username"]: r["email"] for r in await User.select(User.username, User.email).where(
        User.username.like("alp001.old.%"))}
    assert emails == {"alp001.old.one": "jean.dupont@example.org", "alp001.old.two": "jean.dupont@example.org",
                      "alp001.old.three": "seul@example.org", "alp001.old.four": "same@example.org",
                      "alp001.old.five": "same@example.org"}
    assert (await User.raw("SELECT count(*) AS n FROM app_user WHERE email <> lower(email)"))[0]["n"] == 0
    assert (await Organisation.select(Organisation.validation_email).where(
        Organisation.id == org["id"]).first())["validation_email"] == "formation@mairie.fr"
    assert (await User.raw("SELECT value FROM platform_setting WHERE key = 'operator_copy_email'"))[0]["value"] == \
        "copie@example.org"
    # Reported, not merged: only the accounts that differed by case (the two "same@" ones already shared it).
    report = capsys.readouterr().out
    assert "jean.dupont@example.org : alp001.old.one, alp001.old.two" in report
    assert "same@example.org" not in report and "seul@" not in report
    assert re.search(r"1 adresse\(s\) désormais partagée\(s\)", report)
    # Run again: nothing left to do, nothing to report.
    manager = await migration.forwards()
    await manager.run()
    assert "désormais partagée" not in capsys.readouterr().out
