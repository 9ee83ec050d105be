"""« TdB des analytics » (SPEC E1): enrolment, participation and completion figures within the
caller's scope, computed by polars.

One set-based query reads the enrolments of the scope and filters (one row each, the progress
summary the learning record keeps on the enrolment: no scan of the completion rows). On PostgreSQL
the rows are streamed with COPY into polars' CSV reader; on the embedded SQLite they come through
Piccolo. polars then groups them per delegation, establishment, template, session and month.

Cache: the result is kept in Redis per scope and filters for ``CACHE_TTL`` seconds (a short TTL,
no invalidation hook), and the arq cron job ``refresh_analytics`` recomputes the whole network's
unfiltered dashboard on the same period so the administrators' default view is always warm. The
page says when its figures were computed.

"Certificats obtenus" counts completed enrolments ("sessions achevées") until certificates exist.
Attendance hours are not recorded yet and not shown.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl

from app import db
from app.settings import get_settings
from app.services.scope import Scope

CACHE_TTL = 300
CACHE_PREFIX = "analytics:v1:"
HTML_ROWS = 15  # rows of a dimension table shown on the page; the downloads have them all
DAY = 86400.0


# -- filters ----------------------------------------------------------------------------------
@dataclass
class Filters:
    start: date | None = None
    end: date | None = None
    establishment: int | None = None
    template: int | None = None
    session: str = ""  # a session code
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)

    def key(self) -> str:
        return json.dumps([str(self.start or ""), str(self.end or ""), self.establishment, self.template,
                           self.session.upper()])

    def query(self, **overrides) -> dict:
        """The filters as URL query parameters (what is valid), with ``overrides``."""
        params = {
            "start": self.start.isoformat() if self.start else "", "end": self.end.isoformat() if self.end else "",
            "establishment": self.establishment or "", "template": self.template or "", "session": self.session,
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v not in (None, "")}


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _int(value: str) -> int | None:
    return int(value) if re.fullmatch(r"\d{1,12}", value) else None


def parse_filters(params) -> Filters:
    """The filters of the query string. A value that makes no sense is ignored with a French
    message; what was typed is kept in the form."""
    raw = {k: (params.get(k) or "").strip()[:40] for k in ("start", "end", "establishment", "template", "session")}
    f = Filters(raw=raw)
    for key, label in (("start", "Du"), ("end", "Au")):
        if raw[key]:
            value = _date(raw[key])
            if value is None:
                f.errors[key] = f"« {label} » : date invalide (jj/mm/aaaa attendu), filtre ignoré."
            setattr(f, key, value)
    if f.start and f.end and f.start > f.end:
        f.errors["end"] = "La date de fin précède la date de début : période ignorée."
        f.start = f.end = None
    for key in ("establishment", "template"):
        if raw[key]:
            value = _int(raw[key])
            if value is None:
                f.errors[key] = "Choix invalide, filtre ignoré."
            setattr(f, key, value)
    f.session = raw["session"] if re.fullmatch(r"[\w\-. ]{1,32}", raw["session"] or "-") else ""
    if raw["session"] and not f.session:
        f.errors["session"] = "Code de session invalide, filtre ignoré."
    return f


# -- the query --------------------------------------------------------------------------------
def _epoch(column: str) -> str:
    if db.is_sqlite():
        return f"CAST(strftime('%s', {column}) AS REAL)"
    return f"EXTRACT(EPOCH FROM {column})::float8"


def _fact_sql(scope: Scope, f: Filters) -> tuple[str, list]:
    """The one query: active enrolments in scope and filters, with the ids of their dimensions."""
    where, args = ["e.active"], []
    if not scope.everything:
        ids = sorted(scope.establishment_ids) or [-1]
        where.append("s.establishment IN (" + ", ".join(str(int(i)) for i in ids) + ")")
    tz = ZoneInfo(get_settings().timezone)
    if f.start:
        where.append("e.enrolled_at >= {}")
        args.append(datetime.combine(f.start, datetime.min.time(), tz).astimezone(timezone.utc))
    if f.end:
        where.append("e.enrolled_at < {}")
        args.append(datetime.combine(f.end + timedelta(days=1), datetime.min.time(), tz).astimezone(timezone.utc))
    if f.establishment:
        where.append("s.establishment = {}")
        args.append(f.establishment)
    if f.template:
        where.append("s.template = {}")
        args.append(f.template)
    if f.session:
        where.append("UPPER(s.code) = {}")
        args.append(f.session.upper())
    sql = (
        "SELECT e.session AS session, s.establishment AS establishment, est.delegation AS delegation, "
        "COALESCE(s.template, 0) AS template, "
        f"{_epoch('e.enrolled_at')} AS enrolled, {_epoch('e.completed_at')} AS completed, "
        "CASE WHEN e.last_visit IS NOT NULL OR e.required_done > 0 THEN 1 ELSE 0 END AS started "
        "FROM enrolment e JOIN training_session s ON s.id = e.session "
        "JOIN establishment est ON est.id = s.establishment "
        "WHERE " + " AND ".join(where)
    )
    return sql, args


SCHEMA = {"session": pl.Int64, "establishment": pl.Int64, "delegation": pl.Int64, "template": pl.Int64,
          "enrolled": pl.Float64, "completed": pl.Float64, "started": pl.Int8}


async def fetch_frame(scope: Scope, f: Filters) -> pl.DataFrame:
    sql, args = _fact_sql(scope, f)
    from app.tables.learning import Enrolment

    if db.is_sqlite():
        rows = await Enrolment.raw(sql, *args)
        return pl.DataFrame(rows, schema=SCHEMA, orient="row") if rows else pl.DataFrame(schema=SCHEMA)
    # PostgreSQL: COPY the rows out as CSV straight into polars (no Python object per row).
    n = 0

    def placeholder(_match):
        nonlocal n
        n += 1
        return f"${n}"

    pg_sql = re.sub(r"\{\}", placeholder, sql)
    buffer = io.BytesIO()
    async with db.engine().pool.acquire() as connection:
        # asyncpg quotes the parameters into the COPY statement itself.
        await connection.copy_from_query(pg_sql, *args, output=buffer, format="csv", header=True)
    buffer.seek(0)
    if buffer.getbuffer().nbytes == 0:
        return pl.DataFrame(schema=SCHEMA)
    return pl.read_csv(buffer, schema=SCHEMA)


# -- the figures ------------------------------------------------------------------------------
def _measures(frame: pl.DataFrame | pl.LazyFrame, by: list[str] | None):
    days = (pl.col("completed") - pl.col("enrolled")) / DAY
    aggs = [
        pl.len().alias("enrolled_count"),
        pl.col("started").sum().alias("started_count"),
        pl.col("completed").is_not_null().sum().alias("completed_count"),
        days.median().alias("median_days"),
        days.quantile(0.8, interpolation="linear").alias("p80_days"),
    ]
    grouped = frame.group_by(by).agg(aggs) if by else frame.select(aggs)
    return grouped.with_columns(
        (pl.col("enrolled_count") - pl.col("started_count")).alias("never_started"),
        (pl.col("started_count") - pl.col("completed_count")).clip(lower_bound=0).alias("in_progress"),
        pl.when(pl.col("enrolled_count") > 0)
        .then(pl.col("completed_count") * 100.0 / pl.col("enrolled_count")).otherwise(0.0).alias("completion_rate"),
        pl.when(pl.col("enrolled_count") > 0)
        .then(pl.col("started_count") * 100.0 / pl.col("enrolled_count")).otherwise(0.0).alias("participation_rate"),
    )


def _months(frame: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Enrolments and completions per calendar month (local time)."""
    def month(col: str):
        return pl.from_epoch(pl.col(col).cast(pl.Int64), time_unit="s").dt.replace_time_zone("UTC") \
            .dt.convert_time_zone(tz).dt.strftime("%Y-%m")

    enrolled = frame.group_by(month("enrolled").alias("month")).agg(pl.len().alias("enrolled_count"))
    completed = frame.filter(pl.col("completed").is_not_null()) \
        .group_by(month("completed").alias("month")).agg(pl.len().alias("completed_count"))
    out = enrolled.join(completed, on="month", how="full", coalesce=True).fill_null(0).sort("month")
    return out


def compute(frame: pl.DataFrame, tz: str) -> dict:
    """Every figure of the dashboard from the enrolment rows: totals and one table per dimension
    (ids only; labels are added afterwards)."""
    totals = _measures(frame, None).to_dicts()[0] if frame.height else {
        "enrolled_count": 0, "started_count": 0, "completed_count": 0, "median_days": None, "p80_days": None,
        "never_started": 0, "in_progress": 0, "completion_rate": 0.0, "participation_rate": 0.0}
    out = {"totals": totals, "months": _months(frame, tz).to_dicts() if frame.height else []}
    for dim in ("delegation", "establishment", "template", "session"):
        table = _measures(frame, [dim]).sort(["enrolled_count", dim], descending=[True, False]) if frame.height else None
        out[dim] = table.rename({dim: "id"}).to_dicts() if table is not None else []
    return out


async def _labels(result: dict) -> None:
    """Names of the dimension ids (one small query per dimension, for the ids present only)."""
    from app.tables.catalogue import CourseTemplate, TrainingSession
    from app.tables.org import Delegation, Establishment

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


async def build(scope: Scope, f: Filters) -> dict:
    started = time.perf_counter()
    frame = await fetch_frame(scope, f)
    result = compute(frame, get_settings().timezone)
    await _labels(result)
    result["computed_at"] = datetime.now(timezone.utc).isoformat()
    result["compute_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def dashboard(redis, scope: Scope, f: Filters, fresh: bool = False) -> dict:
    """The dashboard's figures, from the cache when they are there (``cached`` says so)."""
    key = cache_key(scope, f)
    if not fresh and redis is not None:
        cached = await redis.get(key)
        if cached:
            result = json.loads(cached)
            result["cached"] = True
            return result
    result = await build(scope, f)
    if redis is not None:
        await redis.set(key, json.dumps(result), ex=CACHE_TTL)
    result["cached"] = False
    return result


def computed_at(result: dict) -> datetime:
    return datetime.fromisoformat(result["computed_at"])


async def refresh_everything(redis) -> float:
    """The arq job's work: recompute the network's unfiltered dashboard into the cache."""
    everything = Scope(everything=True, establishment_ids=frozenset(), delegation_ids=frozenset())
    result = await dashboard(redis, everything, Filters(), fresh=True)
    return result["compute_ms"]


# -- tables for the page, the CSV and the Excel -----------------------------------------------
def _days(value):
    return None if value is None else round(value, 1)


DIMENSIONS = {
    "delegation": "Par délégation",
    "establishment": "Par établissement",
    "template": "Par cours modèle",
    "session": "Par session",
    "month": "Par mois",
}

MEASURE_HEADERS = ["Inscrits", "Ont participé", "Jamais commencé", "Sessions achevées", "Taux d'achèvement (%)",
                   "Durée médiane (jours)", "80e centile (jours)"]


def table_rows(result: dict, dim: str) -> tuple[list[str], list[list]]:
    """(headers, rows) of one table, as downloaded."""
    if dim == "month":
        return ["Mois", "Inscriptions", "Sessions achevées"], [
            [r["month"], r["enrolled_count"], r["completed_count"]] for r in result["months"]]
    label = {"delegation": "Délégation", "establishment": "Établissement", "template": "Cours modèle",
             "session": "Session"}[dim]
    rows = [[r["code"], r["name"], r["enrolled_count"], r["started_count"], r["never_started"], r["completed_count"],
             round(r["completion_rate"], 1), _days(r["median_days"]), _days(r["p80_days"])] for r in result[dim]]
    return ["Code", label, *MEASURE_HEADERS], rows


def summary_rows(result: dict) -> tuple[list[str], list[list]]:
    t = result["totals"]
    return ["Indicateur", "Valeur"], [
        ["Inscrits", t["enrolled_count"]],
        ["Ont participé (au moins une visite)", t["started_count"]],
        ["Taux de participation (%)", round(t["participation_rate"], 1)],
        ["Jamais commencé", t["never_started"]],
        ["Certificats obtenus (sessions achevées)", t["completed_count"]],
        ["Taux d'achèvement (%)", round(t["completion_rate"], 1)],
        ["Durée médiane pour achever (jours)", _days(t["median_days"])],
        ["80e centile de la durée (jours)", _days(t["p80_days"])],
    ]


def workbook(result: dict) -> bytes:
    """The whole dashboard as one Excel file, a sheet per table (formula-safe writer)."""
    from app.datatable import XlsxWriter

    headers, rows = summary_rows(result)
    writer = XlsxWriter(headers, sheet="Synthèse")
    try:
        writer.write_rows(rows)
        for dim, title in DIMENSIONS.items():
            headers, rows = table_rows(result, dim)
            writer.add_sheet(title, headers)
            writer.write_rows(rows)
        return writer.close()
    finally:
        writer.discard()


def csv_bytes(result: dict, dim: str) -> bytes:
    import csv

    from app.datatable import neutralise

    headers, rows = table_rows(result, dim)
    out = io.StringIO()
    w = csv.writer(out, delimiter=";")
    w.writerow(headers)
    for row in rows:
        w.writerow(["" if v is None else (str(v).replace(".", ",") if isinstance(v, float) else neutralise(v))
                    for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


__all__ = ["Filters", "parse_filters", "dashboard", "workbook", "csv_bytes", "table_rows", "asdict"]


# -- one person's page (E2) -------------------------------------------------------------------
async def learner_record(scope: Scope, user_id: int) -> dict:
    """A person and their enrolments within the scope (one query each). A person with no
    enrolment in the caller's scope is "Utilisateur introuvable.", exactly like a missing id."""
    from app.services.errors import NotFound
    from app.tables.accounts import User
    from app.tables.learning import Enrolment

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
    return {"person": person, "enrolments": enrolments}
