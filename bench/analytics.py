"""« TdB des analytics » on PostgreSQL: 100,000 users, 2,000 sessions, 300,000 enrolments and
1,000,000 activity completions (then 100,000), all built set-based with generate_series.

Measures, through the real app (ASGI, login, template, Redis):
- the dashboard for an admin, cold (cache emptied) and cached, for several filters;
- the dashboard of a GET of two establishments, cold;
- the HTML size of the page with its four charts and tables;
- the Excel of the whole dashboard;
- where the cold time goes (COPY into polars vs asyncpg fetch + DataFrame, polars, labels).

Targets (issue 13): admin ≤ 1 s cold, ≤ 100 ms cached; GET ≤ 300 ms cold; ≤ 60 KB HTML; Excel ≤ 3 s.
At BENCH_SCALE=10 (issue 24: 1,000,000 users, 20,000 sessions, 3,000,000 enrolments, 10,000,000 completion
rows): admin ≤ 1.5 s cold, ≤ 50 ms cached; GET of two establishments ≤ 300 ms cold; the second pass
(a tenth of the completions) is left out unless BENCH_SECOND=1.
Run: BENCH_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/analytics.py
The dashboard reads its rollup (app/services/analytics_rollup.py) except with a period; BENCH_BEFORE=1 adds
every case computed from the enrolments (the path before the rollup), for comparison.
BENCH_KEEP_DB=tremplin_bench_analytics10 keeps the seeded database for the next run (bench/_setup.py).
(BENCH_SMOKE=1: 500 users, 40 sessions, 1,000 completions, one or two runs a case)
"""

import os
import statistics
import time

import _setup

USERS, SESSIONS, COMPLETIONS = _setup.size((100_000, 2_000, 1_000_000), (500, 40, 1_000))  # ~3 enrolments a user
COLD, CACHED, GET_COLD, EXCEL = _setup.scale((5, 20, 7, 3), (1, 2, 1, 1))  # runs of each case
ESTABLISHMENTS = 50  # the 4 of the demo and 46 more
ACTIVITIES = 5  # per session
SECOND_PASS = _setup.SCALE == 1 or os.environ.get("BENCH_SECOND") == "1"
BEFORE = os.environ.get("BENCH_BEFORE") == "1"  # also every case computed from the enrolments, as before the rollup


SEED = [
    # establishments across the two delegations
    f"""INSERT INTO establishment (code, name, delegation, search_text)
        SELECT 'B' || lpad(g::text, 3, '0'), 'Établissement ' || g, (SELECT id FROM delegation ORDER BY id LIMIT 1 OFFSET g % 2), ''
        FROM generate_series(1, {ESTABLISHMENTS - 4}) g""",
    """INSERT INTO course_template (code, title, short_name, objectives, duration, certificate_text, progress_block,
                                    discussion_block, visible, search_text, created_at)
        SELECT 'M' || lpad(g::text, 2, '0'), 'Cours modèle ' || g, 'CM' || g, '', '', '', true, true, true, '', now()
        FROM generate_series(1, 30) g""",
    f"""INSERT INTO app_user (username, password_hash, first_name, last_name, email, establishment, status, matricule,
                              is_suspended, force_password_change, search_text, last_name_key, first_name_key, created_at)
        SELECT 'bench.' || g, 'x', 'Prénom' || g, 'Nom' || g, 'agent' || g || '@example.org',
               (SELECT array_agg(id ORDER BY id) FROM establishment)[1 + g % {ESTABLISHMENTS}], '', '', false, false,
               'prenom' || g || ' nom' || g, 'nom' || g, 'prenom' || g, now()
        FROM generate_series(1, {USERS}) g""",
    f"""INSERT INTO training_session (establishment, template, full_name, short_name, visible, start_date, end_date,
                                      id_number, code, certificate_text, progress_block, discussion_block, search_text, created_at)
        SELECT (SELECT array_agg(id ORDER BY id) FROM establishment)[1 + g % {ESTABLISHMENTS}],
               (SELECT array_agg(id ORDER BY id) FROM course_template)[1 + g % 30],
               'Session ' || g, 'S' || g, true, date '2024-01-01' + (g % 700), date '2024-01-01' + (g % 700) + 30,
               '', 'B' || g, '', false, false, 's' || g, now()
        FROM generate_series(1, {SESSIONS}) g""",
    f"""INSERT INTO session_activity (session, position, kind, title, content, required)
        SELECT s.id, p, 'page', 'Activité ' || p, '', true FROM training_session s, generate_series(0, {ACTIVITIES - 1}) p""",
    # Three sessions per person, of their own establishment's sessions (so a GET's share is realistic).
    # The session's rank is computed first and joined on (establishment, rank): joined on the
    # establishment alone, then filtered, it met every user with each of its establishment's sessions
    # (1.2 billion pairs at BENCH_SCALE=10, a seed of hours).
    # MATERIALIZED: inlined, the planner (statistics of empty tables) joined on the establishment first again.
    f"""WITH ses AS MATERIALIZED (SELECT id, establishment, row_number() OVER (PARTITION BY establishment ORDER BY id) - 1 AS n
                     FROM training_session),
        per AS (SELECT establishment, count(*) AS m FROM training_session GROUP BY establishment),
        want AS MATERIALIZED (SELECT u.id AS uid, u.establishment, k, (u.id * 7 + k * 13) % per.m AS n
                 FROM app_user u JOIN per ON per.establishment = u.establishment CROSS JOIN generate_series(0, 2) k
                 WHERE u.username LIKE 'bench.%%'),
        pick AS (SELECT w.uid, s.id AS sid, w.k FROM want w JOIN ses s ON s.establishment = w.establishment AND s.n = w.n)
        INSERT INTO enrolment (session, "user", role, active, enrolled_at, required_done, required_total, percent,
                               last_visit, completed_at)
        SELECT sid, uid, 'learner', true, timestamptz '2024-01-01' + ((uid * 31 + k * 17) % 700) * interval '1 day',
               0, {ACTIVITIES}, 0, NULL, NULL FROM pick ON CONFLICT DO NOTHING""",
    # Completions: the first n activities of each enrolment, n from 0 to 5, 1,000,000 rows in all.
    f"""INSERT INTO activity_completion (enrolment, activity, completed_at, how)
        SELECT e.id, a.id, e.enrolled_at + (a.position + 1) * ((e.id % 40) + 1) * interval '6 hours', 'manual'
        FROM enrolment e JOIN session_activity a ON a.session = e.session
        WHERE a.position < LEAST({ACTIVITIES}, (e.id * 37) % 9) ORDER BY e.id, a.position LIMIT {COMPLETIONS}""",
]
SUMMARY = [
    f"""UPDATE enrolment e SET required_done = c.n, percent = c.n * 100 / {ACTIVITIES},
            completed_at = CASE WHEN c.n = {ACTIVITIES} THEN c.last END, last_visit = c.last
        FROM (SELECT enrolment, count(*) AS n, max(completed_at) AS last FROM activity_completion GROUP BY enrolment) c
        WHERE c.enrolment = e.id""",
    # NOT EXISTS (an anti-join), not NOT IN: 3,000,000 ids do not fit a hashed subplan in work_mem,
    # and NOT IN then scans the list once per enrolment (quadratic).
    "UPDATE enrolment e SET required_done = 0, percent = 0, completed_at = NULL, last_visit = NULL "
    "WHERE (e.required_done <> 0 OR e.last_visit IS NOT NULL) "
    "AND NOT EXISTS (SELECT 1 FROM activity_completion c WHERE c.enrolment = e.id)",
    "VACUUM ANALYZE",
]


async def sql(statement: str, seeding: bool = False) -> None:
    from app import db

    async with db.engine().pool.acquire() as conn:
        if seeding:
            # The foreign keys' triggers off while seeding (rows generated from the tables they point
            # to): at BENCH_SCALE=10 checking them row by row (3,000,000 enrolments, 10,000,000
            # completions, each locking its parents) was most of the seed, tens of minutes.
            await conn.execute("SET session_replication_role = replica")
        try:
            await conn.execute(statement)
        finally:
            if seeding:
                await conn.execute("RESET session_replication_role")


async def counts() -> str:
    from app import db

    async with db.engine().pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM app_user) u, (SELECT count(*) FROM training_session) s, "
            "(SELECT count(*) FROM enrolment) e, (SELECT count(*) FROM activity_completion) c, "
            "(SELECT count(*) FROM enrolment WHERE completed_at IS NOT NULL) done")
    return (f"{row['u']:,} users, {row['s']:,} sessions, {row['e']:,} enrolments ({row['done']:,} completed), "
            f"{row['c']:,} completion rows")


def ms(values):
    return f"p50 {statistics.median(values):.0f} ms (min {min(values):.0f}, max {max(values):.0f}, n={len(values)})"


WORK: dict[str, list[float]] = {}  # path, cold or cached -> CPU of the app and PostgreSQL a request, ms


def cpu(client, path, cold) -> str:
    values = WORK[f"{id(client)} {path} {cold}"]
    return f"CPU app+PG p50 {statistics.median(values):.0f} ms, max {max(values):.0f}"


async def measure(client, redis, path, runs, cold=True):
    timings, body, work = [], None, _setup.Work()
    for _ in range(runs):
        if cold:
            keys = [k async for k in redis.scan_iter("analytics:*")]
            if keys:
                await redis.delete(*keys)
        work.start()
        t0 = time.perf_counter()
        response = await client.get(path)
        timings.append((time.perf_counter() - t0) * 1000)
        WORK.setdefault(f"{id(client)} {path} {cold}", []).append(work.stop())
        _setup.check(response.status_code == 200, f"{path}: HTTP {response.status_code} {response.text[:300]}")
        body = response
    return timings, body


async def rebuild_rollup(everything: bool):
    """The seed wrote with the triggers off (replica): every session noted, and the rollup made from
    every enrolment (what the first refresh after the migration does). A kept database: what is noted."""
    from app.services import analytics_rollup

    if everything or os.environ.get("BENCH_REBUILD") == "1":
        await analytics_rollup.mark_everything()
    work = _setup.Work()
    work.start()
    t0 = time.perf_counter()
    n = await analytics_rollup.refresh()
    print(f"Rollup made for {n:,} sessions in {time.perf_counter() - t0:.1f} s wall, CPU app+PG "
          f"{work.stop() / 1000:.1f} s  ({_setup.load()})")


async def dirty(count):
    """``count`` enrolments' attended minutes changed, spread over the sessions: the next cold
    dashboard refreshes their sessions first."""
    await sql(f"UPDATE enrolment SET attended_minutes = attended_minutes + 1 WHERE id IN "
              f"(SELECT id FROM enrolment WHERE active ORDER BY random() LIMIT {count})")


async def breakdown(scope, label, enrolments=True):
    """Where the cold time goes, and COPY→polars against fetch→DataFrame."""
    import polars as pl

    from app import db
    from app.services import analytics, analytics_rollup
    from app.settings import get_settings

    f = analytics.Filters()
    copy_t, fetch_t, compute_t, label_t = [], [], [], []
    for _ in range(5 if enrolments else 0):  # the enrolments' path: seconds a run at 10x (BENCH_BEFORE=1)
        t0 = time.perf_counter()
        frame, dims = await analytics.fetch_frame(scope, f)
        copy_t.append((time.perf_counter() - t0) * 1000)
        sql_text, _ = analytics._grouped_sql(scope, f)
        t0 = time.perf_counter()
        async with db.engine().pool.acquire() as conn:
            records = await conn.fetch(sql_text)
        pl.DataFrame([tuple(r) for r in records], schema=analytics.GROUPED, orient="row")
        fetch_t.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        result = analytics.compute(frame, dims, get_settings().timezone)
        compute_t.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await analytics._labels(result)
        label_t.append((time.perf_counter() - t0) * 1000)
    rollup_t, rollup_c = [], []
    dims_sql, dims_args = analytics._sessions_sql(scope, f)
    dims_rows = await analytics.Enrolment.raw(dims_sql, *dims_args)
    dims = pl.DataFrame(dims_rows, schema=analytics.DIMS, orient="row")
    for _ in range(5):
        t0 = time.perf_counter()
        sessions, parts = await analytics_rollup.fetch(scope, f, *analytics.session_ids_sql(scope, f))
        rollup_t.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        analytics_rollup.compute(sessions, parts, dims, analytics._measures, analytics._rates, analytics.TABLES)
        rollup_c.append((time.perf_counter() - t0) * 1000)
    print(f"  {label}, rollup: {sessions.height:,} session rows + {parts.height:,} sums read in "
          f"{statistics.median(rollup_t):.0f} ms; polars {statistics.median(rollup_c):.0f} ms")
    if not enrolments:
        return
    print(f"  {label}: {frame.height:,} rows (the enrolments summed) — COPY→polars {statistics.median(copy_t):.0f} ms; "
          f"asyncpg fetch→DataFrame {statistics.median(fetch_t):.0f} ms; polars aggregates "
          f"{statistics.median(compute_t):.0f} ms; labels {statistics.median(label_t):.0f} ms")


async def run_cases(client_admin, client_get, redis, admin_scope, get_scope, est_id, template_id):
    cases = [
        ("admin, no filter", "/analytique"),
        ("admin, one establishment", f"/analytique?establishment={est_id}"),
        ("admin, one template", f"/analytique?template={template_id}"),
        ("admin, period 2024-06-01..2024-12-31", "/analytique?start=2024-06-01&end=2024-12-31"),
    ]
    WORK.clear()
    for label, path in cases:
        cold, _ = await measure(client_admin, redis, path, COLD)
        cached, page = await measure(client_admin, redis, path, CACHED, cold=False)
        print(f"  {label}: cold {ms(cold)} [{cpu(client_admin, path, True)}]; "
              f"cached {ms(cached)} [{cpu(client_admin, path, False)}]  ({_setup.load()})")
    from app.services import analytics_rollup

    for count in (10, 100):
        timings, refreshed, work = [], [], _setup.Work()
        for _ in range(min(COLD, 3)):
            await dirty(count)
            work.start()
            t0 = time.perf_counter()
            sessions = await analytics_rollup.refresh()
            refreshed.append(((time.perf_counter() - t0) * 1000, work.stop(), sessions))
            t, _ = await measure(client_admin, redis, "/analytique", 1)
            timings += t
        print(f"  admin, no filter, after {count:,} enrolments changed: the refresh of their ~{refreshed[0][2]:,} sessions "
              f"p50 {statistics.median(r[0] for r in refreshed):.0f} ms [CPU app+PG p50 "
              f"{statistics.median(r[1] for r in refreshed):.0f} ms], then cold {ms(timings)}  ({_setup.load()})")
    cold, page = await measure(client_get, redis, "/analytique", GET_COLD)
    print(f"  GET of two establishments, no filter: cold {ms(cold)} [{cpu(client_get, '/analytique', True)}]  ({_setup.load()})")
    cached, _ = await measure(client_get, redis, "/analytique", CACHED, cold=False)
    print(f"  GET of two establishments, cached {ms(cached)}")
    _, page = await measure(client_admin, redis, "/analytique", 1)
    charts = page.text.count("<svg ")
    _setup.check(charts > 0, "the admin's dashboard shows no chart")
    print(f"  admin page: {len(page.content) / 1024:.1f} KB of HTML ({charts} SVG: stacked bar, bar, line, "
          f"2 sparklines; 5 tables of ≤ 15 rows + months)")
    for cached_first in (False, True):
        timings, response = await measure(client_admin, redis, "/analytique?export=xlsx", EXCEL, cold=not cached_first)
        _setup.check(response.content.startswith(b"PK"), "the dashboard's Excel is not an xlsx file")
        print(f"  Excel of the whole dashboard ({'figures cached' if cached_first else 'cold'}): {ms(timings)}, "
              f"{len(response.content) / 1024:.0f} KB")
    await breakdown(admin_scope, "admin", BEFORE)
    await breakdown(get_scope, "GET of two establishments", BEFORE)


async def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)

    from app import db
    from app.demo import load_demo
    from app.services.auth import load_current_user
    from app.services.scope import establishment_scope
    from app.tables.accounts import User
    from app.tables.catalogue import CourseTemplate
    from app.tables.org import Establishment
    from tests.helpers import login

    await db.open_pool()
    t0 = time.perf_counter()
    reused = await _setup.seeded("activity_completion", "true")
    if not reused:
        await load_demo(with_sessions=False)
        async with _setup.indexes_dropped("app_user", "enrolment", "activity_completion"):
            for statement in SEED + SUMMARY[:-1]:
                await sql(statement, seeding=True)
        await sql(SUMMARY[-1])  # VACUUM ANALYZE, the indexes made again
    async with db.engine().pool.acquire() as conn:
        load = (await conn.fetchval("SELECT 1"), open("/proc/loadavg").read().split()[:3])[1]
    print(f"(machine: {os.cpu_count()} cores, load average {' '.join(load)} — shared with other work)")
    print(("Reused the kept database " + _setup.DB_NAME if reused else f"Seeded in {time.perf_counter() - t0:.0f} s")
          + f": {await counts()}")
    await rebuild_rollup(everything=not reused)

    async with _setup.serving() as (application, client_of):
        redis = application.state.redis
        async with client_of() as admin_c, client_of() as get_c:
            await login(admin_c, "admin")
            await login(get_c, "alp001.get")
            admin = await load_current_user((await User.select(User.id).where(User.username == "admin").first())["id"])
            get = await load_current_user((await User.select(User.id).where(User.username == "alp001.get").first())["id"])
            admin_scope, get_scope = await establishment_scope(admin), await establishment_scope(get)
            est_id = (await Establishment.select(Establishment.id).where(Establishment.code == "B010").first())["id"]
            template_id = (await CourseTemplate.select(CourseTemplate.id).where(CourseTemplate.code == "M07").first())["id"]

            print(f"\n== {COMPLETIONS:,} completion rows ==")
            async with db.engine().pool.acquire() as conn:  # the seed's LIMIT finds a few rows fewer at 10x
                rows = await conn.fetchval("SELECT count(*) FROM activity_completion")
            _setup.check(COMPLETIONS * 0.999 <= rows <= COMPLETIONS, await counts())
            await run_cases(admin_c, get_c, redis, admin_scope, get_scope, est_id, template_id)
            if BEFORE:
                from app.services import analytics_rollup

                usable, analytics_rollup.usable = analytics_rollup.usable, lambda f: False
                print("\n== the same, computed from the enrolments (as before the rollup: BENCH_BEFORE=1) ==")
                await run_cases(admin_c, get_c, redis, admin_scope, get_scope, est_id, template_id)
                analytics_rollup.usable = usable

            if SECOND_PASS and _setup.KEEP_DB:
                print("(second pass left out: it deletes completions of the kept database)")
            elif SECOND_PASS:
                # The same data with a tenth of the completion rows: the summaries recomputed from what is left.
                await sql(f"DELETE FROM activity_completion WHERE id > {COMPLETIONS // 10}")
                for statement in SUMMARY:
                    await sql(statement)
                print(f"\n== {COMPLETIONS // 10:,} completion rows == ({await counts()})")
                await run_cases(admin_c, get_c, redis, admin_scope, get_scope, est_id, template_id)
        keys = [k async for k in redis.scan_iter("analytics:*")]
        if keys:
            await redis.delete(*keys)
    await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
