"""The analytics dashboard from its rollup (PostgreSQL; app/tables/analytics.py): at 3,000,000
enrolments any reading of the enrolments takes seconds on a small host, so what the dashboard sums
is kept per session — its counts and its times to complete per audience (``analytics_session``), and
per establishment, template and audience the enrolments and completions per month and the times to
complete to the second (``analytics_part_sum``). A cold dashboard reads those (tens of thousands of
rows) and gives exactly the figures the enrolments give (tests/services/test_analytics_rollup.py).

Correct after any write: the database's triggers note the sessions a write touches in
``analytics_dirty`` (migration 2026-12-07T09:00); ``refresh`` recomputes those sessions' rows from
their enrolments — set-based, a few statements whatever their number — before the rollup is read,
so the figures computed include every committed write. One refresh at a time (an advisory lock);
the notes are taken before the enrolments are read, so a write committed meanwhile stays noted for
the next one.

Read from the rollup: the dashboard without a period and without a session code (the
administrators' default, an establishment's, a template's, a GET's scope, an audience). A period
(dates of enrolment) or one session's code reads the enrolments as before (app/services/analytics.py).
"""

from __future__ import annotations

import re

import polars as pl

from app import db
from app.settings import get_settings

LOCK = 7_240_001  # pg_advisory_xact_lock: one refresh at a time
ENROLLED, COMPLETED, SECONDS = 0, 1, 2  # analytics_part.kind
AUDIENCE = {"": 0, "agents": 1, "external": 2}
# The enrolment's columns the dashboard reads, which the triggers watch (the migration keeps its own copy).
WATCHED = ("session", "user", "active", "enrolled_at", "completed_at", "last_visit", "required_done",
           "attended_minutes")
TIMEZONE_KEY = "analytics_rollup_timezone"  # platform_setting: the months' time zone of the rollup


def usable(f) -> bool:
    """Whether the dashboard of filters ``f`` is read from the rollup."""
    return not db.is_sqlite() and not (f.start or f.end or f.session)


# One row per active enrolment of the dirty sessions, as the dashboard's query reads it (the epochs
# rounded to the second as it does: a month is the rounded instant's, local time). The enrolments
# of a few sessions come from the covering index enrolment_analytics (an index-only scan: a session's
# enrolments are scattered over the table), an external trainee from the small hashed set of them
# (joined, the planner hashed the 1,000,000 accounts: a second); the session's establishment and
# template are joined to the sums.
FACTS = """CREATE TEMP TABLE analytics_facts ON COMMIT DROP AS
SELECT e.session, e."user" IN (SELECT u.id FROM app_user u WHERE u.external) AS external,
       x.enrolled, x.completed,
       CASE WHEN e.last_visit IS NOT NULL OR e.required_done > 0 THEN 1 ELSE 0 END AS started,
       CASE WHEN EXISTS (SELECT 1 FROM certificate c WHERE c.enrolment = e.id AND c.status = 'valid'
                         AND c.kind = 'completion') THEN 1 ELSE 0 END AS certified,
       e.attended_minutes AS attended
FROM enrolment e,
     LATERAL (SELECT EXTRACT(EPOCH FROM e.enrolled_at)::int8 AS enrolled,
                     EXTRACT(EPOCH FROM e.completed_at)::int8 AS completed) x
WHERE e.active AND e.session = ANY($1::int[])"""

SESSIONS = """INSERT INTO analytics_session (session, audience, establishment, template, n, started, done, certified,
                               attended, attendees, median_days, p80_days)
SELECT f.session, CASE WHEN GROUPING(f.external) = 1 THEN 0 WHEN f.external THEN 2 ELSE 1 END,
       min(s.establishment), min(COALESCE(s.template, 0)), count(*), sum(f.started), count(f.completed),
       sum(f.certified), sum(f.attended), sum(CASE WHEN f.attended > 0 THEN 1 ELSE 0 END),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY (f.completed - f.enrolled)::float8 / 86400::float8),
       percentile_cont(0.8) WITHIN GROUP (ORDER BY (f.completed - f.enrolled)::float8 / 86400::float8)
FROM analytics_facts f JOIN training_session s ON s.id = f.session
GROUP BY GROUPING SETS ((f.session), (f.session, f.external))"""


def _month(epoch: str) -> str:
    return f"to_char(to_timestamp({epoch}) AT TIME ZONE $1, 'YYYYMM')::int8"


PARTS = f"""WITH parts AS (
  SELECT session, external, {ENROLLED} AS kind, {_month('enrolled')} AS value, count(*) AS n
    FROM analytics_facts GROUP BY 1, 2, 4
  UNION ALL
  SELECT session, external, {COMPLETED}, {_month('completed')}, count(*)
    FROM analytics_facts WHERE completed IS NOT NULL GROUP BY 1, 2, 4
  UNION ALL
  SELECT session, external, {SECONDS}, completed - enrolled, count(*)
    FROM analytics_facts WHERE completed IS NOT NULL GROUP BY 1, 2, 4),
fresh AS (
  INSERT INTO analytics_part (session, establishment, template, external, kind, value, n)
  SELECT p.session, s.establishment, COALESCE(s.template, 0), p.external, p.kind, p.value, p.n
    FROM parts p JOIN training_session s ON s.id = p.session
  RETURNING establishment, template, external, kind, value, n)
INSERT INTO analytics_part_sum AS s (establishment, template, external, kind, value, n)
SELECT establishment, template, external, kind, value, sum(n) FROM fresh GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (establishment, template, external, kind, value) DO UPDATE SET n = s.n + excluded.n"""

# The dirty sessions' former contributions taken out of the sums.
GONE = """WITH gone AS (DELETE FROM analytics_part WHERE session = ANY($1::int[])
                     RETURNING establishment, template, external, kind, value, n)
INSERT INTO analytics_part_sum AS s (establishment, template, external, kind, value, n)
SELECT establishment, template, external, kind, value, -sum(n) FROM gone GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (establishment, template, external, kind, value) DO UPDATE SET n = s.n + excluded.n"""


async def refresh(connection=None) -> int:
    """Recompute the rollup rows of the sessions noted dirty; the number of sessions recomputed."""
    if db.is_sqlite():
        return 0
    if connection is None:
        async with db.engine().pool.acquire() as connection:
            return await refresh(connection)
    tz = get_settings().timezone
    async with connection.transaction():
        await connection.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
        await connection.execute("SELECT pg_advisory_xact_lock($1)", LOCK)
        kept = await connection.fetchval("SELECT value FROM platform_setting WHERE key = $1", TIMEZONE_KEY)
        if kept != tz:  # the months are local: another time zone, every session again
            await connection.execute("INSERT INTO analytics_dirty (session) SELECT id FROM training_session "
                                     "UNION SELECT session FROM analytics_session")
            await connection.execute("INSERT INTO platform_setting (key, value) VALUES ($1, $2) "
                                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", TIMEZONE_KEY, tz)
        # Taken first: a write committed after this statement stays noted (read committed).
        ids = await connection.fetchval(
            "WITH taken AS (DELETE FROM analytics_dirty RETURNING session) "
            "SELECT COALESCE(array_agg(DISTINCT session), '{}') FROM taken")
        if not ids:
            return 0
        await connection.execute(GONE, ids)
        await connection.execute("DELETE FROM analytics_session WHERE session = ANY($1::int[])", ids)
        await connection.execute(FACTS, ids)
        await connection.execute("ANALYZE analytics_facts")
        await connection.execute(SESSIONS)
        await connection.execute(PARTS, tz)
        await connection.execute("DELETE FROM analytics_part_sum WHERE n = 0")
        await connection.execute("DROP TABLE analytics_facts")
    return len(ids)


async def mark_everything() -> None:
    """Every session noted dirty (after writes that bypassed the triggers: a bulk seed with
    ``session_replication_role = replica``)."""
    async with db.engine().pool.acquire() as connection:
        await connection.execute("INSERT INTO analytics_dirty (session) SELECT id FROM training_session "
                                 "UNION SELECT session FROM analytics_session")


SESSION_ROWS = {"session": pl.Int64, "n": pl.Int64, "started": pl.Int64, "done": pl.Int64, "certified": pl.Int64,
                "attended": pl.Int64, "attendees": pl.Int64, "median_days": pl.Float64, "p80_days": pl.Float64}
PART_ROWS = {"establishment": pl.Int64, "template": pl.Int64, "kind": pl.Int64, "value": pl.Int64, "n": pl.Int64}


async def fetch(scope, f, sessions_sql: str | None, sessions_args: list) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rollup's rows of the scope and filters (``usable``), after a refresh: the sessions' and
    the sums per establishment and template. ``sessions_sql``: the ids of the sessions in scope and
    filters (app/services/analytics.py ``session_ids_sql``), None for every session."""
    async with db.engine().pool.acquire() as connection:
        await refresh(connection)
        where, args = ["a.audience = $1"], [AUDIENCE[f.audience]]
        if sessions_sql is not None:
            where.append(f"a.session = ANY(ARRAY({_numbered(sessions_sql, 2)}))")
            args.extend(sessions_args)
        rows = await connection.fetch(
            "SELECT a.session, a.n, a.started, a.done, a.certified, a.attended, a.attendees, a.median_days, a.p80_days "
            "FROM analytics_session a WHERE " + " AND ".join(where), *args)
        sessions = pl.DataFrame([tuple(r) for r in rows], schema=SESSION_ROWS, orient="row")
        where, args = [], []
        if f.audience:
            where.append("p.external = " + ("TRUE" if f.audience == "external" else "FALSE"))
        if not scope.everything:
            where.append("p.establishment = ANY($1::int[])")
            args.append(sorted(scope.establishment_ids) or [-1])
        if f.establishment:
            where.append(f"p.establishment = ${len(args) + 1}")
            args.append(f.establishment)
        if f.template:
            where.append(f"p.template = ${len(args) + 1}")
            args.append(f.template)
        rows = await connection.fetch(
            "SELECT p.establishment, p.template, p.kind, p.value, sum(p.n)::int8 FROM analytics_part_sum p"
            + (" WHERE " + " AND ".join(where) if where else "") + " GROUP BY 1, 2, 3, 4", *args)
        parts = pl.DataFrame([tuple(r) for r in rows], schema=PART_ROWS, orient="row")
    return sessions, parts


def _numbered(sql: str, first: int) -> str:
    """Piccolo's ``{}`` placeholders as asyncpg's, from ``$first``."""
    counter = iter(range(first, first + 1000))
    return re.sub(r"\{\}", lambda _m: f"${next(counter)}", sql)


def _months(parts: pl.DataFrame) -> list[dict]:
    """Enrolments and completions per month, from the first month of an enrolment to the last of
    either, months without any included (a completion before the first month counts in it, as the
    enrolments' computation places it)."""
    enrolled = parts.filter(pl.col("kind") == ENROLLED).group_by("value").agg(pl.col("n").sum())
    completed = parts.filter(pl.col("kind") == COMPLETED).group_by("value").agg(pl.col("n").sum())
    first = enrolled["value"].min()
    last = max(enrolled["value"].max(), completed["value"].max() or 0)
    counts, month = {}, first
    while month <= last:
        counts[month] = [0, 0]
        month = month + 1 if month % 100 < 12 else (month // 100 + 1) * 100 + 1
    for slot, frame in ((0, enrolled), (1, completed)):
        for value, n in frame.iter_rows():
            counts[max(value, first)][slot] += n
    return [{"month": f"{m // 100:04d}-{m % 100:02d}", "enrolled_count": a, "completed_count": c}
            for m, (a, c) in counts.items()]


def _quantile(q: float) -> pl.Expr:
    """The ``q`` quantile of the durations ``days`` counted ``n`` times each, interpolated as polars'
    ``quantile(q, "linear")`` of them one by one (position q × (N − 1) between the values of ranks
    floor and ceil) — without making the 1,333,332 values of ten times the data."""
    days, n = pl.col("days").sort(), pl.col("n").sort_by("days")
    reached = n.cum_sum()
    position = (pl.col("n").sum() - 1) * q
    low, high = position.floor(), position.ceil()
    at_low, at_high = days.filter(reached > low).first(), days.filter(reached > high).first()
    return at_low + (at_high - at_low) * (position - low)


def compute(sessions: pl.DataFrame, parts: pl.DataFrame, dims: pl.DataFrame, measures, rates, tables) -> dict:
    """The dashboard's figures (as app/services/analytics.py ``compute`` gives them from the
    enrolments): counts from the sessions' rows, the times to complete of a delegation, an
    establishment, a template and the whole from the sums (``_quantile``), those of a session as
    kept on its row."""
    sessions = sessions.join(dims, on="session")
    if not sessions.height or not sessions["n"].sum():
        return None
    places = dims.select("establishment", "delegation").unique()
    times = (parts.lazy().filter(pl.col("kind") == SECONDS)
             .select("establishment", "template", (pl.col("value") / 86400.0).alias("days"), "n")
             .join(places.lazy(), on="establishment"))
    quantiles = [_quantile(0.5).alias("median_days"), _quantile(0.8).alias("p80_days")]
    frames = pl.collect_all([measures(sessions.lazy(), times, by, quantiles) for by in (None, *tables[:-1])])
    per_session = rates(sessions.select(
        pl.col("session").alias("id"), pl.col("n").alias("enrolled_count"), pl.col("started").alias("started_count"),
        pl.col("done").alias("completed_count"), pl.col("certified").alias("certified_count"),
        pl.col("attended").alias("attended_minutes"), pl.col("attendees").alias("attended_count"),
        "median_days", "p80_days")).sort(["enrolled_count", "id"], descending=[True, False])
    out = {"totals": frames[0].to_dicts()[0], "months": _months(parts)}
    for dim, table in zip(tables, [*frames[1:], per_session]):
        out[dim] = table.to_dicts()
    return out
