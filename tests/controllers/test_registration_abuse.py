"""Issue 8 item 7: an anonymous visitor cannot make the platform mail a PDF and their free text to
any address, nor fill the database and Redis: nothing goes to the address of an organisation typed
in the wizard before a manager has reviewed it, and anonymous writes are rate-limited per address."""

from app.services import outbox
from app.tables.outbox import Mail
from app.tables.registration import Organisation, RegistrationRequest
from tests.controllers.test_registration import _answers, _link, _session
from tests.helpers import login, post_form, text

VICTIM = "victime@example.org"


async def _fill_with_a_new_organisation(client, org_email=VICTIM, first_name="Spam <b>achetez</b>"):
    response = await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    assert response.status_code == 303
    answers = await _answers()
    answers[3] = {"not_found": "1", "org_name": "Mairie de Nulle-Part", "org_postal_code": "26110",
                  "org_city": "Nulle-Part", "org_email": org_email}
    answers[4] = {**answers[4], "first_name": first_name, "email": "requester@example.org",
                  "email_confirm": "requester@example.org"}
    for step, data in answers.items():
        response = await post_form(client, f"/inscription/etape/{step}", {**data, "go": "next"})
        assert response.status_code == 303, (step, text(response.text))
    return await RegistrationRequest.select().where(RegistrationRequest.email == "requester@example.org").first()


async def _confirm(client, smtp, run_jobs):
    await run_jobs()
    path = _link(smtp, r"http://testserver\.local/inscription/confirmer/\S+").replace("http://testserver.local", "")
    assert (await client.get(path)).status_code == 200
    await run_jobs()


def _mailed_to(smtp, address):
    return [m for rcpt, m in smtp.messages if address in rcpt]


async def test_nothing_goes_to_a_typed_organisation_before_a_manager_references_it(client, new_client, smtp, run_jobs,
                                                                                  redis_client):
    await _session()
    request = await _fill_with_a_new_organisation(client)
    await _confirm(client, smtp, run_jobs)
    # The requester has their mails; the address they typed for their organisation gets nothing.
    assert any(m["Subject"] == f"Votre demande d'inscription {request['reference']}" for m in
               _mailed_to(smtp, "requester@example.org"))
    assert _mailed_to(smtp, VICTIM) == []
    # The managers are told, with the BI, what to check.
    review = next(m for rcpt, m in smtp.messages if "inscriptions@demo.tremplin.local" in rcpt)
    assert review["Subject"] == f"[À vérifier] Bulletin d'inscription {request['reference']} : établissement non référencé"
    body = next(p for p in review.walk() if p.get_content_type() == "text/plain").get_content()
    assert VICTIM in body and "n'est pas envoyé" in body and "/gestion-inscriptions/etablissements/" in body
    held = await Mail.select().where((Mail.category == "registration-bi") & (Mail.intended_recipients == VICTIM)).first()
    assert held["status"] == outbox.HELD
    # The sweep and the jobs leave it alone.
    await outbox.sweep(redis_client)
    await run_jobs()
    assert _mailed_to(smtp, VICTIM) == []

    org = await Organisation.select().where(Organisation.name == "Mairie de Nulle-Part").first()
    async with new_client() as manager:
        await login(manager, "inscriptions")
        page = text((await manager.get(f"/gestion-inscriptions/demandes/{request['id']}")).text)
        assert "En attente : établissement à vérifier" in page
        mails = text((await manager.get("/gestion-inscriptions/emails?status=held")).text)
        assert f"Bulletin d'inscription {request['reference']} à valider" in mails
        # The manager corrects the address and references the organisation: the BI leaves, to the
        # reviewed address only.
        response = await post_form(manager, f"/gestion-inscriptions/etablissements/{org['id']}/modifier", {
            "name": "Mairie de Nulle-Part", "postal_code": "26110", "city": "Nulle-Part",
            "validation_email": "elus@nulle-part.example.org", "referenced": "1"})
        assert response.status_code == 303
        flash = text((await manager.get(response.headers["location"])).text)
        assert "1 bulletin(s) d'inscription en attente envoyé(s)" in flash
    await run_jobs()
    assert _mailed_to(smtp, VICTIM) == []
    (bi,) = _mailed_to(smtp, "elus@nulle-part.example.org")
    assert bi["Subject"] == f"Bulletin d'inscription {request['reference']} à valider"
    assert any(p.get_content_type() == "application/pdf" for p in bi.walk())


async def test_a_request_closed_before_the_review_drops_its_held_bulletin(client, new_client, smtp, run_jobs):
    await _session()
    request = await _fill_with_a_new_organisation(client)
    await _confirm(client, smtp, run_jobs)
    async with new_client() as manager:
        await login(manager, "inscriptions")
        response = await post_form(manager, f"/gestion-inscriptions/demandes/{request['id']}/refuse",
                                   {"reason": "Demande de test."})
        assert response.status_code == 303
        org = await Organisation.select().where(Organisation.name == "Mairie de Nulle-Part").first()
        await post_form(manager, f"/gestion-inscriptions/etablissements/{org['id']}/referencer")
    await run_jobs()
    assert _mailed_to(smtp, VICTIM) == []
    held = await Mail.select().where((Mail.category == "registration-bi") & (Mail.intended_recipients == VICTIM)).first()
    assert held["status"] == outbox.DROPPED
    # A manager cannot send it by hand either.
    assert not await outbox.retry_now(None, held["id"])


async def test_going_back_to_the_organisation_step_corrects_it_rather_than_adding_another(client):
    await _session()
    await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    answers = await _answers()
    await post_form(client, "/inscription/etape/2", {**answers[2], "go": "next"})
    typed = {"not_found": "1", "org_name": "Mairie de Mollans", "org_postal_code": "26170", "go": "next"}
    await post_form(client, "/inscription/etape/3", typed)
    # The demo has a « Mairie de Mollans-sur-Ouvèze » too: offered first, created on "une autre collectivité".
    response = await post_form(client, "/inscription/etape/3", {**typed, "org_name": "Mairie de Mollans-sur-Ouvèze"})
    assert response.status_code == 422 and "est déjà enregistrée" in text(response.text)
    await post_form(client, "/inscription/etape/3", {**typed, "org_name": "Mairie de Mollans-sur-Ouvèze", "create_anyway": "1"})
    names = [r["name"] for r in await Organisation.select(Organisation.name).where(Organisation.referenced == False)]  # noqa: E712
    assert names.count("Mairie de Mollans") == 0 and names.count("Mairie de Mollans-sur-Ouvèze") == 2  # the demo's + ours


async def test_anonymous_drafts_are_rate_limited_per_address(client, redis_client):
    await _session()
    for _ in range(30):
        response = await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
        assert response.status_code == 303
    response = await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    assert response.status_code == 429
    assert "Trop de demandes, réessayez dans quelques minutes." in text(response.text)
    assert 3500 < int(response.headers["retry-after"]) <= 3600
    # Each new draft replaced this visitor's previous one: one draft, whatever the clicks.
    assert await RegistrationRequest.count().where(RegistrationRequest.status == "draft") == 1


async def test_organisations_typed_by_requesters_are_rate_limited(client, new_client):
    await _session()
    answers = await _answers()
    for i in range(11):
        async with new_client() as visitor:
            await post_form(visitor, "/inscription/", {"code": "26C03S1", "action": "new"})
            await post_form(visitor, "/inscription/etape/2", {**answers[2], "go": "next"})
            response = await post_form(visitor, "/inscription/etape/3", {
                "not_found": "1", "org_name": f"Collectivité {i}", "org_postal_code": "26110", "go": "next"})
            if i < 10:
                assert response.status_code == 303, text(response.text)
    assert response.status_code == 429 and "Trop de demandes" in text(response.text)
    assert await Organisation.count().where(Organisation.name.like("Collectivité %")) == 10


async def test_sessions_created_for_cookieless_visitors_are_rate_limited(client, redis_client):
    sessions_before = len(await redis_client.keys("*sessions*"))
    for i in range(20):
        client.cookies.delete("session")
        response = await post_form(client, "/inscription/annuler")  # a flash: a new session each time
        assert response.status_code == 303, i
    assert len(await redis_client.keys("*sessions*")) == sessions_before + 20
    # A visitor who has a session is not counted.
    response = await post_form(client, "/inscription/annuler")
    assert response.status_code == 303
    client.cookies.delete("session")
    response = await post_form(client, "/inscription/annuler")
    assert response.status_code == 429 and "Trop de demandes, réessayez dans quelques minutes." in text(response.text)
    assert len(await redis_client.keys("*sessions*")) == sessions_before + 20
    # GET pages never create one, whatever they say.
    page = await client.get("/inscription/etape/4")
    assert page.status_code == 303 and "session" not in page.cookies
    assert "a expiré" in text((await client.get(page.headers["location"])).text)
    assert len(await redis_client.keys("*sessions*")) == sessions_before + 20
