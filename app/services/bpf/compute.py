"""The figures of the BPF and of the élus' report for one year, by polars, from three set-based queries:
the minutes each enrolment attended in the year (present slots whose day is in the year: a session
across two years is split by its slots' days), the sessions of the year, and who trained each slot
attended in the year.

A figure is ``{"people": n, "minutes": m, "rows": [[user, session, minutes, counted], …]}``: the rows
behind it, so the page lists the learners (or trainers) behind any figure without recomputing. Within
a frame a person counts in the people column of one line only (``counted`` = 1 there: the line where
they have the most minutes), their minutes staying on every line they belong to; a total names its
``parts`` (the lines whose rows it gathers) and is their sum, in people and in minutes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable
from datetime import date

import polars as pl

from app import db
from app.services.bpf.labels import NSF_STORED
from app.services.learning import slot_minutes_sql
from app.tables.catalogue import BpfObjective, Delivery
from app.tables.learning import Enrolment, TraineeType

# F-1 lines, in the Cerfa's order; "e" gathers public agents, elected officials and other trainees.
F1_LINES = {
    "a": [TraineeType.private_employee.value],
    "b": [TraineeType.apprentice.value],
    "c": [TraineeType.job_seeker.value],
    "d": [TraineeType.individual.value],
    "e": [TraineeType.public_agent.value, TraineeType.elected.value, TraineeType.other.value],
    "e_public": [TraineeType.public_agent.value],
    "e_elected": [TraineeType.elected.value],
    "missing": [""],
}
F1_TOTAL_PARTS = ["a", "b", "c", "d", "e", "missing"]
OBJECTIVES = [o.value for o in BpfObjective if o.value] + [""]
TOP_NSF = 5

AGENT_STATUSES = ("fph_agent", "fpt_agent", "fpe_agent", "contract")


def trainee_type_sql(e: str = "e", u: str = "u") -> str:
    """The BPF trainee type of enrolment ``e`` of account ``u`` (DESIGN23), '' when none applies."""
    agents = ", ".join(f"'{s}'" for s in AGENT_STATUSES)
    return (
        f"CASE WHEN {e}.trainee_type <> '' THEN {e}.trainee_type "
        f"WHEN {u}.establishment IS NOT NULL OR {u}.status IN ({agents}) THEN 'public_agent' "
        f"WHEN {u}.status = 'elected' OR EXISTS (SELECT 1 FROM enrolment_source es "
        f"JOIN registration_request rr ON rr.id = es.request WHERE es.enrolment = {e}.id "
        f"AND rr.mandate IS NOT NULL) THEN 'elected' "
        f"WHEN {u}.status = 'apprentice' THEN 'apprentice' ELSE '' END"
    )


def trainer_status_sql(u: str = "u") -> str:
    """Internal or external (frame E): the account's own status, else internal with an establishment."""
    return (f"CASE WHEN {u}.trainer_status <> '' THEN {u}.trainer_status "
            f"WHEN {u}.establishment IS NOT NULL THEN 'internal' ELSE 'external' END")


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def _attended_sql() -> str:
    minutes = slot_minutes_sql("sl")
    return (
        "SELECT e.id AS enrolment, e.\"user\" AS user_id, e.session AS session_id, "
        f"{trainee_type_sql()} AS trainee_type, m.minutes AS minutes "
        f"FROM (SELECT a.enrolment AS enrolment, SUM({minutes}) AS minutes FROM attendance a "
        "JOIN session_slot sl ON sl.id = a.slot "
        "WHERE a.status = 'present' AND sl.day >= {} AND sl.day <= {} GROUP BY a.enrolment) m "
        "JOIN enrolment e ON e.id = m.enrolment JOIN app_user u ON u.id = e.\"user\" WHERE m.minutes > 0"
    )


ATTENDED = {"enrolment": pl.Int64, "user_id": pl.Int64, "session_id": pl.Int64, "trainee_type": pl.Utf8,
            "minutes": pl.Int64}

SESSIONS_SQL = (
    "SELECT ts.id AS session_id, ts.full_name AS title, ts.code AS code, ts.delivery AS delivery, "
    "ts.remote_url AS remote_url, ts.place AS place, ts.template AS template_id, "
    "COALESCE(ct.nsf_code, '') AS nsf_code, COALESCE(ct.bpf_objective, '') AS objective "
    "FROM training_session ts LEFT JOIN course_template ct ON ct.id = ts.template "
    "WHERE ts.id IN (SELECT sl.session FROM session_slot sl WHERE sl.day >= {} AND sl.day <= {})"
)
SESSIONS = {"session_id": pl.Int64, "title": pl.Utf8, "code": pl.Utf8, "delivery": pl.Utf8, "remote_url": pl.Utf8,
            "place": pl.Utf8, "template_id": pl.Int64, "nsf_code": pl.Utf8, "objective": pl.Utf8}


def _trainers_sql() -> str:
    """Who trained each slot of the year at which somebody was present: its SlotTrainer rows, or every
    SessionTrainer of its session when it has none (app/tables/evidence.py)."""
    minutes = slot_minutes_sql("sl")
    return (
        f"SELECT sl.id AS slot_id, sl.session AS session_id, {minutes} AS minutes, t.user_id AS user_id, "
        f"{trainer_status_sql()} AS status "
        "FROM session_slot sl JOIN ("
        "SELECT st.slot AS slot_id, st.\"user\" AS user_id FROM slot_trainer st "
        "UNION SELECT s2.id, sst.\"user\" FROM session_slot s2 JOIN session_trainer sst ON sst.session = s2.session "
        "WHERE s2.day >= {} AND s2.day <= {} AND NOT EXISTS (SELECT 1 FROM slot_trainer x WHERE x.slot = s2.id)"
        ") t ON t.slot_id = sl.id JOIN app_user u ON u.id = t.user_id "
        "WHERE sl.day >= {} AND sl.day <= {} "
        "AND EXISTS (SELECT 1 FROM attendance a WHERE a.slot = sl.id AND a.status = 'present')"
    )


TRAINED = {"slot_id": pl.Int64, "session_id": pl.Int64, "minutes": pl.Int64, "user_id": pl.Int64, "status": pl.Utf8}


def _planned_sql() -> str:
    minutes = slot_minutes_sql("sl")
    return (f"SELECT sl.session AS session_id, SUM({minutes}) AS planned, MIN(sl.day) AS first_day, "
            "MAX(sl.day) AS last_day FROM session_slot sl WHERE sl.day >= {} AND sl.day <= {} GROUP BY sl.session")


def _pg_placeholders(sql: str) -> str:
    counter = iter(range(1, 1000))
    return re.sub(r"\{\}", lambda _m: f"${next(counter)}", sql)


async def _frame(sql: str, args: list, schema: dict) -> pl.DataFrame:
    """The rows of ``sql`` as a polars frame: COPY as CSV on PostgreSQL (no Python object per row)."""
    if db.is_sqlite():
        rows = await Enrolment.raw(sql, *args)
        if not rows:
            return pl.DataFrame(schema=schema)
        frame = pl.DataFrame([[r[k] for k in schema] for r in rows], schema=schema, orient="row")
        return frame.with_columns(pl.col(pl.Utf8).fill_null(""))
    buffer = io.BytesIO()
    async with db.engine().pool.acquire() as connection:
        await connection.copy_from_query(_pg_placeholders(sql), *args, output=buffer, format="csv", header=True)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return pl.DataFrame(schema=schema)
    frame = pl.read_csv(buffer, schema=schema)
    return frame.with_columns(pl.col(pl.Utf8).fill_null(""))


def _figure(frame: pl.DataFrame, who: str = "user_id") -> dict:
    """People (distinct) and minutes of these (user, session, minutes) rows, with the rows; every
    person counted (a line alone in its frame, or a « dont » line)."""
    rows = frame.group_by([who, "session_id"]).agg(pl.col("minutes").sum()).sort([who, "session_id"])
    return {"people": rows[who].n_unique(), "minutes": int(rows["minutes"].sum() or 0),
            "rows": [[*r, 1] for r in rows.select(who, "session_id", "minutes").iter_rows()]}


def _exclusive(frame: pl.DataFrame, lines: list[tuple[str, pl.Expr]], eligible: set[int] | None = None) -> dict:
    """The lines of one frame (disjoint filters, in the Cerfa's order): each line keeps the minutes of
    its own rows, but each person counts in the people column of one line only — the one where they
    have the most minutes (ties: the first in the Cerfa's order) — so the lines add up to the total.
    A row is [user, session, minutes, counted]: counted is 1 on the line where the person is counted.
    ``eligible``: only these people may be counted (the « dont » lines of a line)."""
    parts = [frame.filter(cond).select("user_id", "session_id", "minutes").with_columns(pl.lit(rank).alias("rank"))
             for rank, (_key, cond) in enumerate(lines)]
    tagged = pl.concat(parts) if parts else pl.DataFrame(schema={"user_id": pl.Int64, "session_id": pl.Int64,
                                                                  "minutes": pl.Int64, "rank": pl.Int32})
    best = (tagged.group_by(["user_id", "rank"]).agg(pl.col("minutes").sum())
            .sort(["user_id", "minutes", "rank"], descending=[False, True, False])
            .unique(subset=["user_id"], keep="first", maintain_order=True)
            .select("user_id", pl.col("rank").alias("best")))
    rows = (tagged.group_by(["user_id", "session_id", "rank"]).agg(pl.col("minutes").sum())
            .join(best, on="user_id", how="left")
            .with_columns((pl.col("rank") == pl.col("best")).alias("counted")))
    if eligible is not None:
        rows = rows.with_columns(pl.col("counted") & pl.col("user_id").is_in(list(eligible)))
    out = {}
    for rank, (key, _cond) in enumerate(lines):
        line = rows.filter(pl.col("rank") == rank).sort(["user_id", "session_id"])
        out[key] = {"people": line.filter(pl.col("counted"))["user_id"].n_unique(),
                    "minutes": int(line["minutes"].sum() or 0),
                    "rows": [[u, s, m, int(c)] for u, s, m, c in
                             line.select("user_id", "session_id", "minutes", "counted").iter_rows()]}
    return out


def _total(figures: dict, parts: list[str]) -> dict:
    """A frame's total: the sum of its lines, in people and in minutes (each person is in one line)."""
    return {"people": sum(figures[p]["people"] for p in parts), "minutes": sum(figures[p]["minutes"] for p in parts),
            "parts": parts}


def _counted(figure: dict) -> set[int]:
    return {r[0] for r in figure["rows"] if r[3]}


def bpf_figures(attended: pl.DataFrame, sessions: pl.DataFrame, trained: pl.DataFrame) -> dict:
    """Every figure of frames E, F-1 to F-4 and G (keys ``f1.a``, ``f3.rs``, ``e.internal`` …). Within a
    frame the lines add up to the total, in people and in minutes: a person is counted in one line."""
    facts = attended.join(sessions.select("session_id", "delivery", "remote_url", "nsf_code", "objective"),
                          on="session_id", how="inner")
    # A stored code that is not a valid NSF code (the completeness check lists it) is no speciality.
    facts = facts.with_columns(pl.when(pl.col("nsf_code").str.contains(NSF_STORED)).then(pl.col("nsf_code"))
                               .otherwise(pl.lit("")).alias("nsf_code"))
    figures: dict[str, dict] = {}
    # F: the trainees the organisation is responsible for (G, entrusted to it by another one, apart).
    own = facts.filter(pl.col("delivery") != Delivery.subcontracted_in.value)
    kind = pl.col("trainee_type")
    figures.update({f"f1.{k}": v for k, v in _exclusive(
        own, [(k, kind.is_in(F1_LINES[k])) for k in F1_TOTAL_PARTS]).items()})
    # « dont agents publics / élus »: among the people counted in e., by the type of most minutes.
    sub = _exclusive(own, [("e_public", kind.is_in(F1_LINES["e_public"])),
                           ("e_elected", kind.is_in(F1_LINES["e_elected"])),
                           ("e_other", kind == TraineeType.other.value)], eligible=_counted(figures["f1.e"]))
    figures["f1.e_public"], figures["f1.e_elected"] = sub["e_public"], sub["e_elected"]
    figures["f1.total"] = _total(figures, [f"f1.{k}" for k in F1_TOTAL_PARTS])
    figures["f1.remote"] = _figure(own.filter(pl.col("remote_url") != ""))
    figures["f2"] = _figure(own.filter(pl.col("delivery") == Delivery.subcontracted_out.value))
    f3 = _exclusive(own, [(f"f3.{o or 'missing'}", pl.col("objective") == o) for o in OBJECTIVES])
    figures.update(f3)
    figures["f3.total"] = _total(figures, list(f3))
    # F-4: the five specialities with most hours (a code left empty is never one of them), then the rest.
    by_code = (own.filter(pl.col("nsf_code") != "").group_by("nsf_code").agg(pl.col("minutes").sum())
               .sort(["minutes", "nsf_code"], descending=[True, False]))
    top = by_code["nsf_code"].head(TOP_NSF).to_list()
    f4 = _exclusive(own, [(f"f4.{rank}", pl.col("nsf_code") == code) for rank, code in enumerate(top, start=1)]
                    + [("f4.others", ~pl.col("nsf_code").is_in(top))])
    for rank, code in enumerate(top, start=1):
        f4[f"f4.{rank}"]["code"] = code
    figures.update(f4)
    figures["f4.total"] = _total(figures, list(f4))
    figures["g"] = _figure(facts.filter(pl.col("delivery") == Delivery.subcontracted_in.value))
    figures.update(_trainers_figures(trained))
    figures["e.total"] = _total(figures, ["e.internal", "e.external"])
    return figures


def _trainers_figures(trained: pl.DataFrame) -> dict:
    """Frame E: a slot counts once, in the internal line when one of its trainers is internal, else in
    the external line (so internal + external = total); each line counts its distinct trainers (a
    trainer is internal or external, never both). A trainer's row: the minutes of the slots they
    trained that count in their line (0 for an external trainer beside an internal one)."""
    slots = (trained.group_by("slot_id").agg((pl.col("status") == "internal").any().alias("internal"),
                                             pl.col("minutes").first())
             .with_columns(pl.when(pl.col("internal")).then(pl.lit("internal")).otherwise(pl.lit("external"))
                           .alias("line")))
    per_trainer = (trained.unique(subset=["slot_id", "user_id"])
                   .join(slots.select("slot_id", "line"), on="slot_id", how="left")
                   .with_columns(pl.when(pl.col("line") == pl.col("status")).then(pl.col("minutes")).otherwise(0)
                                 .alias("minutes")))
    out = {}
    for status in ("internal", "external"):
        rows = (per_trainer.filter(pl.col("status") == status).group_by(["user_id", "session_id"])
                .agg(pl.col("minutes").sum()).sort(["user_id", "session_id"]))
        out[f"e.{status}"] = {
            "people": rows["user_id"].n_unique(),
            "minutes": int(slots.filter(pl.col("line") == status)["minutes"].sum() or 0),
            "rows": [[*r, 1] for r in rows.select("user_id", "session_id", "minutes").iter_rows()]}
    return out


async def _elus(attended: pl.DataFrame, sessions: pl.DataFrame, year: int) -> dict:
    """Per session with elected officials attending in the year: its title, place, dates in the year,
    planned hours of its slots in the year, number of elected participants and trainers."""
    elected = attended.filter(pl.col("trainee_type") == TraineeType.elected.value)
    ids = sorted(set(elected["session_id"].to_list()))
    if not ids:
        return {"trainings": []}
    start, end = year_bounds(year)
    planned = await _frame(_planned_sql(), [start, end], {"session_id": pl.Int64, "planned": pl.Int64,
                                                          "first_day": pl.Utf8, "last_day": pl.Utf8})
    planned_by = {r["session_id"]: r for r in planned.iter_rows(named=True)}
    info = {r["session_id"]: r for r in sessions.filter(pl.col("session_id").is_in(ids)).iter_rows(named=True)}
    names: dict[int, list[str]] = {}
    rows = await Enrolment.raw(
        "SELECT st.session AS session_id, u.first_name AS first_name, u.last_name AS last_name FROM session_trainer st "
        "JOIN app_user u ON u.id = st.\"user\" WHERE st.session IN (SELECT sl.session FROM session_slot sl "
        "WHERE sl.day >= {} AND sl.day <= {}) ORDER BY u.last_name, u.first_name", start, end)
    for r in rows:
        names.setdefault(r["session_id"], []).append(f"{r['first_name']} {r['last_name']}".strip())
    trainings = []
    for session_id, group in elected.group_by("session_id"):
        session_id = session_id[0] if isinstance(session_id, tuple) else session_id
        s, p = info.get(session_id), planned_by.get(session_id, {})
        if s is None:
            continue
        place = (s["place"] or "").strip()
        if s["remote_url"]:
            place = f"{place} (et à distance)" if place else "À distance"
        figure = _figure(group)
        trainings.append({
            "session_id": session_id, "title": s["title"], "code": s["code"], "place": place,
            "first_day": str(p.get("first_day") or "")[:10], "last_day": str(p.get("last_day") or "")[:10],
            "planned_minutes": int(p.get("planned") or 0), "trainers": names.get(session_id, []), **figure})
    trainings.sort(key=lambda t: (t["first_day"], t["title"], t["session_id"]))
    return {"trainings": trainings}


Step = Callable[[int], Awaitable[None]]
STEPS = 5


async def compute(year: int, step: Step | None = None) -> tuple[dict, dict]:
    """The BPF figures and the élus' report of ``year``; ``step(n)`` after each of the STEPS steps."""
    async def done(n: int) -> None:
        if step is not None:
            await step(n)

    start, end = year_bounds(year)
    attended = await _frame(_attended_sql(), [start, end], ATTENDED)
    await done(1)
    sessions = await _frame(SESSIONS_SQL, [start, end], SESSIONS)
    await done(2)
    trained = await _frame(_trainers_sql(), [start, end, start, end], TRAINED)
    await done(3)
    bpf = {"year": year, "figures": bpf_figures(attended, sessions, trained)}
    await done(4)
    elus = {"year": year, **await _elus(attended, sessions, year)}
    await done(5)
    return bpf, elus
