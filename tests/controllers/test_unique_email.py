"""Issue 19.3: « never a second account for the same person » rests on the database — a unique index
on lower(email) for active accounts with a real address (app_user_email_unique) — and every writer
turns a violation into a French message, never a 500; two validations of one person at once end
with one account."""

import asyncio
import importlib

import pytest

from app.services import registration as reg
from app.services.auth import load_current_user
from app.services.uniqueness import EMAIL_TAKEN, INTEGRITY_ERRORS, message_for
from app.tables.accounts import User
from app.tables.registration import RegistrationRequest
from tests.controllers.test_email_case import _alp001, _create
from tests.controllers.test_registration import _fill, _session
from tests.helpers import login, post_form, text


async def _insert(username: str, email: str, **values):
    return (await User.insert(User(username=username, password_hash="x", first_name="Marie", last_name="Curie",
                                   email=email, establishment=await _alp001(), **values)).returning(User.id))[0]["id"]


@pytest.mark.smoke
async def test_the_database_refuses_a_second_active_account_with_the_same_address(demo):
    """On PostgreSQL from the migration, on SQLite from create_sqlite_tables: the same index."""
    first = await _insert("alp001.m.curie", "marie.curie@example.org")
    with pytest.raises(INTEGRITY_ERRORS) as refused:
        await _insert("alp001.m.curie2", "Marie.Curie@Example.org")  # another case: the same address
    assert message_for(refused.value) == ("email", EMAIL_TAKEN)
    # A deactivated account frees its address; fictitious addresses are not covered (unique by username).
    await User.update({User.deactivated_at: User.created_at}).where(User.id == first)
    await _insert("alp001.m.curie3", "marie.curie@example.org")
    await _insert("alp001.x.fictif", "")
    await _insert("alp001.y.fictif", "")


async def test_the_account_form_says_the_address_is_taken_even_at_the_same_moment(client, new_client):
    alp001 = await _alp001()
    await login(client, "alp001.get")
    existing = await _create(client, alp001, "alp001.m.curie", "marie.curie@example.org")
    fields = {"password": "Anfh_2025!", "first_name": "Marie", "last_name": "Curie", "establishment": alp001,
              "status": "fph_agent", "matricule": "", "nomenclature_confirmed": "1"}
    url = f"/etablissements/{alp001}/comptes/nouveau"
    again = await post_form(client, url, {**fields, "username": "alp001.m.curie2", "email": "MARIE.Curie@example.org"})
    assert again.status_code == 422 and EMAIL_TAKEN in text(again.text)
    # An edit giving an account another's address: the same message.
    other = await _create(client, alp001, "alp001.p.curie", "pierre.curie@example.org", "Pierre")
    edited = await post_form(client, f"/utilisateurs/{other['id']}/modifier", {
        **fields, "username": other["username"], "first_name": "Pierre", "email": "marie.curie@example.org"})
    assert edited.status_code == 422 and EMAIL_TAKEN in text(edited.text)
    # Two managers creating the same person at the same moment: one account, the other a message.
    async with new_client() as a, new_client() as b:
        await login(a, "alp001.get")
        await login(b, "alp001.get")
        responses = await asyncio.gather(*[
            post_form(c, url, {**fields, "username": f"alp001.i.curie{n}", "email": "irene.curie@example.org"})
            for n, c in enumerate((a, b))])
    assert sorted(r.status_code for r in responses) == [303, 422], [text(r.text)[:200] for r in responses]
    assert any(EMAIL_TAKEN in text(r.text) for r in responses)
    assert await User.count().where(User.email == "irene.curie@example.org") == 1
    assert await User.count().where(User.email == "marie.curie@example.org") == 1 and existing


async def test_two_validations_of_one_person_at_the_same_moment_make_one_account(client, redis_client, monkeypatch):
    """Two requests of the same person (two sessions) validated (step 8) at once, each in its own
    PostgreSQL transaction: both looked the address up, found no account, and created one each (or
    the second failed on the username the first had just taken)."""
    first_session = await _session()
    second_session = await _session(code="26C03S2")
    await _fill(client)
    template = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    await RegistrationRequest.delete().where(RegistrationRequest.id == template["id"])
    ids = []
    for n, session_id in enumerate((first_session, second_session)):
        values = {k: v for k, v in template.items() if k != "id"}
        values.update(reference=f"R26-U{n}", session=session_id, status="instance_validated", user=None)
        ids.append((await RegistrationRequest.insert(RegistrationRequest(**values)).returning(
            RegistrationRequest.id))[0]["id"])
    actor = await load_current_user((await User.select(User.id).where(User.username == "inscriptions").first())["id"])
    # The worst interleaving, every time: each lookup waits (up to 1.5 s) for the other's before
    # going on to create the account. Serialised validations only make the first one wait.
    real_lookup, looked_up, both = reg.workflow.existing_account, [], asyncio.Event()

    async def lookup_then_wait_for_the_other(r):
        found = await real_lookup(r)
        looked_up.append(r["id"])
        if len(looked_up) == 2:
            both.set()
        try:
            await asyncio.wait_for(both.wait(), 1.5)
        except TimeoutError:
            pass
        return found

    monkeypatch.setattr(reg.workflow, "existing_account", lookup_then_wait_for_the_other)
    results = await asyncio.gather(*[reg.apply_action(actor, i, "validate_operator", redis_client) for i in ids],
                                   return_exceptions=True)
    assert [r["status"] if isinstance(r, dict) else repr(r) for r in results] == ["credentials_sent"] * 2
    accounts = await User.select(User.id).where(User.email == template["email"])
    assert len(accounts) == 1
    users = {r["user"] for r in await RegistrationRequest.select(RegistrationRequest.user).where(
        RegistrationRequest.id.is_in(ids))}
    assert users == {accounts[0]["id"]}


@pytest.fixture
async def without_email_index(demo):
    from app.tables.constraints import EMAIL_UNIQUE_INDEX

    await User.raw("DROP INDEX IF EXISTS app_user_email_unique")
    yield
    await User.delete().where(User.username.like("alp001.dup.%"))
    await User.raw(EMAIL_UNIQUE_INDEX)


async def test_the_migration_stops_on_existing_duplicates_and_lists_them(without_email_index):
    migration = importlib.import_module("app.tables.migrations.tremplin_2026_12_06t18_30_00_000000")
    one = await _insert("alp001.dup.one", "jean.dupont@example.org")
    two = await _insert("alp001.dup.two", "jean.dupont@example.org")
    await _insert("alp001.dup.alone", "seul@example.org")
    with pytest.raises(migration.DuplicateEmails) as stopped:
        await (await migration.forwards()).run()
    message = str(stopped.value)
    assert "1 adresse(s) de courriel sont celles de plusieurs comptes actifs" in message
    assert f"jean.dupont@example.org : comptes {one} (alp001.dup.one), {two} (alp001.dup.two)" in message
    assert "seul@" not in message and "Rien n'a été modifié" in message
    # Deactivating the extra account lets it run, and the index holds from then on.
    await User.update({User.deactivated_at: User.created_at}).where(User.id == two)
    await (await migration.forwards()).run()
    with pytest.raises(INTEGRITY_ERRORS):
        await _insert("alp001.dup.three", "Jean.Dupont@example.org")


async def test_an_import_update_giving_an_address_taken_meanwhile_fails_its_line_not_the_job(client, run_jobs):
    """The preview matched the account by its matricule and showed the file's new address; another
    account got that address before the job ran: the line is refused with the French message, the
    rest of the import goes through, and the address stays one account's."""
    from app.tables.imports import ImportRow
    from tests.jobs.test_import_accounts import HEADER, _batch_rows, _confirm_and_run, _upload

    alp001 = await _alp001()
    target = await User.select().where(User.username.like("alp001.%.%") & (User.matricule != "")
                                       & User.email.not_like("%fictif%")).first()
    await login(client, "alp001.get")
    response = await _upload(client, alp001, [
        HEADER, f"{target['first_name']};{target['last_name']};;nouvelle.adresse@example.org;{target['matricule']};",
        "Ada;Lovelace;Anfh_2025!;ada@example.org;4300;"])
    batch_id = int(response.headers["location"].rsplit("/", 1)[1])
    rows = await _batch_rows(batch_id)
    assert rows[2]["existing_user"] == target["id"] and "update" in rows[2]["allowed"]
    await post_form(client, f"/imports/{batch_id}/lignes/{rows[2]['id']}", {"decision": "update"})
    await post_form(client, f"/imports/{batch_id}/lignes/{rows[3]['id']}", {"decision": "create"})
    await _create(client, alp001, "alp001.n.adresse", "Nouvelle.Adresse@example.org", "Nina", "Adresse")
    batch = await _confirm_and_run(client, batch_id, run_jobs)
    assert batch["status"] == "done" and (batch["created_count"], batch["failed_count"]) == (1, 1)
    row = await ImportRow.select().where(ImportRow.id == rows[2]["id"]).first()
    assert row["outcome"] == "failed" and EMAIL_TAKEN in row["outcome_message"]
    assert (await User.select(User.email).where(User.id == target["id"]).first())["email"] == target["email"]
    assert await User.count().where(User.email == "nouvelle.adresse@example.org") == 1


async def test_validation_never_hands_a_request_to_a_deactivated_account_with_the_same_address(client, redis_client):
    """Hostile pass (issue 19): the person's old account was deactivated (« Supprimer » of an account
    with a training history), and a manager gave a new one the same address. Validating their public
    request found the oldest account with the address — the deactivated one: the request and its
    enrolment hung on an account nobody can log in with, and the mail named it. It goes to the active
    one; with none, a new account is made (the unique index leaves deactivated accounts out)."""
    await _session()
    await _fill(client)
    request = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    email = request["email"]
    old = await _insert("alp001.old.account", email)
    await User.update({User.deactivated_at: User.created_at, User.is_suspended: True}).where(User.id == old)
    active = await _insert("alp001.new.account", email)
    await RegistrationRequest.update({RegistrationRequest.status: "instance_validated", RegistrationRequest.user: None}
                                     ).where(RegistrationRequest.id == request["id"])
    actor = await load_current_user((await User.select(User.id).where(User.username == "inscriptions").first())["id"])
    assert (await reg.apply_action(actor, request["id"], "validate_operator", redis_client))["status"] == "credentials_sent"
    assert (await RegistrationRequest.select(RegistrationRequest.user).where(
        RegistrationRequest.id == request["id"]).first())["user"] == active
    # Only the deactivated account has the address: a new account, not the dead one.
    await User.update({User.deactivated_at: User.created_at, User.is_suspended: True}).where(User.id == active)
    second = await _session(code="26C03S2")
    values = {k: v for k, v in request.items() if k != "id"}
    values.update(reference="R26-DEACT", session=second, status="instance_validated", user=None)
    other = (await RegistrationRequest.insert(RegistrationRequest(**values)).returning(RegistrationRequest.id))[0]["id"]
    assert (await reg.apply_action(actor, other, "validate_operator", redis_client))["status"] == "credentials_sent"
    user = (await RegistrationRequest.select(RegistrationRequest.user).where(RegistrationRequest.id == other).first())["user"]
    assert user not in (old, active)
    assert (await User.select(User.deactivated_at).where(User.id == user).first())["deactivated_at"] is None
