"""The learning record's rules (issue 10 §1): completion and summary in one transaction, session
completion, records surviving unenrolment, soft delete of accounts, refusal of destructive deletes."""

from datetime import date

import pytest

from app.services import learning
from app.services.enrolments import add_sources, remove_sources
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import SessionActivity, TrainingSession
from app.tables.learning import ActivityCompletion, CompletionHow, Enrolment, SourceKind
from app.tables.org import Establishment
from tests.helpers import login, post_form, text


async def _session_with_activities(required=(True, True, False)):
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session QVT", short_name="QVT", start_date=date(2026, 6, 2),
        end_date=date(2026, 6, 3), code="26X00S7")).returning(TrainingSession.id))[0]["id"]
    activities = await SessionActivity.insert(*[
        SessionActivity(session=session_id, position=i, kind="page", title=f"Activité {i}", required=r)
        for i, r in enumerate(required)]).returning(SessionActivity.id)
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == alp001)).order_by(RoleAssignment.user)]
    return session_id, [a["id"] for a in activities], learners


@pytest.mark.smoke
async def test_completion_keeps_the_summary_and_completes_the_session(demo):
    session_id, activities, learners = await _session_with_activities()
    await add_sources(session_id, learners[:1], SourceKind.manual)
    enrolment = await Enrolment.select().where(Enrolment.session == session_id).first()
    assert (enrolment["required_done"], enrolment["required_total"], enrolment["percent"]) == (0, 2, 0)

    assert await learning.set_completion(enrolment["id"], activities[0], True, CompletionHow.manual)
    assert not await learning.set_completion(enrolment["id"], activities[0], True, CompletionHow.manual)  # idempotent
    row = await Enrolment.select().where(Enrolment.id == enrolment["id"]).first()
    assert (row["required_done"], row["percent"], row["completed_at"]) == (1, 50, None)
    await learning.set_completion(enrolment["id"], activities[2], True, CompletionHow.automatic)  # optional one
    assert (await Enrolment.select().where(Enrolment.id == enrolment["id"]).first())["percent"] == 50
    await learning.set_completion(enrolment["id"], activities[1], True, CompletionHow.manager, by=learners[1])
    row = await Enrolment.select().where(Enrolment.id == enrolment["id"]).first()
    assert row["percent"] == 100 and row["completed_at"] is not None
    completed_at = row["completed_at"]

    # Unenrolled and enrolled again: the same enrolment, its progress and completion date intact.
    assert await remove_sources(session_id, learners[:1], SourceKind.manual) == (1, 0)
    assert (await Enrolment.select().where(Enrolment.id == enrolment["id"]).first())["active"] is False
    await add_sources(session_id, learners[:1], SourceKind.manual)
    row = await Enrolment.select().where(Enrolment.id == enrolment["id"]).first()
    assert row["active"] is True and row["completed_at"] == completed_at

    # A manager unmarks a required activity: no longer complete.
    await learning.set_completion(enrolment["id"], activities[1], False, CompletionHow.manager, by=learners[1])
    row = await Enrolment.select().where(Enrolment.id == enrolment["id"]).first()
    assert (row["percent"], row["completed_at"]) == (50, None)


async def test_completions_of_one_learner_at_the_same_moment_all_count(demo):
    """Several activities marked at once (two tabs, a manager and the learner): each transaction
    waits for the previous one, so the summary counts every completion."""
    import asyncio

    from app import db

    if db.is_sqlite():
        pytest.skip("SQLite writes one transaction at a time")
    session_id, activities, learners = await _session_with_activities(required=(True,) * 6)
    await add_sources(session_id, learners[:1], SourceKind.manual)
    enrolment = (await Enrolment.select(Enrolment.id).where(Enrolment.session == session_id).first())["id"]
    for _ in range(2):
        await asyncio.gather(*[learning.set_completion(enrolment, a, True, CompletionHow.manual) for a in activities])
        row = await Enrolment.select().where(Enrolment.id == enrolment).first()
        assert (row["required_done"], row["percent"]) == (6, 100) and row["completed_at"] is not None
        await asyncio.gather(*[learning.set_completion(enrolment, a, False, CompletionHow.manual) for a in activities])
        row = await Enrolment.select().where(Enrolment.id == enrolment).first()
        assert (row["required_done"], row["percent"], row["completed_at"]) == (0, 0, None)


async def test_a_session_recomputed_while_a_completion_is_being_written_counts_it(demo):
    """A manager changes the session's activities while a learner's completion is in flight: the
    recount waits for it, and counts it."""
    import asyncio

    from app import db

    if db.is_sqlite():
        pytest.skip("SQLite writes one transaction at a time")
    session_id, activities, learners = await _session_with_activities()
    await add_sources(session_id, learners[:1], SourceKind.manual)
    enrolment = (await Enrolment.select(Enrolment.id).where(Enrolment.session == session_id).first())["id"]
    written, release = asyncio.Event(), asyncio.Event()

    async def completion_in_a_long_transaction():
        async with db.transaction():
            await learning.set_completion(enrolment, activities[0], True, CompletionHow.manual)
            written.set()
            await release.wait()

    completing = asyncio.create_task(completion_in_a_long_transaction())
    await written.wait()
    refreshing = asyncio.create_task(learning.refresh_summaries(session_id=session_id))
    # The refresh waits for the completion's transaction: PostgreSQL shows it waiting on a lock.
    deadline = asyncio.get_running_loop().time() + 30
    while not (await Enrolment.raw("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND datname = current_database()"))[0]["n"]:
        assert not refreshing.done() and asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    assert not refreshing.done()
    release.set()
    await completing
    await refreshing
    row = await Enrolment.select().where(Enrolment.id == enrolment).first()
    assert (row["required_done"], row["percent"]) == (1, 50)


async def test_one_statement_recomputes_a_whole_session(demo, monkeypatch):
    from app import db

    session_id, activities, learners = await _session_with_activities()
    await add_sources(session_id, learners[:4], SourceKind.manual)
    enrolments = [r["id"] for r in await Enrolment.select(Enrolment.id).where(Enrolment.session == session_id)]
    await ActivityCompletion.insert(*[ActivityCompletion(enrolment=e, activity=activities[0], how="manual")
                                      for e in enrolments[:2]])
    await ActivityCompletion.insert(ActivityCompletion(enrolment=enrolments[0], activity=activities[1], how="manual"))
    statements = []
    engine = db.engine()
    original = type(engine).run_querystring

    async def counting(self, querystring, *args, **kwargs):
        statements.append(str(querystring))
        return await original(self, querystring, *args, **kwargs)

    monkeypatch.setattr(type(engine), "run_querystring", counting)
    result = await learning.refresh_summaries(session_id=session_id)
    monkeypatch.undo()
    assert len([q for q in statements if q.lstrip().upper().startswith("UPDATE")]) == 1 and len(result) == 4
    assert len(statements) <= 2  # and, on PostgreSQL, the rows locked first
    rows = {r["id"]: r for r in await Enrolment.select().where(Enrolment.session == session_id)}
    assert [(rows[e]["required_done"], rows[e]["percent"], rows[e]["completed_at"] is not None) for e in enrolments] \
        == [(2, 100, True), (1, 50, False), (0, 0, False), (0, 0, False)]


async def test_an_account_with_training_records_is_deactivated_not_erased(client):
    session_id, activities, learners = await _session_with_activities()
    await add_sources(session_id, learners[:2], SourceKind.manual)
    enrolment = await Enrolment.select().where((Enrolment.session == session_id) & (Enrolment.user == learners[0])).first()
    await learning.set_completion(enrolment["id"], activities[0], True, CompletionHow.manual)
    await login(client, "alp001.get")
    confirm = text((await client.get(f"/utilisateurs/{learners[0]}/supprimer")).text)
    assert "traces de formation" in confirm and "conservées" in confirm
    done = await post_form(client, f"/utilisateurs/{learners[0]}/supprimer", follow_redirects=True)
    assert "désactivé" in text(done.text)
    user = await User.select().where(User.id == learners[0]).first()
    assert user is not None and user["deactivated_at"] is not None and user["is_suspended"]
    assert await ActivityCompletion.exists().where(ActivityCompletion.enrolment == enrolment["id"])
    listing = text((await client.get("/utilisateurs?per_page=100")).text)
    assert user["username"] not in listing
    assert (await client.get(f"/utilisateurs/{learners[0]}/modifier")).status_code == 404


async def test_a_session_with_records_or_open_requests_cannot_be_deleted(client):
    session_id, activities, learners = await _session_with_activities()
    await add_sources(session_id, learners[:1], SourceKind.manual)
    enrolment = await Enrolment.select().where(Enrolment.session == session_id).first()
    await learning.set_completion(enrolment["id"], activities[0], True, CompletionHow.manual)
    await remove_sources(session_id, learners[:1], SourceKind.manual)  # no longer enrolled, records kept
    await login(client, "alp001.get")
    refused = await post_form(client, f"/sessions/{session_id}/supprimer", follow_redirects=True)
    assert "traces de formation de 1 personne" in text(refused.text)
    assert await TrainingSession.exists().where(TrainingSession.id == session_id)
    # Someone enrolled by mistake and removed, with nothing recorded: the session may go.
    await ActivityCompletion.delete().where(ActivityCompletion.enrolment == enrolment["id"])
    gone = await post_form(client, f"/sessions/{session_id}/supprimer", follow_redirects=True)
    assert gone.status_code == 200
    assert not await TrainingSession.exists().where(TrainingSession.id == session_id)
