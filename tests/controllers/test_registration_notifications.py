"""Issue 8 item 10: the notifications after a confirmation are never lost, and never sent twice.

The queue really refuses the job (the app's Redis pointed at a closed port for that request): the
requester still sees the success page, the request stays confirmed, and the cron's sweep notifies
it once — even when two sweeps and the job run at the same time. The sweep is the job layer's generic
one (the run is durable); the ad-hoc ``sweep_request_notifications`` is gone."""

import asyncio
import secrets
from datetime import timedelta

import pytest
from arq.connections import ArqRedis

from app.dates import now
from app.jobs.durable import sweep
from app.jobs.worker import sweep_jobs
from app.jobs.worker import BOUND, CRON_JOBS
from app.tables.jobs import JobRun
from app.services import registration as reg
from app.tables.registration import RegistrationRequest, RequestEvent
from tests.conftest import free_port
from tests.controllers.test_registration import _fill, _link, _session
from tests.helpers import text


def _subjects(smtp, reference):
    return sorted(m["Subject"] for _, m in smtp.messages if reference in m["Subject"])


async def _backdate_confirmations():
    """As if the sweep ran a couple of minutes after the confirmations (and their runs)."""
    await RegistrationRequest.update({RegistrationRequest.confirmed_at: now() - timedelta(minutes=2)}).where(
        RegistrationRequest.confirmed_at.is_not_null())
    await JobRun.update({JobRun.enqueued_at: now() - timedelta(minutes=2)}).where(JobRun.status == "queued")


async def test_a_refused_job_leaves_the_request_confirmed_and_the_sweep_notifies_it_once(
        app, client, smtp, run_jobs, redis_client):
    await _session()
    await _fill(client)
    await run_jobs()
    path = _link(smtp, r"http://testserver\.local/inscription/confirmer/\S+").replace("http://testserver.local", "")
    request = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()

    # Redis refuses the job: nothing listens on that port.
    working, closed = app.state.redis, ArqRedis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    app.state.redis = closed
    try:
        confirmed = await client.get(path)
    finally:
        app.state.redis = working
        await closed.aclose()
    assert confirmed.status_code == 200, text(confirmed.text)
    assert "Adresse confirmée" in text(confirmed.text)
    row = await RegistrationRequest.select().where(RegistrationRequest.id == request["id"]).first()
    assert row["status"] == "confirmed" and row["notified_at"] is None

    smtp.messages.clear()
    await run_jobs()
    assert _subjects(smtp, request["reference"]) == []  # no job: nobody told yet

    # Within a minute the job may still be on its way: the sweep leaves the request to it.
    assert (await sweep(redis_client, BOUND))["enqueued"] == 0
    await _backdate_confirmations()
    # Two sweeps at once (two workers), then the workers: the request is notified once.
    await asyncio.gather(*(sweep(redis_client, BOUND) for _ in range(2)))
    await run_jobs()
    assert (await sweep(redis_client, BOUND))["enqueued"] == 0
    # A late job of the request changes nothing either.
    assert await reg.send_notifications(request["id"], redis_client) == 0
    await run_jobs()
    run = await JobRun.select().where(JobRun.kind == "send_request_notifications").first()
    assert run["status"] == "succeeded" and run["tries"] == 1 and run["result"] == "3"
    ref = request["reference"]
    assert _subjects(smtp, ref) == [f"Bulletin d'inscription {ref} à valider", f"Votre demande d'inscription {ref}",
                                    f"[Copie] Bulletin d'inscription {ref} à valider"]
    assert await RequestEvent.count().where(
        (RequestEvent.request == request["id"]) & (RequestEvent.action == "Notifications envoyées")) == 1
    assert any(job.coroutine.__wrapped__ is sweep_jobs for job in CRON_JOBS)


async def _awaiting(template: dict, n: int) -> list[str]:
    """``n`` more requests like ``template``, awaiting their confirmation; their links' paths."""
    tokens = []
    for i in range(n):
        nonce = secrets.token_urlsafe(8)
        values = {k: v for k, v in template.items() if k != "id"}
        values.update(reference=f"R26-T{i:04d}", email=f"requester{i}@example.org", confirmation_nonce=nonce,
                      submitted_at=now())
        row = await RegistrationRequest.insert(RegistrationRequest(**values)).returning(RegistrationRequest.id)
        tokens.append(f"/inscription/confirmer/{reg.links.signer('confirm').dumps({'id': row[0]['id'], 'nonce': nonce})}")
    return tokens


@pytest.mark.smoke
async def test_many_confirmations_at_once_are_each_notified_exactly_once(client, new_client, smtp, run_jobs,
                                                                          redis_client):
    """26 of 50 were lost on SQLite: now every one is notified, once, by the job or by the sweep."""
    await _session()
    await _fill(client)
    first = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    await RegistrationRequest.delete().where(RegistrationRequest.id == first["id"])
    paths = await _awaiting(first, 20)

    async def confirm(path):
        async with new_client() as browser:
            return (await browser.get(path)).status_code

    assert await asyncio.gather(*(confirm(p) for p in paths)) == [200] * 20
    smtp.messages.clear()
    await run_jobs()
    await _backdate_confirmations()
    await sweep(redis_client, BOUND)
    await run_jobs()
    assert await RegistrationRequest.count().where(RegistrationRequest.notified_at.is_null()) == 0
    mine = [m["Subject"] for _, m in smtp.messages if m["Subject"].startswith("Votre demande d'inscription R26-T")]
    assert len(mine) == 20 and len(set(mine)) == 20
