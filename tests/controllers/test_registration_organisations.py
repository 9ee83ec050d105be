"""Issue 9: the wizard's organisation search finds every organisation, the pending ones marked; a
requester about to type one again is offered it; a manager merges duplicates; the operator's name
is a setting the consents and the mails use."""

import pytest

from app.tables.outbox import Mail
from app.tables.registration import Organisation, RegistrationRequest, RequestEvent
from tests.controllers.test_registration import _answers, _link, _session
from tests.helpers import login, post_form, text

MOLLANS = "Mairie de Mollans-sur-Ouvèze"


async def _to_step_3(client):
    await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    answers = await _answers()
    response = await post_form(client, "/inscription/etape/2", {**answers[2], "go": "next"})
    assert response.headers["location"] == "/inscription/etape/3"
    return answers


async def _mollans():
    return (await Organisation.select(Organisation.id).where(Organisation.name == MOLLANS).first())["id"]


async def _draft_org(email=None):
    where = RegistrationRequest.status == "draft" if email is None else RegistrationRequest.email == email
    return (await RegistrationRequest.select(RegistrationRequest.organisation).where(where).first())["organisation"]


@pytest.mark.smoke
async def test_the_search_finds_organisations_waiting_for_review_whatever_the_accents_and_hyphens(client):
    await _session()
    await _to_step_3(client)
    for q in ("mollans sur ouveze", "MOLLANS-SUR-OUVÈZE", "Mollans", "26170"):
        page = text((await client.get("/inscription/etape/3", params={"q": q})).text)
        assert MOLLANS in page and "(en attente de vérification)" in page, q
    page = text((await client.get("/inscription/etape/3", params={"q": "nyons"})).text)
    assert "Mairie de Nyons" in page and "(en attente de vérification)" not in page and MOLLANS not in page
    # The htmx search answers the step alone.
    fragment = (await client.get("/inscription/etape/3", params={"q": "ouveze"}, headers={"HX-Request": "true"})).text
    assert "<html" not in fragment and MOLLANS in text(fragment)
    response = await post_form(client, "/inscription/etape/3", {"organisation": await _mollans(), "go": "next"})
    assert response.status_code == 303 and await _draft_org() == await _mollans()


async def test_a_requester_typing_an_existing_organisation_is_offered_it(client, new_client):
    await _session()
    await _to_step_3(client)
    before = await Organisation.count()
    typed = {"not_found": "1", "org_name": "mairie de mollans sur ouveze", "org_postal_code": "26170",
             "org_city": "Mollans", "go": "next"}
    response = await post_form(client, "/inscription/etape/3", typed)
    page = text(response.text)
    assert response.status_code == 422 and f"« {MOLLANS} » (26170 Mollans-sur-Ouvèze) est déjà enregistrée" in page
    assert f"Oui, c'est ma collectivité : {MOLLANS}" in page and await Organisation.count() == before
    response = await post_form(client, "/inscription/etape/3", {**typed, "use_existing": await _mollans()})
    assert response.status_code == 303 and await _draft_org() == await _mollans()
    assert await Organisation.count() == before
    # "Non, il s'agit d'une autre collectivité": created, not referenced.
    async with new_client() as other:
        await _to_step_3(other)
        response = await post_form(other, "/inscription/etape/3", {**typed, "create_anyway": "1"})
        assert response.status_code == 303
    assert await Organisation.count() == before + 1


async def _request_on(visitor, organisation: dict, email: str):
    """A request sent and confirmed on ``organisation`` (an id, or the typed fields)."""
    answers = await _to_step_3(visitor)
    answers[4] = {**answers[4], "email": email, "email_confirm": email}
    for step in range(3, 10):
        data = organisation if step == 3 else answers[step]
        response = await post_form(visitor, f"/inscription/etape/{step}", {**data, "go": "next"})
        assert response.status_code == 303, (step, text(response.text))


async def test_a_manager_merges_duplicates_and_their_held_bulletins_follow(client, new_client, smtp, run_jobs):
    await _session()
    kept = await _mollans()
    await _request_on(client, {"organisation": kept}, "alice@example.org")
    async with new_client() as other:
        await _request_on(other, {"not_found": "1", "org_name": "Mairie de Mollans sur Ouveze", "org_postal_code": "26170",
                                  "org_email": "secretariat@mollans.example.org", "create_anyway": "1"},
                          "bruno@example.org")
    duplicate = await _draft_org("bruno@example.org")
    assert duplicate != kept
    await run_jobs()
    for email in ("alice@example.org", "bruno@example.org"):
        page = await client.get(_link_for(smtp, email))
        # Both organisations wait for review: the requester is not told their bulletin has left.
        assert page.status_code == 200 and "dès que nos services l'auront vérifiée" in text(page.text)
    await run_jobs()
    held = await Mail.select(Mail.id, Mail.status).where(Mail.category == "registration-bi")
    assert len(held) == 2 and {m["status"] for m in held} == {"held"}

    base = f"/gestion-inscriptions/etablissements/{kept}/fusionner"
    # Neither a GET nor an anonymous visitor reaches the merge; a GET request changes nothing.
    async with new_client() as get:
        await login(get, "alp001.get")
        assert (await get.get(base)).status_code == 404
        assert (await post_form(get, f"{base}/confirmer", {"duplicate": duplicate})).status_code == 404
    async with new_client() as anonymous:
        response = await anonymous.get(base)
        assert response.status_code != 200 and MOLLANS not in response.text
    async with new_client() as manager:
        await login(manager, "inscriptions")
        # The kept one is reviewed first: its own request's bulletin leaves.
        response = await post_form(manager, f"/gestion-inscriptions/etablissements/{kept}/modifier", {
            "name": MOLLANS, "postal_code": "26170", "city": "Mollans-sur-Ouvèze",
            "validation_email": "elus@mollans.example.org", "referenced": "1"})
        assert response.status_code == 303
        page = text((await manager.get(base)).text)
        assert "Mairie de Mollans sur Ouveze" in page and "Fusionner des doublons" in page
        response = await manager.get(f"{base}/confirmer")
        assert response.status_code == 422 and "Cochez au moins un doublon" in text(response.text)
        confirm = await manager.get(f"{base}/confirmer", params={"duplicate": duplicate})
        page = text(confirm.text)
        assert confirm.status_code == 200 and f"Fusionner 1 doublon(s) dans « {MOLLANS} » ?" in page
        assert "1 demande(s) d'inscription passeront sur" in page
        assert await _draft_org("bruno@example.org") == duplicate  # the confirmation page changed nothing
        response = await post_form(manager, f"{base}/confirmer", {"duplicate": duplicate})
        assert response.status_code == 303
        listing = text((await manager.get("/gestion-inscriptions/etablissements", params={"q": "mollans"})).text)
        assert "Mairie de Mollans sur Ouveze" not in listing and MOLLANS in listing
        page = text((await manager.get(f"/gestion-inscriptions/etablissements/{duplicate}/modifier")).text)
        assert "Doublon fusionné le" in page
        # Merged once is enough: merging it again, or keeping it, is refused.
        response = await post_form(manager, f"{base}/confirmer", {"duplicate": duplicate})
        assert response.status_code == 404 and "déjà fusionné" in text(response.text)
    for email in ("alice@example.org", "bruno@example.org"):
        assert await _draft_org(email) == kept
    merged = await Organisation.select().where(Organisation.id == duplicate).first()
    assert merged["merged_into"] == kept and merged["hidden"] and merged["merged_at"] and merged["merged_by"]
    event = await RequestEvent.select(RequestEvent.action, RequestEvent.note, RequestEvent.actor.username.as_alias("who")).where(
        RequestEvent.action == "Établissement fusionné").first()
    assert event["who"] == "inscriptions" and "Mairie de Mollans sur Ouveze" in event["note"]
    await run_jobs()
    bulletins = [rcpt for rcpt, m in smtp.messages if m["Subject"].startswith("Bulletin d'inscription")]
    assert bulletins == [["elus@mollans.example.org"], ["elus@mollans.example.org"]]
    # Nobody picks the merged one any more.
    async with new_client() as visitor:
        await _to_step_3(visitor)
        page = text((await visitor.get("/inscription/etape/3", params={"q": "mollans"})).text)
        assert page.count("Mollans") >= 1 and "Mairie de Mollans sur Ouveze" not in page
        response = await post_form(visitor, "/inscription/etape/3", {"organisation": duplicate, "go": "next"})
        assert response.status_code == 422


def _link_for(smtp, email):
    for rcpt, message in reversed(smtp.messages):
        if rcpt == [email] and "Confirmez" in message["Subject"]:
            body = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
            return body.split("http://testserver.local", 1)[1].split()[0]
    raise AssertionError(email)


async def test_the_operator_name_is_a_setting_used_in_the_consents_and_the_mails(client, new_client, smtp, run_jobs):
    await _session()
    await _to_step_3(client)
    async with new_client() as admin:
        await login(admin, "admin")
        response = await post_form(admin, "/gestion-inscriptions/reglages", {"operator_name": "  Centre  Alpin des Élus "})
        assert response.status_code == 303
        assert 'value="Centre Alpin des Élus"' in (await admin.get("/gestion-inscriptions/reglages")).text
    answers = await _answers()
    for step in range(3, 8):
        await post_form(client, f"/inscription/etape/{step}", {**answers[step], "go": "next"})
    page = text((await client.get("/inscription/etape/8")).text)
    assert "J'autorise Centre Alpin des Élus à intégrer mes coordonnées" in page
    assert "J'autorise Centre Alpin des Élus à utiliser mon image" in page and "l'opérateur" not in page
    for step in (8, 9):
        await post_form(client, f"/inscription/etape/{step}", {**answers[step], "go": "next"})
    await run_jobs()
    assert (await client.get(_link_for(smtp, "elodie@example.org"))).status_code == 200
    await run_jobs()
    _link(smtp, r"à signer et retourner à Centre Alpin des Élus\.")
    request = await RegistrationRequest.select(RegistrationRequest.id).where(RegistrationRequest.email == "elodie@example.org").first()
    async with new_client() as manager:
        await login(manager, "inscriptions")
        await post_form(manager, f"/gestion-inscriptions/demandes/{request['id']}/validate_instance")
    await run_jobs()
    _link(smtp, r"Centre Alpin des Élus va l'examiner")
