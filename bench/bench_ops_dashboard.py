"""The operations dashboard with 100,000 recorded job runs of which 20,000 failed (issue 11):
every page (target <= 200 ms server time) and the retry of 10,000 failed runs (target <= 5 s).

The runs are spread over 30 days and 8 kinds, bulk-inserted (COPY). Each page is fetched through the
app (ASGI, an administrator's session) RUNS times; the figures are p50 / p95 / max. The retry is
one retry-all of a filter matching 10,000 failed runs: the UPDATE … RETURNING, a JobAction per run, and
the 10,000 arq jobs written to Redis (counted in the queue afterwards) — app/jobs/durable.py ``retry``.

Run: .venv/bin/python bench/bench_ops_dashboard.py   (BENCH_RUNS=20 by default; BENCH_VACUUM=0 skips the
VACUUM ANALYZE after the seed, as right after a bulk insert; BENCH_SMOKE=1: 400 runs, one request a page)
"""

import os
import random
import time
from datetime import timedelta

import _setup

N = _setup.size(100_000, 400)
FAILED = N // 5
RUNS = int(os.environ.get("BENCH_RUNS", _setup.scale(20, 1)))
KINDS = ["send_mail", "send_mail_group", "export_table", "import_accounts", "import_session_content", "sync_cohort",
         "send_request_notifications", "build_certificates_zip"]


async def seed() -> None:
    from app.bulk import bulk_insert
    from app.dates import now
    from app.demo import load_demo
    from app.tables.jobs import JobRun

    await load_demo(with_sessions=False)
    rng = random.Random(11)
    at = now()
    failed = set(rng.sample(range(N), FAILED))
    columns = [JobRun.kind, JobRun.job_key, JobRun.args, JobRun.status, JobRun.tries, JobRun.max_tries,
               JobRun.enqueued_at, JobRun.started_at, JobRun.finished_at, JobRun.worker, JobRun.result, JobRun.error,
               JobRun.created_at, JobRun.run_at]
    rows = []
    for i in range(N):
        kind = KINDS[i % len(KINDS)]
        created = at - timedelta(seconds=rng.randint(0, 30 * 86400))
        started = created + timedelta(seconds=rng.random() * 2)
        finished = started + timedelta(seconds=rng.expovariate(1 / 3))
        if i in failed:
            status, error = "failed", ("Traceback (most recent call last):\n  File \"/srv/app/jobs/x.py\", line 12\n"
                                       f"ConnectionError: SMTP refused (run {i})")
        elif i % 1000 == 1:
            status, error, finished = "running", "", None
        elif i % 1000 == 2:
            status, error, started, finished = "queued", "", None, None
        else:
            status, error = "succeeded", ""
        rows.append((kind, f"{kind}:{i}", f"[{i}]", status, 3 if status == "failed" else 1, 3, created, started,
                     finished, "host:1" if started else "", "", error, created, None))
    t = time.perf_counter()
    await bulk_insert(JobRun, columns, rows)
    print(f"seed: {N:,} runs ({FAILED:,} failed) in {time.perf_counter() - t:.1f} s")
    # A history written over 30 days has been vacuumed by autovacuum (the visibility map lets the
    # per-kind figures read the index alone); right after a bulk insert it has not.
    if os.environ.get("BENCH_VACUUM", "1") == "1":
        import asyncpg

        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            await conn.execute("VACUUM ANALYZE job_run")
        finally:
            await conn.close()
    else:
        await JobRun.raw("ANALYZE job_run")


async def main() -> None:
    import httpx

    from app.asgi import create_app
    from app.tables.jobs import JobRun
    from tests.helpers import login

    await seed()
    application = create_app()
    async with application.lifespan():
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
            await login(client, "admin")
            some_failed = (await JobRun.select(JobRun.id).where(JobRun.status == "failed").first())["id"]
            pages = {
                # The machine is shared: a small page of the app, for comparison.
                "référence : page d'accueil /": "/",
                "vue d'ensemble /ops": "/ops",
                "vue d'ensemble (htmx, 5 s)": ("/ops", {"HX-Request": "true"}),
                "jobs en échec": "/ops/jobs?status=failed",
                "jobs en échec, page 40": "/ops/jobs?status=failed&page=40",
                "jobs en échec, dernière page": "/ops/jobs?status=failed&page=-1",
                "échecs d'un type + date": "/ops/jobs?status=failed&kind=send_mail&since=2000-01-01",
                "échecs triés par fin": "/ops/jobs?status=failed&sort=-finished_at",
                "tous les jobs": "/ops/jobs",
                "un job": f"/ops/jobs/{some_failed}",
                "confirmation relance (compte)": "/ops/jobs/relancer?status=failed",
                "historique des actions": "/ops/actions",
                "métriques": "/ops/metrics",
            }
            # Where the overview's time goes (server side, no HTTP).
            from app.dates import now as clock
            from app.services import ops as ops_service

            redis = application.state.redis
            parts = {
                "overview: counts by status": ops_service._run_counts,
                "overview: failures 1 h / 24 h": lambda: JobRun.count().where(
                    (JobRun.status == "failed") & (JobRun.finished_at >= clock() - timedelta(days=1))),
                "overview: workers seen": lambda: ops_service._workers_seen(clock()),
                "overview: cron jobs": lambda: ops_service.crons(redis, clock()),
                "overview: mail outbox": lambda: ops_service.mail_summary(clock()),
                "per kind: p50/p95 24 h + 30 d": ops_service.kind_stats,
                "overview (all of it)": lambda: ops_service.overview(redis),
            }
            print(f"\n{'part':34} {'p50':>8} {'p95':>8}   (ms)")
            for name, call in parts.items():
                timings = []
                for _ in range(max(5, RUNS // 2)):
                    t = time.perf_counter()
                    await call()
                    timings.append((time.perf_counter() - t) * 1000)
                print(f"{name:34} {_setup.percentile(timings, 50):8.1f} {_setup.percentile(timings, 95):8.1f}")

            print(f"\n{'page':34} {'p50':>8} {'p95':>8} {'max':>8}   (ms, {RUNS} runs)")
            for name, page in pages.items():
                path, headers = page if isinstance(page, tuple) else (page, {})
                timings = []
                for _ in range(RUNS):
                    t = time.perf_counter()
                    response = await client.get(path, headers=headers)
                    timings.append((time.perf_counter() - t) * 1000)
                    _setup.check(response.status_code == 200, f"{path}: HTTP {response.status_code}")
                print(f"{name:34} {_setup.percentile(timings, 50):8.1f} {_setup.percentile(timings, 95):8.1f} "
                      f"{max(timings):8.1f}")

            # Retry of 10,000 failed runs: half the failures, by kind (4 kinds of 8 -> ~10,000).
            from app.services import ops
            from app.settings import get_settings

            redis = application.state.redis
            await redis.delete(get_settings().redis.queue_name)
            target = KINDS[:4]
            t = time.perf_counter()
            clauses = [JobRun.kind.is_in(target), ops.retryable()]
            done = await ops.retry_matching(redis, clauses, None, "bench")
            elapsed = time.perf_counter() - t
            queued = await redis.zcard(get_settings().redis.queue_name)
            _setup.check(0 < done == queued, f"retry of the failed runs of {target}: {done} retried, {queued} queued")
            print(f"\nretry of {done:,} failed runs (the job layer's retry: UPDATE … RETURNING, a JobAction per run, "
                  f"{queued:,} arq jobs in Redis): "
                  f"{elapsed:.2f} s")
            # The same through the page (confirmation count + POST), on the other half.
            from tests.helpers import post_form

            t = time.perf_counter()
            response = await post_form(client, "/ops/jobs/relancer", {"status": "failed"})
            elapsed = time.perf_counter() - t
            print(f"retry-all through POST /ops/jobs/relancer (status=failed, the other ~10,000): {elapsed:.2f} s "
                  f"(HTTP {response.status_code})")
            _setup.check(response.status_code == 303, f"POST /ops/jobs/relancer: HTTP {response.status_code}")
            await redis.delete(get_settings().redis.queue_name)
            stale = [k async for k in redis.scan_iter(match="arq:job:run:*", count=5000)]
            for i in range(0, len(stale), 5000):
                await redis.delete(*stale[i:i + 5000])


if __name__ == "__main__":
    _setup.run(main)
