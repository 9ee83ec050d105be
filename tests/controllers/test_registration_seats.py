"""Issue 8 item 11: the seat limit holds. 50 requests for a 2-seat session, sent and confirmed at
the same time (asyncio.gather, real transactions on PostgreSQL), leave 2 holding a seat and 48 on
the waiting list; the back office checks again at steps 6, 8 and 10; one count for the whole app."""

import asyncio
import secrets

import httpx

from app.services import enrolments, registration as reg, seats
from app.services.auth import load_current_user
from app.services.roles import LEARNER
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import TrainingSession
from app.tables.learning import Enrolment, SourceKind
from app.tables.registration import RegistrationRequest
from tests.controllers.test_registration import _fill, _session
from tests.helpers import login, post_form, text


def _visitor(app, n: int) -> httpx.AsyncClient:
    """Another browser, from another address (the anonymous rate limits are per address)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(f"10.1.{n // 250}.{n % 250 + 1}", 5000)),
                             base_url="http://testserver.local", follow_redirects=False)


async def _drafts_ready_to_send(client, n: int) -> list[str]:
    """``n`` visitors' drafts at the last step (copies of one filled through the wizard)."""
    await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    from tests.controllers.test_registration import _answers

    for step, data in (await _answers()).items():
        if step < 9:
            await post_form(client, f"/inscription/etape/{step}", {**data, "go": "next"})
    template = await RegistrationRequest.select().where(RegistrationRequest.status == "draft").first()
    await RegistrationRequest.delete().where(RegistrationRequest.id == template["id"])
    keys = []
    for i in range(n):
        key = secrets.token_urlsafe(12)
        values = {k: v for k, v in template.items() if k != "id"}
        values.update(reference=f"R26-S{i:04d}", email=f"elu{i}@example.org", draft_key=key, cgv_accepted=True)
        await RegistrationRequest.insert(RegistrationRequest(**values))
        keys.append(key)
    return keys


async def test_fifty_requests_sent_and_confirmed_at_once_for_two_seats(app, client):
    session_id = await _session(seats=2)
    keys = await _drafts_ready_to_send(client, 50)

    async def send(i, key):
        async with _visitor(app, i) as visitor:
            visitor.cookies.set("tremplin_draft", key, path="/inscription")
            response = await post_form(visitor, "/inscription/etape/9", {"cgv": "1", "go": "next"})
            return response.status_code

    assert await asyncio.gather(*(send(i, k) for i, k in enumerate(keys))) == [303] * 50
    sent = await RegistrationRequest.select().where(RegistrationRequest.session == session_id)
    assert len(sent) == 50 and {r["status"] for r in sent} == {"awaiting_confirmation"}
    assert sum(not r["waiting_list"] for r in sent) == 2
    assert await seats.seats_taken(session_id) == 2

    async def confirm(i, r):
        token = reg.links.signer("confirm").dumps({"id": r["id"], "nonce": r["confirmation_nonce"]})
        async with _visitor(app, i) as visitor:
            return (await visitor.get(f"/inscription/confirmer/{token}")).status_code

    assert await asyncio.gather(*(confirm(i, r) for i, r in enumerate(sent))) == [200] * 50
    statuses = [r["status"] for r in await RegistrationRequest.select(RegistrationRequest.status).where(
        RegistrationRequest.session == session_id)]
    assert statuses.count("confirmed") == 2 and statuses.count("waiting_list") == 48
    # The public page says it, and a manual enrolment is refused.
    assert "complète" in text((await client.get("/inscription/26C03S1")).text)
    get = await load_current_user((await User.select(User.id).where(User.username == "alp001.get").first())["id"])
    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    learner = await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == LEARNER) & (RoleAssignment.establishment == session["establishment"])).first()
    try:
        await enrolments.enrol(get, session, [str(learner["user"])])
        raise AssertionError("a manual enrolment took a held seat")
    except seats.SessionFull as full:
        assert "limitée à 2 places" in full.message


async def _requests(session_id: int, n: int, status: str, template: dict) -> list[int]:
    ids = []
    for i in range(n):
        values = {k: v for k, v in template.items() if k != "id"}
        values.update(reference=f"R26-B{i:04d}", email=f"legacy{i}@example.org", status=status, user=None)
        row = await RegistrationRequest.insert(RegistrationRequest(**values)).returning(RegistrationRequest.id)
        ids.append(row[0]["id"])
    return ids


async def test_the_back_office_checks_the_seats_again_at_each_step(client, new_client):
    """The state the review found (5 confirmed for 2 seats): the first two go through, in the order
    they came, whatever the order of the clicks; the others are refused with the reason."""
    session_id = await _session(seats=2)
    await _fill(client)
    template = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    await RegistrationRequest.delete().where(RegistrationRequest.id == template["id"])
    ids = await _requests(session_id, 5, "confirmed", template)
    async with new_client() as manager:
        await login(manager, "inscriptions")

        async def step(request_id, action):
            # These requests have no BI mail: step 6 is confirmed as « BI jamais parti » (issue 20).
            response = await post_form(manager, f"/gestion-inscriptions/demandes/{request_id}/{action}",
                                       {"bi_never_sent": "1"} if action == "validate_instance" else {})
            return response.status_code, text(response.text)

        # Step 6, all five clicked at once, the last first.
        results = await asyncio.gather(*(step(i, "validate_instance") for i in reversed(ids)))
        codes = [code for code, _ in reversed(results)]
        assert codes == [303, 303, 409, 409, 409]
        assert "La session est complète (2 place(s)" in results[0][1]
        # Meanwhile someone takes a seat another way (as a cohort sync does, without asking).
        other = await User.select(User.id).where(User.username == "alp001.get").first()
        await enrolments.add_sources(session_id, [other["id"]], SourceKind.manual)
        # Step 8: the first request still has its seat, the second no longer.
        assert (await step(ids[1], "validate_operator"))[0] == 409
        assert (await step(ids[0], "validate_operator"))[0] == 303
        # Step 10 checks again, and enrols.
        assert (await step(ids[0], "validate_requester"))[0] == 303
    enrolled = await Enrolment.count().where((Enrolment.session == session_id) & (Enrolment.active == True))  # noqa: E712
    assert enrolled == 2
    statuses = {r["id"]: r["status"] for r in await RegistrationRequest.select().where(RegistrationRequest.id.is_in(ids))}
    assert [statuses[i] for i in ids] == ["completed", "instance_validated", "confirmed", "confirmed", "confirmed"]


async def test_one_count_of_seats_for_the_whole_app():
    from app.services import registration, sessions

    assert sessions.seats_taken is seats.seats_taken
    assert not hasattr(registration, "seats_taken")
    assert enrolments.SessionFull is seats.SessionFull
