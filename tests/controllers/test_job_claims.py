"""Hostile review of start_job(once=…) and the job results (ZIP, attendance sheet): the claim is one
user's — another manager clicking meanwhile gets their own job, never the first one's page or file;
simultaneous clicks queue one job; a job the job layer gave up does not hold the next click."""

import asyncio
import re

from app.tables.jobs import JobRun
from app.tables.org import Establishment
from tests.controllers.test_account_takeover import _account, _ids
from tests.helpers import login, post_form, text
from tests.services.test_certificates import completed_session


async def test_simultaneous_clicks_queue_one_zip_and_other_managers_get_their_own(client, new_client, run_jobs):
    session_id, *_ = await completed_session(learners_count=2, complete=2)
    ids = await _ids()
    alp = await Establishment.select(Establishment.delegation).where(Establishment.id == ids["ALP001"]).first()
    await _account("alp001.get.bis", ids["ALP001"], [{"role": "get", "establishment": ids["ALP001"]}])
    await _account("alp.ged.bis", ids["ALP001"], [{"role": "ged", "delegation": alp["delegation"]}])
    await login(client, "alp001.get")
    answers = await asyncio.gather(*(post_form(client, f"/sessions/{session_id}/attestations/zip") for _ in range(6)))
    assert {a.status_code for a in answers} == {303}
    assert len({a.headers["location"] for a in answers}) == 1
    assert await JobRun.count().where(JobRun.kind == "build_certificates_zip") == 1
    first = answers[0].headers["location"]
    others = []
    for username in ("alp001.get.bis", "alp.ged.bis"):
        async with new_client() as other:
            await login(other, username)
            mine = await post_form(other, f"/sessions/{session_id}/attestations/zip", follow_redirects=True)
            assert mine.url.path != first and "déjà en préparation" not in text(mine.text)
            assert (await other.get(first)).status_code == 404
            others.append(mine.url.path)
    async with new_client() as stranger:  # another establishment's manager: not even the session
        await login(stranger, "dam001.get")
        assert (await post_form(stranger, f"/sessions/{session_id}/attestations/zip")).status_code == 404
    assert await JobRun.count().where(JobRun.kind == "build_certificates_zip") == 3
    await run_jobs()
    link = re.search(r'href="(/attestations/zip/[^"]+)"', (await client.get(first)).text)[1]
    assert (await client.get(link)).status_code == 200
    async with new_client() as other:
        await login(other, "alp001.get.bis")
        assert (await other.get(link)).status_code == 404  # the first one's file: not theirs
        own = re.search(r'href="(/attestations/zip/[^"]+)"', (await other.get(others[0])).text)[1]
        assert own != link and (await other.get(own)).status_code == 200


async def test_a_zip_job_the_operator_aborted_does_not_hold_the_next_click(client, redis_client):
    """An aborted run (or a worker that died on the last try) never writes its progress: the claim
    then sent every click of the next 24 hours to a job that will never finish."""
    from app.jobs import durable
    from app.jobs.worker import BOUND

    session_id, *_ = await completed_session(learners_count=2, complete=2)
    await login(client, "alp001.get")
    first = await post_form(client, f"/sessions/{session_id}/attestations/zip")
    run = await JobRun.select(JobRun.id).where(JobRun.kind == "build_certificates_zip").first()
    assert await durable.abort(redis_client, [run["id"]], None, bound=BOUND) == 1
    page = text((await client.get(first.headers["location"])).text)
    assert "En attente" not in page
    again = await post_form(client, f"/sessions/{session_id}/attestations/zip", follow_redirects=True)
    assert again.url.path != first.headers["location"] and "déjà en préparation" not in text(again.text)
    assert await JobRun.count().where(JobRun.kind == "build_certificates_zip") == 2


async def test_forged_and_foreign_result_tokens_are_not_found(client, new_client, run_jobs, redis_client):
    from app.services import progress

    session_id, *_ = await completed_session(learners_count=2, complete=2)
    other_session, *_ = await completed_session(learners_count=3, complete=1)
    await login(client, "alp001.get")
    me = (await client.get("/")).status_code
    started = await post_form(client, f"/sessions/{session_id}/attestations/zip")
    token = started.headers["location"].rsplit("/", 1)[1]
    # Unfinished: nothing to download yet.
    assert (await client.get(f"/attestations/zip/{token}")).status_code == 404
    await run_jobs()
    state = await progress.get(redis_client, token)
    assert state["state"] == "done"
    for bad in ("x", "..%2F..%2Fetc%2Fpasswd", token + "x", "%00", "a" * 300):
        assert (await client.get(f"/attestations/zip/{bad}")).status_code == 404
    # A ZIP token is not an attendance sheet of any session.
    assert (await client.get(f"/sessions/{session_id}/emargement/{token}")).status_code == 404
    assert (await client.get(f"/sessions/{other_session}/emargement/{token}")).status_code == 404
    # A progress forged with another user's file id (same owner, another's stored file) is the
    # owner's own doing only; a progress of someone else is refused.
    await progress.start(redis_client, "forged", 999999, "x")
    await progress.update(redis_client, "forged", state="done", file_id=state["file_id"])
    assert (await client.get("/attestations/zip/forged")).status_code == 404
    # Expired progress: the file is gone for its owner too.
    await redis_client.delete(f"progress:{token}")
    assert (await client.get(f"/attestations/zip/{token}")).status_code == 404
    assert me == 200


async def test_the_resend_guard_lets_a_legitimate_resend_through(client, new_client):
    """« Envoyer par courriel » within 10 minutes is refused (a double click) — but not after a mail
    that failed for good, not once the 10 minutes are over, and not to the learner's corrected
    address (the first one went to a wrong address: that is why the manager sends it again)."""
    from datetime import timedelta

    from app.services import certificates
    from app.tables.accounts import User
    from app.tables.outbox import Mail
    from app.dates import now

    session_id, activities, learners, enrolments = await completed_session()
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    key, send = f"certificate:{certificate['id']}", f"/attestations/{certificate['id']}/envoyer"
    await login(client, "alp001.get")

    async def click():
        return text((await post_form(client, send, follow_redirects=True)).text)

    assert "envoyée par courriel" in await click()
    assert "vient d'être envoyée" in await click()
    assert await Mail.count().where(Mail.group_key == key) == 1
    await Mail.update({Mail.status: "failed"}).where(Mail.group_key == key)  # failed for good
    assert "envoyée par courriel" in await click()
    assert await Mail.count().where(Mail.group_key == key) == 2
    await Mail.update({Mail.created_at: now() - timedelta(minutes=11)}).where(Mail.group_key == key)
    assert "envoyée par courriel" in await click()
    assert await Mail.count().where(Mail.group_key == key) == 3
    # The address was wrong: corrected, the certificate goes to the right one at once.
    await User.update({User.email: "bonne.adresse@example.org"}).where(User.id == learners[0])
    assert "envoyée par courriel" in await click()
    assert await Mail.count().where(Mail.group_key == key) == 4
    assert "vient d'être envoyée" in await click()
    async with new_client() as stranger:  # another establishment: not even the certificate
        await login(stranger, "dam001.get")
        assert (await post_form(stranger, send)).status_code == 404
    assert await Mail.count().where(Mail.group_key == key) == 4


async def test_two_clicks_racing_past_the_claim_still_queue_one_job(client, monkeypatch):
    """The claim was taken before the job's progress was written: a second click arriving in
    between read no progress behind the claim, took it for an expired job, released the claim and
    queued a second ZIP. (The progress write is slowed down here to open that window.)"""
    from app.services import progress

    start = progress.start

    async def slow_start(*args, **kwargs):
        await asyncio.sleep(0.2)
        return await start(*args, **kwargs)

    monkeypatch.setattr(progress, "start", slow_start)
    session_id, *_ = await completed_session(learners_count=2, complete=2)
    await login(client, "alp001.get")
    answers = await asyncio.gather(*(post_form(client, f"/sessions/{session_id}/attestations/zip") for _ in range(2)))
    assert len({a.headers["location"] for a in answers}) == 1
    assert await JobRun.count().where(JobRun.kind == "build_certificates_zip") == 1


async def test_a_manager_moved_elsewhere_no_longer_downloads_the_zip_they_asked_for(client, run_jobs):
    """The attendance sheet's download checks the session is still in the user's scope; the ZIP's
    only checked the token: a manager moved to another establishment kept downloading, for a day,
    the certificates of the learners they no longer manage."""
    from app.tables.accounts import RoleAssignment

    session_id, *_ = await completed_session(learners_count=2, complete=2)
    ids = await _ids()
    user_id = await _account("alp001.get.ter", ids["ALP001"], [{"role": "get", "establishment": ids["ALP001"]}])
    await login(client, "alp001.get.ter")
    started = await post_form(client, f"/sessions/{session_id}/attestations/zip")
    await run_jobs()
    link = re.search(r'href="(/attestations/zip/[^"]+)"', (await client.get(started.headers["location"])).text)[1]
    assert (await client.get(link)).status_code == 200
    await RoleAssignment.update({RoleAssignment.establishment: ids["DAM001"]}).where(RoleAssignment.user == user_id)
    assert (await client.get(f"/sessions/{session_id}/attestations")).status_code == 404
    assert (await client.get(link)).status_code == 404
