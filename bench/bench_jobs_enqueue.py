"""The job layer's cost per enqueue (issue 11: ≤ 2 ms added over a raw arq enqueue), and its
set-based operations at the dashboard's scale: retry of 10,000 failed runs (≤ 5 s), a sweep over
100,000 recorded runs.

    BENCH_REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/bench_jobs_enqueue.py [N]
    (BENCH_SMOKE=1: 20 enqueues, 1,000 recorded runs)

Measured: a raw ``arq`` enqueue (app.queue.enqueue: WATCH/EXISTS/MULTI, three round trips);
``JobKind.submit`` outside a transaction (INSERT … RETURNING into job_run, then one pipelined
round trip to Redis); and the outbox shape — a caller's transaction that writes a row, with the
raw enqueue after its commit versus ``submit`` inside it (the JobRun in the same transaction, the
hand-over after the commit)."""

import _setup  # noqa: F401  (sets the environment first)

import statistics
import sys
import time
from datetime import timedelta

N = int(sys.argv[1]) if len(sys.argv) > 1 else _setup.scale(2000, 20)
HISTORY, WARM = _setup.size(100_000, 1_000), _setup.scale(200, 5)  # recorded runs (a fifth failed); warm-up enqueues


def _figures(name: str, samples: list[float]) -> dict:
    ms = [s * 1000 for s in samples]
    figures = {"mean": statistics.fmean(ms), "p50": _setup.percentile(ms, 50), "p95": _setup.percentile(ms, 95)}
    print(f"  {name:<58} mean {figures['mean']:.3f} ms  p50 {figures['p50']:.3f} ms  p95 {figures['p95']:.3f} ms")
    return figures


async def main() -> None:
    from app import db, queue
    from app.dates import now
    from app.jobs import durable
    from app.jobs import kinds as jobs
    from app.jobs.worker import BOUND
    from app.settings import get_settings
    from app.tables.jobs import JobRun
    from app.tables.outbox import PlatformSetting

    await db.open_pool()
    redis = await queue.connect()
    queue_name = get_settings().redis.queue_name
    try:
        # Something for the caller's transaction to write, as a real caller would.
        row = await PlatformSetting.insert(PlatformSetting(key="bench", value="0")).returning(PlatformSetting.id)
        row_id = row[0]["id"]
        print(f"job layer cost per enqueue, {N} each (PostgreSQL + Redis on localhost)")
        for _ in range(WARM):  # warm the pools
            await queue.enqueue(redis, "sync_cohort", 0, _job_id=f"warm:{_}")
            await jobs.COHORT_SYNC.submit(redis, 0)

        # The four shapes in turn at each iteration: a shared machine's load drifts over seconds,
        # and so would a comparison of runs made one after the other.
        raw, submit, tx_raw, tx_submit = [], [], [], []
        for i in range(N):
            t = time.perf_counter()
            await queue.enqueue(redis, "sync_cohort", i, _job_id=f"raw:{i}")
            raw.append(time.perf_counter() - t)

            t = time.perf_counter()
            await jobs.COHORT_SYNC.submit(redis, i)
            submit.append(time.perf_counter() - t)

            t = time.perf_counter()
            async with db.transaction():
                await PlatformSetting.update({PlatformSetting.value: str(i)}).where(PlatformSetting.id == row_id)
            await queue.enqueue(redis, "sync_cohort", i, _job_id=f"txraw:{i}")
            tx_raw.append(time.perf_counter() - t)

            t = time.perf_counter()
            async with db.transaction():
                await PlatformSetting.update({PlatformSetting.value: str(i)}).where(PlatformSetting.id == row_id)
                await jobs.COHORT_SYNC.submit(redis, i)
            tx_submit.append(time.perf_counter() - t)

        r = _figures("raw arq enqueue (app.queue.enqueue)", raw)
        s = _figures("JobKind.submit, no transaction (INSERT+commit, 1 pipeline)", submit)
        tr = _figures("caller's transaction, then raw enqueue after commit", tx_raw)
        ts = _figures("caller's transaction with submit (outbox), enqueue after", tx_submit)
        print(f"  added per enqueue in a caller's transaction (the outbox case): mean {ts['mean'] - tr['mean']:+.3f} ms, "
              f"p50 {ts['p50'] - tr['p50']:+.3f} ms — target ≤ 2 ms")
        print(f"  added alone (submit outside any transaction pays its own commit): mean {s['mean'] - r['mean']:+.3f} ms,"
              f" p50 {s['p50'] - r['p50']:+.3f} ms")

        # The dashboard's scale: 100,000 recorded runs of which 20,000 failed; retry half of those.
        await JobRun.delete().where(JobRun.id > 0)
        await redis.delete(queue_name)
        t0 = now()
        await JobRun.raw(
            "INSERT INTO job_run (kind, job_key, args, status, tries, max_tries, enqueued_at, started_at, finished_at, "
            "worker, result, error, created_at) SELECT 'sync_cohort', 'bench:' || g, '[' || g || ']', "
            "CASE WHEN g % 5 = 0 THEN 'failed' ELSE 'succeeded' END, 1, 3, {} , {}, {}, 'bench', '', "
            "CASE WHEN g % 5 = 0 THEN 'Traceback: RuntimeError' ELSE '' END, {} FROM generate_series(1, {}) g",
            t0 - timedelta(hours=1), t0 - timedelta(hours=1), t0 - timedelta(minutes=59), t0 - timedelta(hours=1), HISTORY)
        await JobRun.raw("ANALYZE job_run")
        failed = [r["id"] for r in await JobRun.select(JobRun.id).where(JobRun.status == "failed").limit(HISTORY // 10)]
        t = time.perf_counter()
        retried = await durable.retry(redis, failed, None, "bench", BOUND)
        elapsed = time.perf_counter() - t
        print(f"retry of {retried} failed runs (update, JobActions, dispatch in pipelines): {elapsed:.2f} s "
              "— target ≤ 5 s")
        _setup.check(retried == len(failed) == HISTORY // 10, f"{len(failed)} failed runs retried: {retried}")
        _setup.check(await redis.zcard(queue_name) == retried, "the retried runs are not all on arq's queue")

        # The sweep with 100,000 rows of history and 10,000 runs waiting on the queue already.
        await JobRun.update({JobRun.enqueued_at: t0 - timedelta(hours=1)}).where(JobRun.status == "queued")
        t = time.perf_counter()
        swept = await durable.sweep(redis, BOUND)
        print(f"sweep over {HISTORY:,} runs, {retried:,} waiting (all on arq's queue): {(time.perf_counter() - t) * 1000:.0f} ms"
              f" → {swept}")
        await redis.delete(queue_name)
        t = time.perf_counter()
        swept = await durable.sweep(redis, BOUND)
        print(f"sweep, the same {retried:,} lost by Redis: {(time.perf_counter() - t) * 1000:.0f} ms → {swept}")
        _setup.check(0 < swept["enqueued"] <= retried, f"the sweep handed {swept['enqueued']} of {retried} lost runs back")
        t = time.perf_counter()
        purged = await durable.purge(timedelta(minutes=30))
        _setup.check(purged == HISTORY - retried, f"purged {purged} finished runs of {HISTORY - retried}")
        print(f"purge (one DELETE) of {purged} finished runs: {(time.perf_counter() - t) * 1000:.0f} ms")
    finally:
        # The bench's own jobs only (never run: no result keys); use a Redis database of your own.
        for pattern in ("arq:job:raw:*", "arq:job:txraw:*", "arq:job:warm:*", "arq:job:run:*"):
            keys = [k async for k in redis.scan_iter(match=pattern, count=1000)]
            for start in range(0, len(keys), 1000):
                await redis.delete(*keys[start:start + 1000])
        await redis.delete(queue_name)
        await redis.aclose()
        await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
