"""Issue 24 point 6: the job sweep (every 30 s) and the operator's abort look up their candidate runs
on arq's queue by member (the ids each run was handed over as, then ZMSCORE of those), never reading
the whole queue — which holds thousands of entries after a 10,000-account import. Measured with the
Redis server's own command counts; what the sweep and the abort do is unchanged (tests/jobs/test_durable.py)."""

from datetime import timedelta

from arq.constants import abort_jobs_ss

from app.dates import now
from app.jobs import durable
from app.jobs import kinds as jobs
from app.jobs.worker import BOUND
from app.settings import get_settings
from app.tables.jobs import JobRun


async def _calls(redis) -> dict[str, int]:
    stats = await redis.info("commandstats")
    # Less the INFO that reads them.
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items() if name != "cmdstat_info"}


async def _sweep_counting(redis) -> tuple[dict, dict[str, int]]:
    before = await _calls(redis)
    outcome = await durable.sweep(redis, BOUND)
    after = await _calls(redis)
    return outcome, {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}


async def _fill_queue(redis, start: int, count: int) -> None:
    """``count`` other jobs waiting on the queue (as a large import's mails would)."""
    queue_name = get_settings().redis.queue_name
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(start, start + count, 5000):
            pipe.zadd(queue_name, {f"run:{900000 + j}:0": 1 for j in range(i, min(i + 5000, start + count))})
        await pipe.execute()


async def test_the_sweep_reads_its_candidates_not_the_queue(demo, redis_client, settings_env):
    settings_env(JOBS_REQUEUE_AFTER=1)
    queue_name = get_settings().redis.queue_name
    waiting = await jobs.COHORT_SYNC.submit(redis_client, 1)  # on the queue: left alone
    lost = await jobs.COHORT_SYNC.submit(redis_client, 2)  # Redis lost its job: handed over again
    await redis_client.zrem(queue_name, f"run:{lost}:0")
    await JobRun.update({JobRun.enqueued_at: now() - timedelta(minutes=5)}).where(JobRun.id.is_in([waiting, lost]))

    await _fill_queue(redis_client, 0, 1_000)
    outcome, small = await _sweep_counting(redis_client)
    assert outcome == {"enqueued": 1, "failed": 0}
    on_queue = {m.decode() for m in await redis_client.zrangebyscore(queue_name, 2, "+inf")}
    assert f"run:{waiting}:0" in on_queue and any(m.startswith(f"run:{lost}:s") for m in on_queue)

    # Twenty times the queue: the same Redis work, and never a read of the whole queue.
    await JobRun.update({JobRun.enqueued_at: now() - timedelta(minutes=5)}).where(JobRun.id.is_in([waiting, lost]))
    await redis_client.zrem(queue_name, *[m for m in on_queue if m.startswith(f"run:{lost}:")])
    await _fill_queue(redis_client, 1_000, 19_000)
    assert await redis_client.zcard(queue_name) == 20_001
    outcome, large = await _sweep_counting(redis_client)
    assert outcome == {"enqueued": 1, "failed": 0}
    assert large == small, (small, large)
    assert not {"zrange", "zrangebyscore", "zscan", "zrangestore", "sort"} & set(large), large
    # Two candidates: their hand-overs (SMEMBERS each), one ZMSCORE; the lost one handed over again
    # (arq's job key and queue entry, and its hand-over noted).
    assert large == {"smembers": 2, "zmscore": 1, "set": 1, "zadd": 1, "sadd": 1, "expire": 1}, large


async def test_the_abort_finds_the_runs_jobs_by_member(demo, redis_client):
    run_id = await jobs.COHORT_SYNC.submit(redis_client, 3)
    swept = durable.job_id(run_id, "s1")  # a second copy, handed over by a sweep
    await durable.hand_to_arq(redis_client, [{"id": run_id, "kind": "sync_cohort", "args": [3]}], "s1")
    await _fill_queue(redis_client, 0, 20_000)
    before = await _calls(redis_client)
    assert await durable.abort(redis_client, [run_id], None, "test", bound=BOUND) == 1
    after = await _calls(redis_client)
    assert after.get("zrange", 0) == before.get("zrange", 0)
    aborted = {m.decode() for m in await redis_client.zrange(abort_jobs_ss, 0, -1)}
    assert aborted == {f"run:{run_id}:0", swept}  # every copy on the queue, as arq's Job.abort() would
