"""Erasure requests (issue 25): asked from « Mes données », handled by an administrator with the legal
hold applied (an account with training evidence is pseudonymised, its evidence kept; one without is
deleted; or refused with a reason), the answer mailed, everything in the audit trail."""

from app.services import my_data
from app.services.accounts import is_fictitious
from app.tables.accounts import User
from app.tables.audit import AuditEvent
from app.tables.certificates import Certificate
from app.tables.learning import Enrolment
from app.tables.outbox import Mail
from app.tables.privacy import ErasureRequest
from app.tables.registration import RegistrationRequest
from tests.helpers import login, post_form, text
from tests.services.test_certificates import completed_session


async def _mails_to(address: str) -> list[dict]:
    return [m for m in await Mail.select(Mail.recipients, Mail.subject, Mail.body_text)
            if address in m["recipients"]]


async def test_a_learner_with_training_is_pseudonymised_and_their_evidence_kept(client, new_client):
    _, _, learners, enrolments = await completed_session(learners_count=1, complete=1)
    me = await User.select().where(User.id == learners[0]).first()
    async with new_client() as learner:
        await login(learner, me["username"])
        asked = await post_form(learner, "/mes-donnees/suppression", {"message": "Je quitte l'établissement."})
        assert asked.status_code == 303
        page = (await learner.get("/mes-donnees")).text
        assert "Votre demande de suppression du" in text(page) and 'action="/mes-donnees/suppression"' not in page
        # A second request (a double click, another tab) records nothing more.
        again = await post_form(learner, "/mes-donnees/suppression", {"message": ""})
        assert again.status_code == 422 and "Votre demande de suppression du" in text(again.text)
    assert await ErasureRequest.count() == 1
    request = await ErasureRequest.select().first()

    await login(client, "alp001.get")
    assert (await client.get("/admin/donnees/suppressions")).status_code == 403
    await login(client, "admin")
    queue = text((await client.get("/admin/donnees/suppressions")).text)
    assert f"{me['first_name']} {me['last_name']} ({me['username']})" in queue and "À traiter" in queue
    page = text((await client.get(f"/admin/donnees/suppressions/{request['id']}")).text)
    assert "la suppression est limitée" in page and "Je quitte l'établissement." in page
    assert "doivent légalement être conservées jusqu'au" in page  # the answer proposed
    # An empty answer is refused, nothing done.
    empty = await post_form(client, f"/admin/donnees/suppressions/{request['id']}", {"decision": "apply", "answer": " "})
    assert empty.status_code == 422 and "Écrivez la réponse" in text(empty.text)
    assert (await User.select(User.username).where(User.id == me["id"]).first())["username"] == me["username"]
    done = await post_form(client, f"/admin/donnees/suppressions/{request['id']}",
                           {"decision": "apply", "answer": "Bonjour,\nC'est fait."})
    assert done.status_code == 303

    account = await User.select().where(User.id == me["id"]).first()
    assert account["username"] == f"pseudonyme#{me['id']}" and account["email"] != me["email"]
    assert account["pseudonymised_at"] is not None and account["deactivated_at"] is not None
    # The evidence stays (legal hold): the enrolment and the certificate as issued.
    assert await Enrolment.exists().where(Enrolment.id == enrolments[me["id"]])
    assert await Certificate.exists().where(Certificate.enrolment == enrolments[me["id"]])
    # The answer went to the address they had; the request keeps no identity now.
    (mail,) = await _mails_to(me["email"])
    assert mail["subject"] == "Votre demande de suppression de compte" and "C'est fait." in mail["body_text"]
    handled = await ErasureRequest.select().first()
    assert handled["status"] == "pseudonymised" and me["last_name"] not in handled["person_label"]
    assert handled["email"] == ""
    actions = [r["action"] for r in await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.action.is_in(["erasure.requested", "account.pseudonymised", "erasure.handled"])).order_by(AuditEvent.id)]
    assert actions == ["erasure.requested", "account.pseudonymised", "erasure.handled"]
    # Handled once only.
    twice = await post_form(client, f"/admin/donnees/suppressions/{request['id']}", {"decision": "apply", "answer": "x"})
    assert twice.status_code in (200, 422) and "Réponse envoyée le" in text(twice.text)
    async with new_client() as learner:
        refused = await post_form(learner, "/connexion", {"username": me["username"], "password": "Demo-2026!"})
        assert refused.status_code != 303  # a login that works redirects


async def test_an_account_without_training_is_deleted_and_a_refusal_keeps_it(client, new_client):
    people = await User.select().where(User.username.like("alp002.%.%")).order_by(User.id).limit(2)
    people = [p for p in people if not await Enrolment.exists().where(Enrolment.user == p["id"])]
    first, second = people[:2]
    for person in (first, second):
        async with new_client() as someone:
            await login(someone, person["username"])
            assert (await post_form(someone, "/mes-donnees/suppression", {"message": ""})).status_code == 303
    ids = {r["person"]: r["id"] for r in await ErasureRequest.select(ErasureRequest.person, ErasureRequest.id)}
    await login(client, "admin")
    assert "n'a aucune preuve de formation" in text((await client.get(f"/admin/donnees/suppressions/{ids[first['id']]}")).text)
    assert (await post_form(client, f"/admin/donnees/suppressions/{ids[first['id']]}",
                            {"decision": "apply", "answer": "Supprimé."})).status_code == 303
    assert not await User.exists().where(User.id == first["id"])
    refused = await post_form(client, f"/admin/donnees/suppressions/{ids[second['id']]}",
                              {"decision": "refuse", "answer": "Votre contrat est en cours : nous gardons le compte."})
    assert refused.status_code == 303
    kept = await User.select().where(User.id == second["id"]).first()
    assert kept["username"] == second["username"] and kept["pseudonymised_at"] is None
    statuses = {r["person_label"]: r["status"] for r in await ErasureRequest.select()}
    assert statuses == {f"Compte n° {first['id']}": "erased",
                        f"{second['first_name']} {second['last_name']} ({second['username']})": "refused"}
    assert len(await _mails_to(first["email"])) == (0 if is_fictitious(first["email"]) else 1)


async def test_an_administrators_own_request_and_a_managers(client, new_client):
    admin = await User.select().where(User.username == "admin").first()
    get = await User.select().where(User.username == "alp001.get").first()
    for person in ("admin", "alp001.get"):
        async with new_client() as someone:
            await login(someone, person)
            assert (await post_form(someone, "/mes-donnees/suppression", {"message": ""})).status_code == 303
    ids = {r["person"]: r["id"] for r in await ErasureRequest.select(ErasureRequest.person, ErasureRequest.id)}
    await login(client, "admin")
    own = await post_form(client, f"/admin/donnees/suppressions/{ids[admin['id']]}", {"decision": "apply", "answer": "x"})
    assert own.status_code == 422 and "Un autre administrateur doit traiter" in text(own.text)
    # A manager's account is referred to by what they did: pseudonymised, never deleted (no 500).
    page = text((await client.get(f"/admin/donnees/suppressions/{ids[get['id']]}")).text)
    assert "la suppression est limitée" in page
    done = await post_form(client, f"/admin/donnees/suppressions/{ids[get['id']]}", {"decision": "apply", "answer": "Fait."})
    assert done.status_code == 303
    kept = await User.select().where(User.id == get["id"]).first()
    assert kept["username"] == f"pseudonyme#{get['id']}"
    # Their older audit rows no longer name them.
    assert not await AuditEvent.exists().where(
        (AuditEvent.target_id == get["id"]) & (AuditEvent.target_label == get["username"]))
    # Their own, even to refuse.
    refused = await post_form(client, f"/admin/donnees/suppressions/{ids[admin['id']]}", {"decision": "refuse", "answer": "Non."})
    assert refused.status_code == 422


async def test_the_zip_and_the_erasure_cover_requests_proven_theirs_only(client, new_client):
    me = await User.select().where(User.username.like("alp002.%.%")).first()
    await RegistrationRequest.insert(
        RegistrationRequest(reference="R-DRAFT", status="draft", email=me["email"], first_name="Inconnu",
                            last_name="Tiers", draft_key="secret-key", phone="0600000000"),
        RegistrationRequest(reference="R-MINE", status="confirmed", email=me["email"], first_name=me["first_name"],
                            last_name=me["last_name"], confirmation_nonce="nonce", phone="0611111111"))
    data = await my_data.collect(me["id"])
    assert [r["reference"] for r in data["demandes_inscription"]] == ["R-MINE"]
    assert "confirmation_nonce" not in data["demandes_inscription"][0]
    assert "draft_key" not in data["demandes_inscription"][0]
    async with new_client() as person:
        await login(person, me["username"])
        await post_form(person, "/mes-donnees/suppression", {"message": ""})
    request = await ErasureRequest.select().first()
    await login(client, "admin")
    assert (await post_form(client, f"/admin/donnees/suppressions/{request['id']}",
                            {"decision": "apply", "answer": "Fait."})).status_code == 303
    left = await RegistrationRequest.select().where(RegistrationRequest.reference.is_in(["R-DRAFT", "R-MINE"]))
    assert all(r["email"] == "" and r["last_name"] == "" and r["phone"] == "" for r in left)


async def test_preparing_my_data_twice_is_one_job_and_one_line_of_the_audit_trail(client, demo):
    # No worker runs here: the first job stays queued, so the second click follows it.
    me = await User.select().where(User.username.like("alp001.%") & (User.username != "alp001.get")).first()
    await login(client, me["username"])
    first = await post_form(client, "/mes-donnees")
    second = await post_form(client, "/mes-donnees")
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert "déjà en préparation" in text((await client.get(second.headers["location"])).text)
    assert await AuditEvent.count().where((AuditEvent.action == "data.exported") & (AuditEvent.actor == me["id"])) == 1
