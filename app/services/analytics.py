"""« TdB des analytics » (SPEC E1): enrolment, participation and completion figures within the
caller's scope, computed by polars. On PostgreSQL, without a period or a session code, they come
from the rollup kept per session (app/services/analytics_rollup.py: the same figures, tens of thousands
of rows read rather than every enrolment); otherwise from the enrolments, as follows.

One set-based query reads the enrolments of the scope and filters (one row each, the progress
summary the learning record keeps on the enrolment: no scan of the completion rows). On PostgreSQL
the rows are streamed with COPY into polars' CSV reader; on the embedded SQLite they come through
Piccolo. polars then groups them per delegation, establishment, template, session and month.

Cache: the result is kept in the cache Redis (app/cache.py: one process computes a miss, the others
wait for its figures) per scope and filters for ``CACHE_TTL`` seconds (a short TTL, no invalidation
hook), and the arq cron job ``refresh_analytics`` recomputes the whole network's unfiltered
dashboard on the same period so the administrators' default view is always warm. The page says
when its figures were computed.

"Certificats obtenus" counts the enrolments holding a valid attestation (revoked and superseded
versions aside; certificats de réalisation, which attest hours rather than completion, are not counted); "Sessions achevées" those whose required activities are all done; the attendance
figures are the minutes present recorded on the slots (``Enrolment.attended_minutes``, kept by
app/services/attendance.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl

from app import cache, db
from app.numbers import to_int
from app.services import analytics_rollup, assessments
from app.services.errors import NotFound
from app.settings import get_settings
from app.services.scope import Scope
from app.tables.accounts import User
from app.tables.catalogue import CourseTemplate, TrainingSession
from app.tables.certificates import Certificate
from app.tables.learning import Enrolment
from app.tables.org import Delegation, Establishment

CACHE_TTL = 300
CACHE_PREFIX = "analytics:v3:"  # v3: the page's digest and the whole figures apart
HTML_ROWS = 15  # rows of a dimension table shown on the page; the downloads have them all
TABLES = ("delegation", "establishment", "template", "session")  # a table of figures each
DAY = 86400.0


# -- filters ----------------------------------------------------------------------------------
@dataclass
class Filters:
    start: date | None = None
    end: date | None = None
    establishment: int | None = None
    template: int | None = None
    session: str = ""  # a session code
    audience: str = ""  # "", "agents" (accounts of an establishment) or "external" (registered trainees)
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)

    def key(self) -> str:
        return json.dumps([str(self.start or ""), str(self.end or ""), self.establishment, self.template,
                           self.session.upper()] + ([self.audience] if self.audience else []))

    def query(self, **overrides) -> dict:
        """The filters as URL query parameters (what is valid), with ``overrides``."""
        params = {
            "start": self.start.isoformat() if self.start else "", "end": self.end.isoformat() if self.end else "",
            "establishment": self.establishment or "", "template": self.template or "", "session": self.session,
            "audience": self.audience,
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v not in (None, "")}


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def read_period(raw: dict, errors: dict, keys: tuple[str, str] = ("start", "end")) -> tuple[date | None, date | None]:
    """The « Du » / « Au » dates of a filter form (``raw`` by ``keys``): one that makes no sense is
    ignored with a French message in ``errors``, both when the end precedes the start. The analytics
    dashboard's and the survey results' filters."""
    values = []
    for key, label in zip(keys, ("Du", "Au")):
        value = _date(raw[key]) if raw[key] else None
        if raw[key] and value is None:
            errors[key] = f"« {label} » : date invalide (jj/mm/aaaa attendu), filtre ignoré."
        values.append(value)
    start, end = values
    if start and end and start > end:
        errors[keys[1]] = "La date de fin précède la date de début : période ignorée."
        return None, None
    return start, end


def _int(value: str) -> int | None:
    return to_int(value, low=0)


def parse_filters(params) -> Filters:
    """The filters of the query string. A value that makes no sense is ignored with a French
    message; what was typed is kept in the form."""
    raw = {k: (params.get(k) or "").strip()[:40] for k in ("start", "end", "establishment", "template", "session",
                                                           "audience")}
    f = Filters(raw=raw)
    f.start, f.end = read_period(raw, f.errors)
    for key in ("establishment", "template"):
        if raw[key]:
            value = _int(raw[key])
            if value is None:
                f.errors[key] = "Choix invalide, filtre ignoré."
            setattr(f, key, value)
    f.session = raw["session"] if re.fullmatch(r"[\w\-. ]{1,32}", raw["session"] or "-") else ""
    if raw["session"] and not f.session:
        f.errors["session"] = "Code de session invalide, filtre ignoré."
    f.audience = raw["audience"] if raw["audience"] in AUDIENCES else ""
    if raw["audience"] and not f.audience:
        f.errors["audience"] = "Choix de public invalide, filtre ignoré."
    return f


# "Public": the agents of the establishments, or the external trainees (people registered through
# the public wizard, attached to their organisation), counted apart.
AUDIENCES = {"agents": "Agents", "external": "Externes"}


# -- the query --------------------------------------------------------------------------------
def _epoch(column: str) -> str:
    """Seconds since 1970 as an integer (short in CSV, cheap to print)."""
    if db.is_sqlite():
        return f"CAST(strftime('%s', {column}) AS INTEGER)"
    return f"EXTRACT(EPOCH FROM {column})::int8"


def _session_conditions(scope: Scope, f: Filters) -> tuple[list[str], list]:
    """The conditions on the sessions (``s``) of the scope and filters, and their arguments."""
    ids = sorted(scope.establishment_ids) or [-1]
    where = [] if scope.everything else ["s.establishment IN (" + ", ".join(str(int(i)) for i in ids) + ")"]
    filters = (("s.establishment = {}", f.establishment), ("s.template = {}", f.template),
               ("UPPER(s.code) = {}", f.session.upper() if f.session else None))
    chosen = [(sql, value) for sql, value in filters if value]
    return where + [sql for sql, _ in chosen], [value for _, value in chosen]


def session_ids_sql(scope: Scope, f: Filters) -> tuple[str | None, list]:
    """The ids of the sessions in scope and filters (``SELECT s.id …``) and its arguments; None: every session."""
    where, args = _session_conditions(scope, f)
    return ("SELECT s.id FROM training_session s WHERE " + " AND ".join(where), args) if where else (None, [])


def _sessions_sql(scope: Scope, f: Filters) -> tuple[str, list]:
    """The sessions in scope and filters with their dimensions (a few thousand rows at most)."""
    where, args = _session_conditions(scope, f)
    sql = (
        "SELECT s.id AS session, s.establishment AS establishment, est.delegation AS delegation, "
        "COALESCE(s.template, 0) AS template FROM training_session s "
        "JOIN establishment est ON est.id = s.establishment"
        + (" WHERE " + " AND ".join(where) if where else "")
    )
    return sql, args


def _fact_sql(scope: Scope, f: Filters) -> tuple[str, list]:
    """The one big query: the active enrolments in scope and filters, four narrow columns each.
    The dimensions are joined in polars (the sessions' table is small)."""
    where, args = ["e.active"], []
    sessions, sessions_args = session_ids_sql(scope, f)
    if sessions is not None:
        # PostgreSQL: an array of the session ids, so that their enrolments are read from the index
        # enrolment_analytics (an index-only scan); as IN (subquery) the planner hash-joined a scan of
        # every enrolment (a GET's two establishments of fifty: 4 s at 3,000,000 enrolments).
        where.append(f"e.session IN ({sessions})" if db.is_sqlite() else f"e.session = ANY(ARRAY({sessions}))")
        args.extend(sessions_args)
    if f.audience:
        where.append('e."user" ' + ("IN" if f.audience == "external" else "NOT IN")
                     + " (SELECT u.id FROM app_user u WHERE u.external = TRUE)")
    tz = ZoneInfo(get_settings().timezone)
    if f.start:
        where.append("e.enrolled_at >= {}")
        args.append(datetime.combine(f.start, datetime.min.time(), tz).astimezone(timezone.utc))
    if f.end:
        where.append("e.enrolled_at < {}")
        args.append(datetime.combine(f.end + timedelta(days=1), datetime.min.time(), tz).astimezone(timezone.utc))
    sql = (
        f"SELECT e.session AS session, {_epoch('e.enrolled_at')} AS enrolled, {_epoch('e.completed_at')} AS completed, "
        "CASE WHEN e.last_visit IS NOT NULL OR e.required_done > 0 THEN 1 ELSE 0 END AS started, "
        "CASE WHEN c.enrolment IS NULL THEN 0 ELSE 1 END AS certified, e.attended_minutes AS attended "
        "FROM enrolment e "
        # A hash join with the (small) set of certified enrolments, not a probe per row.
        "LEFT JOIN (SELECT DISTINCT enrolment FROM certificate WHERE status = 'valid' AND kind = 'completion') c "
        "ON c.enrolment = e.id "
        "WHERE " + " AND ".join(where)
    )
    return sql, args


FACTS = {"session": pl.Int64, "enrolled": pl.Int64, "completed": pl.Int64, "started": pl.Int8, "certified": pl.Int8,
         "attended": pl.Int64}
DIMS = {"session": pl.Int64, "establishment": pl.Int64, "delegation": pl.Int64, "template": pl.Int64}
# What the database sends: the enrolments summed in four groupings (``part``), not one row each.
# At 3,000,000 enrolments, COPYing one row each was most of the cold time; these are the session's
# counts (a row a session), the enrolments and the completions per quarter of an hour (a month is
# cut at a local midnight, which falls on a quarter of an hour in every time zone: the months stay
# exact), and the times to complete per session, to the second (the medians stay exact).
GROUPED = {"part": pl.Int8, "session": pl.Int64, "enrolled": pl.Int64, "completed": pl.Int64, "seconds": pl.Int64,
           "n": pl.Int64, "started": pl.Int64, "done": pl.Int64, "certified": pl.Int64, "attended": pl.Int64,
           "attendees": pl.Int64}
SESSION_PART, ENROLLED_PART, COMPLETED_PART, SECONDS_PART = 0, 1, 2, 3
QUARTER = 900  # seconds
GROUPED_KEYS = ["session", "enrolled", "completed", "seconds"]
COUNTS = ["n", "started", "done", "certified", "attended", "attendees"]


def _grouped_sql(scope: Scope, f: Filters) -> tuple[str, list]:
    """The facts (``_fact_sql``) summed in the four groupings of ``GROUPED``: one scan of the
    enrolments with GROUPING SETS on PostgreSQL; SQLite, which has none, reads them four times
    (the embedded database holds a small network)."""
    facts, args = _fact_sql(scope, f)
    keys = {SESSION_PART: ("r.session", "NULL", "NULL", "NULL"),
            ENROLLED_PART: ("NULL", f"r.enrolled / {QUARTER}", "NULL", "NULL"),
            COMPLETED_PART: ("NULL", "NULL", f"r.completed / {QUARTER}", "NULL"),
            SECONDS_PART: ("r.session", "NULL", "NULL", "r.completed - r.enrolled")}
    counts = ("count(*) AS n, SUM(r.started) AS started, COUNT(r.completed) AS done, SUM(r.certified) AS certified, "
              "SUM(r.attended) AS attended, SUM(CASE WHEN r.attended > 0 THEN 1 ELSE 0 END) AS attendees")
    if db.is_sqlite():
        parts = [f"SELECT {part} AS part, {', '.join(f'{c} AS {n}' for c, n in zip(k, GROUPED_KEYS))}, {counts} FROM ({facts}) r "
                 f"GROUP BY {', '.join(c for c in k if c != 'NULL')}" for part, k in keys.items()]
        return " UNION ALL ".join(parts), args * len(parts)
    # GROUPING(a, b, c, d) is a bit mask of the keys left out: it names the grouping set a row sums.
    mask = {SESSION_PART: 0b0111, ENROLLED_PART: 0b1011, COMPLETED_PART: 0b1101, SECONDS_PART: 0b0110}
    part = "CASE GROUPING(session, enrolled, completed, seconds) " + " ".join(
        f"WHEN {m} THEN {p}" for p, m in mask.items()) + " END AS part"
    sql = (f"SELECT {part}, session, enrolled, completed, seconds, {counts} FROM ("
           f"SELECT r.session, r.enrolled / {QUARTER} AS enrolled, r.completed / {QUARTER} AS completed, "
           f"r.completed - r.enrolled AS seconds, r.started, r.certified, r.attended FROM ({facts}) r) r "
           "GROUP BY GROUPING SETS ((session), (enrolled), (completed), (session, seconds))")
    return sql, args


def _pg_placeholders(sql: str) -> str:
    counter = iter(range(1, 1000))
    return re.sub(r"\{\}", lambda _m: f"${next(counter)}", sql)


async def fetch_frame(scope: Scope, f: Filters) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The enrolments summed (``GROUPED``), and the sessions' establishment, delegation and template."""
    sql, args = _grouped_sql(scope, f)
    dims_sql, dims_args = _sessions_sql(scope, f)
    dims_rows = await Enrolment.raw(dims_sql, *dims_args)
    dims = pl.DataFrame(dims_rows, schema=DIMS, orient="row") if dims_rows else pl.DataFrame(schema=DIMS)
    if db.is_sqlite():
        rows = [tuple(r.values()) for r in await Enrolment.raw(sql, *args)]
        grouped = pl.DataFrame(rows, schema=GROUPED, orient="row") if rows else pl.DataFrame(schema=GROUPED)
    else:
        # PostgreSQL: COPY the rows out as CSV straight into polars (no Python object per row);
        # asyncpg quotes the parameters into the COPY statement itself.
        buffer = io.BytesIO()
        async with db.engine().pool.acquire() as connection, connection.transaction():
            # JIT compiling this one query took 3 to 4 s of a cold dashboard at 3,000,000 enrolments,
            # more than it saved; the grouping sets hash in memory rather than sort on disk. LOCAL: for
            # this transaction only (PgBouncer in transaction mode hands the connection on).
            await connection.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
            await connection.copy_from_query(_pg_placeholders(sql), *args, output=buffer, format="csv", header=True)
        buffer.seek(0)
        grouped = (pl.read_csv(buffer, schema=GROUPED) if buffer.getbuffer().nbytes
                   else pl.DataFrame(schema=GROUPED))
    return grouped, dims


# -- the figures ------------------------------------------------------------------------------
def _rates(frame):
    return frame.with_columns(
        (pl.col("enrolled_count") - pl.col("started_count")).alias("never_started"),
        (pl.col("started_count") - pl.col("completed_count")).clip(lower_bound=0).alias("in_progress"),
        pl.when(pl.col("enrolled_count") > 0)
        .then(pl.col("completed_count") * 100.0 / pl.col("enrolled_count")).otherwise(0.0).alias("completion_rate"),
        pl.when(pl.col("enrolled_count") > 0)
        .then(pl.col("started_count") * 100.0 / pl.col("enrolled_count")).otherwise(0.0).alias("participation_rate"),
    )


def _measures(sessions: pl.LazyFrame, times: pl.LazyFrame, by: str | None, quantiles: list | None = None):
    """The counts (sums of the sessions') and the times to complete of one dimension (``by``; None:
    the totals). The times are each completion's, in days (or ``quantiles``' own expressions)."""
    counts = [
        pl.col("n").sum().alias("enrolled_count"),
        pl.col("started").sum().alias("started_count"),
        pl.col("done").sum().alias("completed_count"),
        pl.col("certified").sum().alias("certified_count"),
        # Attendance recorded on the slots (issue 12): minutes present, and who has any.
        pl.col("attended").sum().alias("attended_minutes"),
        pl.col("attendees").sum().alias("attended_count"),
    ]
    quantiles = quantiles or [pl.col("days").median().alias("median_days"),
                              pl.col("days").quantile(0.8, interpolation="linear").alias("p80_days")]
    if by is None:
        return _rates(pl.concat([sessions.select(counts), times.select(quantiles)], how="horizontal"))
    figures = sessions.group_by(by).agg(counts).join(times.group_by(by).agg(quantiles), on=by, how="left")
    return _rates(figures).sort(["enrolled_count", by], descending=[True, False]).rename({by: "id"})


def _month_starts(first: int, last: int, tz: str) -> tuple[list[int], list[str]]:
    """Epoch seconds of the local month starts from the month of ``first`` to that of ``last``."""
    zone = ZoneInfo(tz)
    current = datetime.fromtimestamp(first, zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts, labels = [], []
    while True:
        starts.append(int(current.timestamp()))
        labels.append(f"{current:%Y-%m}")
        year, month = (current.year + 1, 1) if current.month == 12 else (current.year, current.month + 1)
        current = current.replace(year=year, month=month)
        if current.timestamp() > last:
            return starts, labels


def _months(grouped: pl.DataFrame, tz: str) -> list[dict]:
    """Enrolments and completions per calendar month (local time): each quarter of an hour is placed
    among the month starts by a binary search (no time-zone arithmetic per row)."""
    enrolled = grouped.filter(pl.col("part") == ENROLLED_PART).select(pl.col("enrolled") * QUARTER, "n")
    completed = grouped.filter((pl.col("part") == COMPLETED_PART) & pl.col("completed").is_not_null()).select(
        pl.col("completed") * QUARTER, "n")
    first = enrolled["enrolled"].min()
    last = max(enrolled["enrolled"].max(), completed["completed"].max() or 0)
    starts, labels = _month_starts(first, last, tz)
    bounds = pl.Series(starts, dtype=pl.Int64)
    counts = {label: [0, 0] for label in labels}
    for frame, column, slot in ((enrolled, "enrolled", 0), (completed, "completed", 1)):
        month = (bounds.search_sorted(frame[column], side="right") - 1).clip(lower_bound=0)
        for index, n in frame.select(month.alias("month"), "n").group_by("month").agg(pl.col("n").sum()).iter_rows():
            counts[labels[index]][slot] += n
    return [{"month": m, "enrolled_count": a, "completed_count": c} for m, (a, c) in counts.items()]


def _empty() -> dict:
    return {"totals": {"enrolled_count": 0, "started_count": 0, "completed_count": 0, "certified_count": 0,
                       "median_days": None, "p80_days": None, "never_started": 0, "in_progress": 0,
                       "completion_rate": 0.0, "participation_rate": 0.0, "attended_minutes": 0, "attended_count": 0},
            "months": [], **{dim: [] for dim in TABLES}}


def compute(grouped: pl.DataFrame, dims: pl.DataFrame, tz: str) -> dict:
    """Every figure of the dashboard from the summed enrolments (``fetch_frame``): totals and one
    table per dimension (ids only; labels are added afterwards). The five aggregations run in parallel."""
    sessions = grouped.filter(pl.col("part") == SESSION_PART).select("session", *COUNTS).join(dims, on="session")
    if not sessions.height or not sessions["n"].sum():
        return _empty()
    # One row per completion again (``n`` of them took that many seconds in that session): a few
    # million integers at most, which the quantiles need anyway.
    times = (grouped.lazy().filter((pl.col("part") == SECONDS_PART) & pl.col("seconds").is_not_null())
             .select("session", (pl.col("seconds") / DAY).alias("days"), "n")
             .join(dims.lazy(), on="session")
             .select(pl.exclude("n").repeat_by("n")).explode(pl.all()))
    frames = pl.collect_all([_measures(sessions.lazy(), times, by) for by in (None, *TABLES)])
    out = {"totals": frames[0].to_dicts()[0], "months": _months(grouped, tz)}
    for dim, table in zip(TABLES, frames[1:]):
        out[dim] = table.to_dicts()
    return out


async def _labels(result: dict) -> None:
    """Names of the dimension ids (one small query per dimension, for the ids present only)."""
    sources = {
        "delegation": (Delegation, [Delegation.id, Delegation.code, Delegation.name]),
        "establishment": (Establishment, [Establishment.id, Establishment.code, Establishment.name]),
        "template": (CourseTemplate, [CourseTemplate.id, CourseTemplate.code, CourseTemplate.title.as_alias("name")]),
        "session": (TrainingSession, [TrainingSession.id, TrainingSession.code, TrainingSession.full_name.as_alias("name")]),
    }
    for dim, (table, columns) in sources.items():
        ids = [r["id"] for r in result[dim] if r["id"]]
        names = {}
        if ids:
            names = {r["id"]: r for r in await table.select(*columns).where(table.id.is_in(ids))}
        for r in result[dim]:
            n = names.get(r["id"])
            r["code"] = n["code"] if n else ""
            r["name"] = n["name"] if n else ("Sans cours modèle" if dim == "template" else "?")


def _scope_key(scope: Scope) -> str:
    if scope.everything:
        return "all"
    ids = ",".join(str(i) for i in sorted(scope.establishment_ids)) or "none"
    return hashlib.sha1(ids.encode()).hexdigest()[:16]


def cache_key(scope: Scope, f: Filters) -> str:
    return CACHE_PREFIX + _scope_key(scope) + ":" + hashlib.sha1(f.key().encode()).hexdigest()[:16]


async def build(scope: Scope, f: Filters, rollup: bool = True) -> dict:
    """The figures: from the rollup where it serves the filters (app/services/analytics_rollup.py),
    from the enrolments otherwise (``rollup=False``: always, as the tests compare)."""
    started = time.perf_counter()
    if rollup and analytics_rollup.usable(f):
        dims_sql, dims_args = _sessions_sql(scope, f)
        dims_rows = await Enrolment.raw(dims_sql, *dims_args)
        dims = pl.DataFrame(dims_rows, schema=DIMS, orient="row") if dims_rows else pl.DataFrame(schema=DIMS)
        sessions, parts = await analytics_rollup.fetch(scope, f, *session_ids_sql(scope, f))
        result = await asyncio.to_thread(analytics_rollup.compute, sessions, parts, dims, _measures, _rates,
                                         TABLES) or _empty()
    else:
        grouped, dims = await fetch_frame(scope, f)
        # polars releases the GIL: the event loop keeps serving while it counts.
        result = await asyncio.to_thread(compute, grouped, dims, get_settings().timezone)
    await _labels(result)
    result["rows"] = {dim: len(result[dim]) for dim in TABLES}
    result["computed_at"] = datetime.now(timezone.utc).isoformat()
    result["compute_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def digest(result: dict) -> dict:
    """What the page shows of the figures: each table's first ``HTML_ROWS`` rows (``rows`` keeps their
    number). At 20,000 sessions the whole figures are megabytes of JSON, 150 ms to read back from the
    cache on every view; this is a few kilobytes."""
    return {**result, **{dim: result[dim][:HTML_ROWS] for dim in TABLES}}


async def dashboard(redis, scope: Scope, f: Filters, fresh: bool = False, whole: bool = False) -> dict:
    """The dashboard's figures, from the cache when they are there (``cached`` says so); on a miss
    computed by one process while the others wait for them (app/cache.py). ``redis`` is the cache's.
    The page's (``digest``) and the whole figures, for the downloads (``whole``), are kept apart;
    a digest missing is made from the whole figures, cached or computed."""
    key = cache_key(scope, f)

    async def everything():
        return (await cache.cached(redis, key + ":all", CACHE_TTL, lambda: build(scope, f), fresh=fresh))[0]

    if whole:
        result, hit = await cache.cached(redis, key + ":all", CACHE_TTL, lambda: build(scope, f), fresh=fresh)
    else:
        result, hit = await cache.cached(redis, key, CACHE_TTL, lambda: _digested(everything), fresh=fresh)
    return {**result, "cached": hit}


async def _digested(everything) -> dict:
    return digest(await everything())


def computed_at(result: dict) -> datetime:
    return datetime.fromisoformat(result["computed_at"])


async def refresh_everything(redis) -> float:
    """The arq job's work: recompute the network's unfiltered dashboard into the cache."""
    everything = Scope(everything=True, establishment_ids=frozenset(), delegation_ids=frozenset())
    result = await dashboard(redis, everything, Filters(), fresh=True)
    return result["compute_ms"]


# The tables of the page and the downloads (app/services/analytics_tables.py).
from app.services.analytics_tables import DIMENSIONS, csv_bytes, table_rows, workbook  # noqa: E402

__all__ = ["Filters", "parse_filters", "dashboard", "workbook", "csv_bytes", "table_rows", "asdict", "DIMENSIONS"]


# -- one person's page (E2) -------------------------------------------------------------------
async def learner_record(scope: Scope, user_id: int) -> dict:
    """A person and their enrolments within the scope (one query each). A person with no
    enrolment in the caller's scope is "Utilisateur introuvable.", exactly like a missing id."""
    query = Enrolment.select(
        Enrolment.id, Enrolment.active, Enrolment.enrolled_at, Enrolment.percent, Enrolment.required_done,
        Enrolment.required_total, Enrolment.last_visit, Enrolment.completed_at,
        Enrolment.session.id.as_alias("session_id"), Enrolment.session.code.as_alias("session_code"),
        Enrolment.session.full_name.as_alias("session_name"),
        Enrolment.session.establishment.code.as_alias("establishment_code"),
        Enrolment.session.establishment.name.as_alias("establishment_name"),
    ).where(Enrolment.user == user_id).order_by(Enrolment.enrolled_at, ascending=False)
    enrolments = await scope.restrict(query, Enrolment.session.establishment)
    person = await User.select(
        User.id, User.first_name, User.last_name, User.username, User.email, User.last_access,
        User.establishment.code.as_alias("establishment_code"), User.establishment.name.as_alias("establishment_name"),
    ).where(User.id == user_id).first()
    if person is None or (not enrolments and not scope.everything):
        raise NotFound("Utilisateur introuvable.")
    certificates = {}
    if enrolments:
        rows = await Certificate.select(Certificate.id, Certificate.enrolment, Certificate.issued_at).where(
            Certificate.enrolment.is_in([e["id"] for e in enrolments]) & (Certificate.status == "valid")
            & (Certificate.kind == "completion"))
        certificates = {r["enrolment"]: r for r in rows}
    # Positioning and learning outcomes per objective (issue 23), for the sessions that assess them.
    results = await assessments.for_enrolments({e["id"]: e["session_id"] for e in enrolments})
    for e in enrolments:
        e["certificate"] = certificates.get(e["id"])
        e["assessment"] = results.get(e["id"])
    return {"person": person, "enrolments": enrolments}
