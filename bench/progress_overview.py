"""« Vue d'ensemble des inscrits » on PostgreSQL: one session, 5,000 learners x 30 activities
(BENCH_SCALE=10: 20,000 x 50, issue 24).

Targets (issue 10): a page of 50, any sort or filter, <= 150 ms p95 server time and <= 60 KB of HTML;
Excel of the whole session <= 3 s, CSV <= 1 s; marking an activity done (completion + summary +
session completion) <= 20 ms p95.

Everything is measured through the app (ASGI, in process: routing, guards, scope, the queries, the
template), logged in as the establishment's GET. The data is built set-based: the learners with one
COPY, the enrolments with one statement, the completions with one INSERT … SELECT.

Run: .venv/bin/python bench/progress_overview.py   (BENCH_PROFILE=1: where the time goes instead;
BENCH_SMOKE=1: 40 learners, 2 runs a case)
"""

import os
import random
import statistics
import time

import _setup

LEARNERS = _setup.size(5_000, 40, tenfold=20_000)
ACTIVITIES = _setup.size(30, 30, tenfold=50)
RUNS = _setup.scale(30, 2)
EXPORTS, MARKS = _setup.scale((3, 200), (1, 8))  # runs of each export; cells marked or unmarked
# Above 5,000 rows the app exports in a job (the same read, shape and write): kept inline here, so that
# the bench measures that work at every scale, in the request.
os.environ.setdefault("EXPORT_INLINE_MAX_ROWS", str(max(5_000, LEARNERS)))


async def seed() -> dict:
    from datetime import date

    from app.dates import now
    from app.services import learning
    from app.services.enrolments import add_sources
    from app.tables.catalogue import SessionActivity, TrainingSession
    from app.tables.cohorts import Cohort
    from app.tables.learning import ActivityCompletion, Enrolment, SourceKind

    alp001, user_ids = await _setup.seed_learners(LEARNERS, _setup.random_names(11, syllables=30, lengths=(2, 3)))
    t = now()

    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session du 02-06-2025 au 30-06-2025_Qualité de vie au travail (QVT)",
        short_name="QVT", start_date=date(2025, 6, 2), end_date=date(2025, 6, 30), code="25C03S1",
    )).returning(TrainingSession.id))[0]["id"]
    await SessionActivity.insert(*[
        SessionActivity(session=session_id, position=i, kind="page", title=f"Module {i + 1} : la qualité de vie au travail",
                        required=i % 10 != 9)  # 27 required, 3 optional
        for i in range(ACTIVITIES)])
    await add_sources(session_id, user_ids, SourceKind.manual)
    cohort = (await Cohort.insert(Cohort(establishment=alp001, name="Cohorte IDE 2025")).returning(Cohort.id))[0]["id"]
    await add_sources(session_id, user_ids[::5], SourceKind.cohort, cohort=cohort)

    # Everyone's completions in one statement. Each learner has done the first k activities, k spread
    # so that there are some not started (k = 0), many half-way and some completed (k = ACTIVITIES):
    # on average ~60 % of the cells are done.
    await ActivityCompletion.raw(
        "INSERT INTO activity_completion (enrolment, activity, completed_at, how) "
        "SELECT e.id, a.id, CAST({} AS TIMESTAMPTZ) - ((e.id * 7919 + a.position * 104729) % 40000) * INTERVAL '1 minute', 'manual' "
        "FROM enrolment e JOIN session_activity a ON a.session = e.session "
        "WHERE e.session = {} AND a.position < LEAST({}, GREATEST(0, ((e.id * 2654435761) % {}) - 7))",
        t, session_id, ACTIVITIES, ACTIVITIES * 3 // 2,
    )
    await learning.refresh_summaries(session_id=session_id)
    # Last visits: one learner in 8 never came.
    await Enrolment.raw(
        "UPDATE enrolment SET last_visit = CAST({} AS TIMESTAMPTZ) - ((id * 48271) % 60000) * INTERVAL '1 minute' "
        "WHERE session = {} AND id % 8 <> 0", t, session_id)
    await Enrolment.raw("ANALYZE")
    return {"session": session_id, "cohort": cohort}


async def main() -> None:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line a request drowns the figures
    from app.asgi import create_app
    from app.services import learning
    from app.tables.catalogue import SessionActivity
    from app.tables.learning import ActivityCompletion, CompletionHow, Enrolment

    data = await seed_in_app_loop()
    application = create_app(run_worker=False)
    async with application.lifespan():
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=application, client=("127.0.0.1", 5000)),
                                   base_url="http://bench.local")
        await client.get("/connexion")
        r = await client.post("/connexion", data={"username": "alp001.get", "password": "Demo-2026!",
                                                  "_csrf_token": client.cookies.get("csrftoken")})
        assert r.status_code == 303, r.text
        sid = data["session"]
        enrolments = await Enrolment.count().where(Enrolment.session == sid)
        completions = await ActivityCompletion.count()
        states = await Enrolment.raw(
            "SELECT COUNT(*) FILTER (WHERE required_done = 0) AS not_started, "
            "COUNT(*) FILTER (WHERE completed_at IS NOT NULL) AS completed FROM enrolment WHERE session = {}", sid)
        print(f"{enrolments} learners x {ACTIVITIES} activities, {completions} completion rows "
              f"({states[0]['not_started']} not started, {states[0]['completed']} completed)")
        print(f"Machine shared with other agents ({_setup.load()}): figures are upper bounds.")
        _setup.check(enrolments == LEARNERS and completions, f"{LEARNERS} learners seeded: {enrolments} enrolled")
        base = f"/sessions/{sid}/progression"
        if os.environ.get("BENCH_PROFILE"):  # where the time goes, for one page and one CSV export
            import cProfile
            import pstats

            for url in (f"{base}?per_page=50&sort=-progress", f"{base}?export=csv&which=all",
                        f"{base}?export=xlsx&which=all"):
                await client.get(url)
                profile = cProfile.Profile()
                profile.enable()
                await client.get(url)
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            return
        # The sorts by progress and by last visit read the session's enrolments through their
        # indexes (migration 2026-11-23T15:40): the plan of the page's ORDER BY ... LIMIT.
        for column in ("percent", "last_visit"):
            plan = await Enrolment.raw(
                f"EXPLAIN SELECT id FROM enrolment WHERE session = {{}} AND active ORDER BY {column} DESC, id DESC "
                "LIMIT 50", sid)
            used = [r["QUERY PLAN"].strip() for r in plan if "Index" in r["QUERY PLAN"]]
            print(f"  ORDER BY {column}: {used[0] if used else 'no index: ' + plan[0]['QUERY PLAN']}")
        cases = {
            "default (sort by name), page 1": "",
            "sort -name, page 7": "sort=-name&page=7",
            "sort by progress (desc)": "sort=-progress",
            "sort by progress (asc), page 40": "sort=progress&page=40",
            "sort by last visit (desc)": "sort=-last_visit",
            "sort by last visit (asc)": "sort=last_visit",
            "name contains 'fè'": "q=fè",
            "name contains 'dupont'": "q=dupont",
            # Two letters: the last name begins with them. All those learners are together in the
            # name order, late in it for « ro »: a plan walking the session by name reads most of it.
            "name begins with 'ro' (2 letters)": "q=ro",
            f"cohort ({LEARNERS // 5:,} members)": f"cohort={data['cohort']}&sort=-progress",
            "state: not started": "state=not_started",
            "state: in progress, sort progress": "state=in_progress&sort=progress",
            "state: completed (all cells done)": "state=completed",
            "state: never visited": "state=never_visited",
            "deep page 100": "page=100",
        }
        worst_p95, worst_size, worst_work = 0.0, 0, 0.0
        work = _setup.Work()
        for label, query in cases.items():
            url = f"{base}?per_page=50&{query}"
            timings, cpu, size = [], [], 0
            for _ in range(RUNS):
                work.start()
                t0 = time.perf_counter()
                response = await client.get(url)
                timings.append((time.perf_counter() - t0) * 1000)
                cpu.append(work.stop())
                size = len(response.content)
            _setup.check(response.status_code == 200, f"{url}: HTTP {response.status_code}")
            htmx = await client.get(url, headers={"HX-Request": "true"})
            brotli = await client.get(url, headers={"Accept-Encoding": "br"})
            p95 = _setup.percentile(timings, 95)
            worst_p95, worst_size = max(worst_p95, p95), max(worst_size, size)
            worst_work = max(worst_work, _setup.percentile(cpu, 95))
            print(f"  {label}: p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms "
                  f"(CPU of the app and PostgreSQL p50 {statistics.median(cpu):.1f} ms, "
                  f"p95 {_setup.percentile(cpu, 95):.1f} ms), "
                  f"HTML {size / 1024:.1f} KB, {brotli.num_bytes_downloaded / 1024:.1f} KB sent with brotli "
                  f"(htmx region {len(htmx.content) / 1024:.1f} KB)")
        print(f"Overview page of 50: worst p95 {worst_p95:.1f} ms (target 150; CPU of the app and PostgreSQL, worst "
              f"p95 {worst_work:.1f} ms), largest page {worst_size / 1024:.1f} KB (target 60); {_setup.load()}")

        for fmt, target in (("xlsx", 3.0), ("csv", 1.0)):
            timings, cpu = [], []
            for _ in range(EXPORTS):
                t0, c0 = time.perf_counter(), time.process_time()
                response = await client.get(f"{base}?export={fmt}&which=all")
                timings.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                _setup.check(response.status_code == 200 and response.content, f"{fmt} export: HTTP {response.status_code}")
            print(f"{fmt.upper()} of the whole session ({enrolments} rows x {6 + ACTIVITIES} columns): "
                  f"best {min(timings):.2f} s, worst {max(timings):.2f} s (app CPU best {min(cpu):.2f} s), "
                  f"{len(response.content) / 1e6:.2f} MB "
                  f"(target {target:.0f} s)")

        # Marking done (and undoing) through learning.set_completion: the completion, the summary,
        # the session completion, in one transaction.
        activities = [a["id"] for a in await SessionActivity.select(SessionActivity.id).where(SessionActivity.session == sid)]
        ids = [e["id"] for e in await Enrolment.select(Enrolment.id).where(Enrolment.session == sid)]
        rng = random.Random(3)
        timings, cpu, server = [], [], []
        for n in range(MARKS):
            enrolment, activity = rng.choice(ids), rng.choice(activities)
            done = not await ActivityCompletion.exists().where(
                (ActivityCompletion.enrolment == enrolment) & (ActivityCompletion.activity == activity))
            t0, c0 = time.perf_counter(), time.process_time()
            await learning.set_completion(enrolment, activity, done, CompletionHow.manager, by=None)
            timings.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            _setup.check(done == await ActivityCompletion.exists().where(
                (ActivityCompletion.enrolment == enrolment) & (ActivityCompletion.activity == activity)),
                f"set_completion({enrolment}, {activity}, {done}) did not change the cell")
            if n % 4 == 0:  # PostgreSQL's own time for the same write, rolled back (EXPLAIN ANALYZE)
                from app import db

                statement, args = ((learning._MARK, (enrolment, activity, t0_now(), "manager", None, t0_now(), enrolment))
                                   if not done else (learning._UNMARK, (enrolment, activity, t0_now(), enrolment)))
                try:
                    async with db.transaction():
                        plan = await Enrolment.raw("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, *args)
                        raise _Rollback(plan)
                except _Rollback as rollback:
                    server.append(_plan_ms(rollback.plan))
        print(f"set_completion (mark or unmark, {MARKS} random cells, one statement): p50 {statistics.median(timings):.1f} ms, "
              f"p95 {_setup.percentile(timings, 95):.1f} ms (target 20); app CPU p50 {statistics.median(cpu):.2f} ms; "
              f"PostgreSQL execution p50 {statistics.median(server):.2f} ms, p95 {_setup.percentile(server, 95):.2f} ms")
        await client.aclose()


class _Rollback(Exception):
    def __init__(self, plan):
        super().__init__("rollback")
        self.plan = plan


def _plan_ms(plan) -> float:
    import json

    data = plan[0]["QUERY PLAN"]
    data = json.loads(data) if isinstance(data, str) else data
    return data[0]["Planning Time"] + data[0]["Execution Time"]


def t0_now():
    from app.dates import now

    return now()


async def seed_in_app_loop() -> dict:
    from app import db

    await db.open_pool()
    try:
        return await seed()
    finally:
        await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
