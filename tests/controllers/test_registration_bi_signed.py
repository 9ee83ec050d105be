"""Issue 20 point 4: « BI signé » (step 6) could be recorded although the BI never left (organisation
not referenced, BI held), and the held BI still sat in the outbox once the request was closed."""

from app import db
from app.services import outbox
from app.services.registration import BI_CATEGORY, request_key
from app.tables.outbox import Mail
from app.tables.registration import RegistrationRequest, RequestEvent
from tests.controllers.test_registration_organisations import _link_for, _request_on
from tests.controllers.test_registration import _session
from tests.helpers import login, post_form, text

TYPED = {"not_found": "1", "org_name": "Mairie de Saint-Auban-sur-l'Ouvèze", "org_postal_code": "26170",
         "org_email": "mairie@saint-auban.example.org", "create_anyway": "1"}


async def _bi(request_id):
    return await Mail.select(Mail.status, Mail.last_error).where(
        (Mail.group_key == request_key(request_id)) & (Mail.category == BI_CATEGORY)).first()


async def _status(request_id):
    return (await RegistrationRequest.select(RegistrationRequest.status).where(
        RegistrationRequest.id == request_id).first())["status"]


async def test_bi_signed_waits_for_the_bulletin_or_a_confirmation_that_it_never_left(client, new_client, smtp, run_jobs):
    await _session()
    await _request_on(client, TYPED, "alice@example.org")
    await run_jobs()
    assert (await client.get(_link_for(smtp, "alice@example.org"))).status_code == 200
    await run_jobs()
    request = await RegistrationRequest.select().where(RegistrationRequest.email == "alice@example.org").first()
    assert (await _bi(request["id"]))["status"] == outbox.HELD
    base = f"/gestion-inscriptions/demandes/{request['id']}"
    async with new_client() as manager:
        await login(manager, "inscriptions")
        page = (await manager.get(base)).text
        # Point 19: the postcode and the phone each under its own heading, not run together.
        assert "Code postal 26110 Téléphone 04 75 00 00 00" in text(page)
        # Not one click any more: the step leads to a question first.
        assert f'action="{base}/validate_instance"' not in page and f'href="{base}/validate_instance"' in page
        # A click that skips the question (a form kept from before, a forged POST) records nothing.
        response = await post_form(manager, f"{base}/validate_instance")
        body = text(response.text)
        assert response.status_code == 422 and "n'est jamais parti vers l'instance de validation" in body
        assert "pas encore vérifié et référencé" in body
        assert await _status(request["id"]) == "confirmed"
        confirm = await manager.get(f"{base}/validate_instance")
        body = text(confirm.text)
        assert confirm.status_code == 200 and "Mairie de Saint-Auban-sur-l'Ouvèze" in body
        assert "par un autre moyen" in body and 'name="bi_never_sent" value="1"' in confirm.text
        response = await post_form(manager, f"{base}/validate_instance", {"bi_never_sent": "1"})
        assert response.status_code == 303
        assert await _status(request["id"]) == "instance_validated"
        # Said so in the history; the held BI is closed unsent (it would ask to sign what is signed).
        history = text((await manager.get(base)).text)
        assert "BI jamais parti par la plateforme" in history
        bi = await _bi(request["id"])
        assert bi["status"] == outbox.DROPPED and "autre moyen" in bi["last_error"]
        for action in ("validate_operator", "validate_requester"):
            assert (await post_form(manager, f"{base}/{action}")).status_code == 303
        # Referencing the organisation afterwards sends nothing to its instance.
        org = request["organisation"]
        response = await post_form(manager, f"/gestion-inscriptions/etablissements/{org}/referencer")
        assert response.status_code == 303
    await run_jobs()
    assert not [m for _, m in smtp.messages if m["Subject"].startswith("Bulletin d'inscription")]
    assert not await Mail.exists().where(Mail.status == outbox.HELD)


async def test_a_request_closed_by_its_final_step_closes_its_held_bulletin(client, new_client, smtp, run_jobs):
    """A request that went 6 → 8 → 10 before this check (its BI held all along): step 10 closes it."""
    await _session()
    await _request_on(client, TYPED, "bruno@example.org")
    await run_jobs()
    assert (await client.get(_link_for(smtp, "bruno@example.org"))).status_code == 200
    await run_jobs()
    request = await RegistrationRequest.select().where(RegistrationRequest.email == "bruno@example.org").first()
    async with db.transaction():
        await RegistrationRequest.update({RegistrationRequest.status: "instance_validated"}).where(
            RegistrationRequest.id == request["id"])
        await RequestEvent.insert(RequestEvent(request=request["id"], action="6. Validation instance (BI signé)",
                                               from_status="confirmed", to_status="instance_validated"))
    base = f"/gestion-inscriptions/demandes/{request['id']}"
    async with new_client() as manager:
        await login(manager, "inscriptions")
        for action in ("validate_operator", "validate_requester"):
            assert (await post_form(manager, f"{base}/{action}")).status_code == 303
    assert await _status(request["id"]) == "completed"
    bi = await _bi(request["id"])
    assert bi["status"] == outbox.DROPPED and "close" in bi["last_error"]
