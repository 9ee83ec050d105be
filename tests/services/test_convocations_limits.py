"""Convocations (issue 12, X2), the loose ends: a notice that cannot be built is tried a bounded
number of times, then failed — on the operations dashboard and on the session's convocation page —;
« Envoyer les convocations » twice (double submit, two tabs) mails nobody twice."""

import asyncio
from datetime import timedelta

from app.dates import now
from app.services import convocations
from app.services.enrolments import add_sources, remove_sources
from app.tables.accounts import User
from app.tables.catalogue import TrainingSession
from app.tables.convocations import ConvocationNotice
from app.tables.learning import SourceKind
from tests.helpers import login, post_form, text
from tests.services.test_convocations import by_recipient, learners, make_session, run_jobs  # noqa: F401


async def _notices(session_id: int) -> list[dict]:
    return await ConvocationNotice.select().where(ConvocationNotice.session == session_id).order_by(ConvocationNotice.id)


async def _next_attempt_due(redis_client) -> None:
    """Time passes: the failed builds' next attempt is due, and they have waited more than 30 s."""
    await ConvocationNotice.update({ConvocationNotice.locked_until: now() - timedelta(seconds=1),
                                    ConvocationNotice.created_at: now() - timedelta(minutes=5)}).where(
        ConvocationNotice.locked_until.is_not_null())
    # The sweeps run a minute apart (a job id per minute): the previous build's result is forgotten.
    stale = [k async for k in redis_client.scan_iter("arq:result:convocations:*")]
    if stale:
        await redis_client.delete(*stale)
    await convocations.sweep(redis_client)


async def test_a_convocation_that_cannot_be_built_is_tried_five_times_then_shown_as_failed(
        client, new_client, smtp, run_jobs, redis_client, monkeypatch):
    session_id = await make_session()
    people = await learners(count=3)
    fictitious = people[2]  # a person without e-mail: their mail cannot leave
    await User.update({User.email: "alp001.sans.adresse.fictif@tremplin.local"}).where(User.id == fictitious)
    monkeypatch.setattr(convocations.documents, "TEMPLATE", "pdf/convocation-missing.html")  # the PDF cannot be rendered
    await add_sources(session_id, people, SourceKind.manual)
    await run_jobs()
    assert smtp.messages == []
    for attempt in range(1, convocations.MAX_ATTEMPTS):
        rows = await _notices(session_id)
        assert [(r["status"], r["attempts"]) for r in rows] == [("building", attempt)] * 3
        assert all("TemplateNotFound" in r["last_error"] and r["locked_until"] > now() for r in rows)
        await convocations.sweep(redis_client)  # not due yet: nothing moves
        assert [r["status"] for r in await _notices(session_id)] == ["building"] * 3
        await _next_attempt_due(redis_client)
        await run_jobs()
    rows = await _notices(session_id)
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", convocations.MAX_ATTEMPTS)] * 3
    assert all("TemplateNotFound" in r["last_error"] and r["dedup_key"] is None for r in rows)
    # Given up: no more attempts, whatever the sweeps.
    await _next_attempt_due(redis_client)
    await run_jobs()
    assert [(r["status"], r["attempts"]) for r in await _notices(session_id)] == [
        ("failed", convocations.MAX_ATTEMPTS)] * 3 and smtp.messages == []

    # The session's managers read it on its convocation page, in French; the operators on /ops.
    names = {u["id"]: f"{u['first_name']} {u['last_name']}" for u in await User.select().where(User.id.is_in(people))}
    await login(client, "alp001.get")
    page = text((await client.get(f"/sessions/{session_id}/convocations")).text)
    assert "3 convocations n'ont pas pu être envoyées" in page and "Jamais convoqués 3" in page
    assert all(f"{name} — Convocation : préparation impossible (5 essais)" in page for name in names.values())
    async with new_client() as ops_client:
        await login(ops_client, "admin")
        dashboard = text((await ops_client.get("/ops")).text)
        assert "Convocations en échec" in dashboard and "3 convocation(s) n'ont pas pu être préparées" in dashboard
        assert "26C03S9" in dashboard and "TemplateNotFound" in dashboard

    # Fixed: « Envoyer les convocations » sends them again; the fictitious address is reported instead.
    monkeypatch.undo()
    sent = await post_form(client, f"/sessions/{session_id}/convocations", {"who": "new"})
    assert sent.status_code == 303
    await run_jobs()
    assert sorted(by_recipient(smtp)) == sorted(
        u["email"] for u in await User.select(User.email).where(User.id.is_in(people[:2])))
    page = text((await client.get(f"/sessions/{session_id}/convocations")).text)
    assert "1 convocation n'a pas pu être envoyée" in page
    assert f"{names[fictitious]} — Convocation : courriel non remis : Adresse fictive" in page
    assert names[people[0]] not in page.split("pas pu être envoyée")[1]

    # A worker that dies during the last attempt: the sweep gives the notice up, saying so.
    await ConvocationNotice.update({ConvocationNotice.status: "building", ConvocationNotice.last_error: "",
                                    ConvocationNotice.attempts: convocations.MAX_ATTEMPTS,
                                    ConvocationNotice.locked_until: now() - timedelta(seconds=1)}).where(
        ConvocationNotice.id == rows[0]["id"])
    await convocations.sweep(redis_client)
    crashed = (await _notices(session_id))[0]
    assert crashed["status"] == "failed" and crashed["last_error"] == convocations.CRASHED


async def test_sending_the_convocations_twice_mails_each_learner_once(client, smtp, run_jobs, redis_client):
    session_id = await make_session(auto=False)
    people = await learners(count=3)
    await add_sources(session_id, people, SourceKind.manual)  # not sent by themselves: the manager does
    assert await _notices(session_id) == []
    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    # Two tabs at once: the database keeps one convocation per enrolment and SEQUENCE.
    queued = await asyncio.gather(*(convocations.queue_for_session(session, only_new=only_new)
                                    for only_new in (False, False, True)))
    assert sum(queued) == 3 and len(await _notices(session_id)) == 3
    # A double submit, either choice: nothing more, and a French message rather than an error.
    await login(client, "alp001.get")
    for who in ("all", "all", "new"):
        again = await post_form(client, f"/sessions/{session_id}/convocations", {"who": who}, follow_redirects=True)
        assert again.status_code == 200
        assert "Aucune convocation à envoyer : chaque apprenant inscrit a déjà reçu sa convocation à jour" in text(
            again.text)
    await run_jobs()
    assert len(smtp.messages) == 3 and all(len(m) == 1 for m in by_recipient(smtp).values())
    smtp.messages.clear()
    assert await convocations.queue_for_session(session, only_new=False) == 0

    # Something changed — unenrolled, enrolled again (a new SEQUENCE) —: their convocation is due again, once.
    await remove_sources(session_id, [people[0]], SourceKind.manual)
    await add_sources(session_id, [people[0]], SourceKind.manual)
    queued = await asyncio.gather(*(convocations.queue_for_session(session, only_new=False) for _ in range(2)))
    assert sorted(queued) == [0, 1]
    await run_jobs()
    email = (await User.select(User.email).where(User.id == people[0]).first())["email"]
    # (the cancellation and the new convocation built together: the latest says it all)
    assert [m["Subject"] for _, m in smtp.messages] == ["Convocation : Qualité de vie au travail"]
    assert list(by_recipient(smtp)) == [email]
