"""The surveys' cron in production shape (issue 23): a separate `tremplin worker` process runs the
cron's function (enqueued by its arq name, as the scheduler does at minute 3, 13, …), which makes
the invitations and queues their mails, and sends them through the outbox; run again, it mails
nobody twice."""

import json

from arq import create_pool

from app.queue import arq_redis_settings
from app.settings import get_settings
from tests import processes
from tests.surveys_helpers import survey_session, username


async def test_the_survey_cron_mails_from_a_worker_process(clean, smtp):
    built, _ = await survey_session(learners=2)
    queue = get_settings().redis.queue_name
    worker, log = processes.start(processes.WORKER, "tremplin-survey-worker.log")
    pool = await create_pool(arq_redis_settings())

    async def run_cron(job_id: str) -> dict:
        """Enqueue the cron's function and wait for the note of its run (arq keeps no cron result)."""
        await pool.hdel(f"{queue}:cron", "cron:send_survey_mails")
        await pool.enqueue_job("cron:send_survey_mails", _job_id=job_id, _queue_name=queue)

        async def noted():
            return await pool.hget(f"{queue}:cron", "cron:send_survey_mails")

        note = json.loads(await processes.until(noted, f"the survey cron {job_id}", "tremplin-survey-worker.log"))
        assert note["ok"], note
        return json.loads(note["detail"])

    try:
        first = await run_cron("survey-cron-1")
        assert first == {"created": 2, "invited": 2, "reminded": 0, "financers_reminded": 0}

        async def mailed():
            return len(smtp.messages) >= 2

        await processes.until(mailed, "the survey mails", "tremplin-survey-worker.log")
        second = await run_cron("survey-cron-2")
        assert second == {"created": 0, "invited": 0, "reminded": 0, "financers_reminded": 0}
    finally:
        await pool.aclose()
        processes.stop(worker, log)
    expected = sorted([f"{await username(u)}@example.org" for u in built.learners])
    assert sorted(to for tos, _ in smtp.messages for to in tos) == expected
    assert all("Votre avis sur la formation" in m["Subject"] for _, m in smtp.messages)
