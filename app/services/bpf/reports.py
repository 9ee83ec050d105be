"""The BPF and élus' report of a year as kept (YearReport, one row per kind and year: a recompute
updates it), the learners behind a figure, the completeness check, and the Excel files."""

from __future__ import annotations

import json
import re
from datetime import date

from app import db
from app.dates import now, today
from app.services.bpf import compute
from app.services.errors import NotFound
from app.tables.accounts import User
from app.tables.catalogue import TrainingSession
from app.tables.learning import Enrolment
from app.tables.quality import ReportKind, YearReport

PAGE_SIZE = 50
FIRST_MISSING = 10  # items of each completeness check shown on the page, before « voir tout »


def last_closed_year() -> int:
    return today().year - 1


def years() -> list[int]:
    """The years offered: the last ten, the current one first."""
    current = today().year
    return list(range(current, current - 11, -1))


FIRST_YEAR = 2000


def parse_year(value) -> int | None:
    """The one reading of a year, from a path, a query or a form: ASCII digits between 2000 and next
    year, else None."""
    text = str(value if value is not None else "").strip()
    if not re.fullmatch(r"[0-9]{4}", text):
        return None
    year = int(text)
    return year if FIRST_YEAR <= year <= today().year + 1 else None


def year_message() -> str:
    return f"Exercice inconnu : choisissez une année entre {FIRST_YEAR} et {today().year + 1}."


def checked_year(value) -> int:
    """The year of a route, or the French « not found » page (never a 500)."""
    year = parse_year(value)
    if year is None:
        raise NotFound(year_message())
    return year


async def store(year: int, bpf: dict, elus: dict, user_id: int | None) -> None:
    """Keep both reports of the year: the row of each kind is updated, never duplicated (the unique
    (kind, year) constraint; an insert racing another falls back to the update)."""
    moment = now()
    # The BPF's rows apart from its figures: the page reads the figures alone (a few KB) and the
    # detail of one figure reads its rows alone, never the whole (MBs for a large year).
    figures_only = {key: {k: v for k, v in figure.items() if k != "rows"} for key, figure in bpf["figures"].items()}
    rows = {key: figure["rows"] for key, figure in bpf["figures"].items() if "rows" in figure}
    bpf = {**bpf, "figures": figures_only, "rows": rows}
    for kind, figures in ((ReportKind.bpf.value, bpf), (ReportKind.elus.value, elus)):
        values = {YearReport.figures: json.dumps(figures), YearReport.computed_at: moment,
                  YearReport.computed_by: user_id}
        updated = await YearReport.update(values).where(
            (YearReport.kind == kind) & (YearReport.year == year)).returning(YearReport.id)
        if not updated:
            try:
                await YearReport.insert(YearReport(kind=kind, year=year, figures=json.dumps(figures),
                                                   computed_at=moment, computed_by=user_id))
            except Exception:  # noqa: BLE001 - another run inserted it first: update that row
                await YearReport.update(values).where((YearReport.kind == kind) & (YearReport.year == year))


def _json_part(column: str, *path: str) -> str:
    """``column``'s JSON at ``path`` (literal keys of ours, never user input), as text."""
    if db.is_sqlite():
        return "json_extract({}, '$.{}')".format(column, ".".join(f'"{p}"' for p in path))
    return "({} {})::text".format(column, " ".join(f"-> '{p}'" for p in path))


async def load(kind: str, year: int) -> dict | None:
    """The kept report (figures decoded, computed_at, computed_by's name), or None before any run. The
    BPF's figures without the rows behind them (``stored_rows`` reads those)."""
    figures_sql = f"{_json_part('r.figures', 'figures')} AS figures" if kind == ReportKind.bpf.value else "r.figures"
    rows = await YearReport.raw(
        f"SELECT r.id, {figures_sql}, r.computed_at, u.first_name, u.last_name FROM year_report r "
        "LEFT JOIN app_user u ON u.id = r.computed_by WHERE r.kind = {} AND r.year = {}", kind, year)
    if not rows:
        return None
    row = rows[0]
    figures = row["figures"]
    figures = json.loads(figures) if isinstance(figures, str) else (figures or {})
    if kind == ReportKind.bpf.value:
        figures = {"year": year, "figures": figures or {}}
    return {"id": row["id"], "figures": figures, "computed_at": row["computed_at"],
            "computed_by": f"{row['first_name'] or ''} {row['last_name'] or ''}".strip()}


def _tagged(rows: list, part: str) -> list[list]:
    """Rows as [user, session, minutes, counted, line]: counted is 1 where the person counts in the
    people column (rows kept before that flag existed count everywhere), line the figure's key."""
    return [[*r[:3], r[3] if len(r) > 3 else 1, part] for r in rows]


def figure_rows(figures: dict, key: str) -> list[list]:
    """The [user, session, minutes, counted, line] rows behind a figure just computed (rows inside);
    a total's are its parts' rows."""
    figure = figures.get(key)
    if figure is None:
        raise NotFound("Ce chiffre n'existe pas dans le bilan de cette année.")
    if "parts" in figure:
        return [row for part in figure["parts"] for row in _tagged(figures.get(part, {}).get("rows", []), part)]
    return _tagged(figure.get("rows", []), key)


async def stored_rows(year: int, figures: dict, key: str) -> list[list[int]]:
    """The rows behind a kept figure (``figures``: the kept figures, as ``load`` gives them), read
    from the YearReport row alone: one query per line (a total reads its parts)."""
    figure = figures.get(key)
    if figure is None:
        raise NotFound("Ce chiffre n'existe pas dans le bilan de cette année.")
    parts = [p for p in (figure.get("parts") or [key]) if p in figures and re.fullmatch(r"[a-z0-9._]+", p)]
    if not parts:
        return []
    columns = ", ".join(f"{_json_part('figures', 'rows', p)} AS r{i}" for i, p in enumerate(parts))
    source = "year_report"
    found = await YearReport.raw(f"SELECT {columns} FROM {source} WHERE kind = {{}} AND year = {{}}",
                                 ReportKind.bpf.value, year)
    out = []
    for part, value in zip(parts, found[0].values() if found else []):
        if value:
            out.extend(_tagged(json.loads(value) if isinstance(value, str) else value, part))
    return out


async def named_rows(rows: list[list], page: int) -> tuple[list[dict], int]:
    """One page of rows ([user, session, minutes] and optionally counted, line), sorted by person then
    session, with the names (one query each)."""
    rows = _tagged(rows, "") if rows and len(rows[0]) < 5 else rows
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    chunk = sorted(rows)[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    users = {r[0] for r in chunk}
    sessions = {r[1] for r in chunk}
    names = {r["id"]: r for r in await User.select(User.id, User.first_name, User.last_name, User.username).where(
        User.id.is_in(list(users) or [0]))}
    titles = {r["id"]: r for r in await TrainingSession.select(
        TrainingSession.id, TrainingSession.code, TrainingSession.full_name).where(
        TrainingSession.id.is_in(list(sessions) or [0]))}
    out = []
    for user_id, session_id, minutes, counted, line in chunk:
        person, session = names.get(user_id, {}), titles.get(session_id, {})
        out.append({"user_id": user_id, "name": f"{person.get('last_name', '')} {person.get('first_name', '')}".strip()
                    or "(compte supprimé)", "username": person.get("username", ""), "session_id": session_id,
                    "session": session.get("full_name", ""), "code": session.get("code", ""), "minutes": minutes,
                    "counted": bool(counted), "line": line})
    return out, pages


# -- completeness --------------------------------------------------------------------------------

MISSING_LABELS = {
    "templates": "Modèles de formation sans code NSF valide ou sans objectif BPF",
    "no_slots": "Sessions de l'année sans aucun créneau",
    "trainee_type": "Inscriptions sans type de stagiaire",
    "no_trainer": "Créneaux sans formateur",
}


def _nsf_invalid_sql(column: str) -> str:
    """True when ``column`` (a stored NSF code) is not 3 ASCII digits and an optional lower-case letter."""
    if db.is_sqlite():
        return f"NOT ({column} GLOB '[0-9][0-9][0-9]' OR {column} GLOB '[0-9][0-9][0-9][a-z]')"
    return f"{column} !~ '^[0-9][0-9][0-9][a-z]?$'"  # no braces: raw SQL's placeholders are {}


def _missing_sql(item: str) -> tuple[str, str]:
    """(the rows of one completeness item, ordered; its count) — {} are the year's first and last day."""
    in_year = "sl.day >= {} AND sl.day <= {}"
    if item == "templates":
        invalid = _nsf_invalid_sql("ct.nsf_code")
        rows = ("SELECT ct.id AS id, ct.code AS code, ct.title AS title, ct.nsf_code AS nsf_code, "
                f"CASE WHEN ct.nsf_code <> '' AND {invalid} THEN 1 ELSE 0 END AS nsf_invalid, "
                "ct.bpf_objective AS objective FROM course_template ct "
                f"WHERE (ct.nsf_code = '' OR {invalid} OR ct.bpf_objective = '') "
                f"AND ct.id IN (SELECT ts.template FROM training_session ts JOIN session_slot sl ON sl.session = ts.id "
                f"WHERE {in_year})")
        return rows + " ORDER BY ct.code, ct.id", rows
    if item == "no_slots":
        rows = ("SELECT ts.id AS id, ts.code AS code, ts.full_name AS title FROM training_session ts "
                "WHERE ts.start_date <= {} AND ts.end_date >= {} AND ts.cancelled_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM session_slot sl WHERE sl.session = ts.id)")
        return rows + " ORDER BY ts.start_date, ts.code", rows
    if item == "trainee_type":
        rows = (f"SELECT e.id AS id, e.session AS session_id, ts.code AS code, ts.full_name AS title, "
                f"u.first_name AS first_name, u.last_name AS last_name FROM enrolment e "
                f"JOIN app_user u ON u.id = e.\"user\" JOIN training_session ts ON ts.id = e.session "
                f"WHERE ({compute.trainee_type_sql()}) = '' AND EXISTS (SELECT 1 FROM attendance a "
                f"JOIN session_slot sl ON sl.id = a.slot WHERE a.enrolment = e.id AND a.status = 'present' AND {in_year})")
        return rows + " ORDER BY ts.code, u.last_name, u.first_name, e.id", rows
    if item == "no_trainer":
        rows = ("SELECT sl.id AS id, sl.session AS session_id, sl.day AS day, sl.starts AS starts, ts.code AS code, "
                "ts.full_name AS title FROM session_slot sl JOIN training_session ts ON ts.id = sl.session "
                f"WHERE {in_year} AND ts.cancelled_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM slot_trainer st WHERE st.slot = sl.id) "
                "AND NOT EXISTS (SELECT 1 FROM session_trainer sst WHERE sst.session = sl.session)")
        return rows + " ORDER BY sl.day, sl.starts, ts.code", rows
    raise NotFound("Vérification inconnue.")


def _args(item: str, year: int) -> list:
    start, end = compute.year_bounds(year)
    return [end, start] if item == "no_slots" else [start, end]


async def missing(item: str, year: int, limit: int, offset: int = 0) -> tuple[list[dict], int]:
    """Rows of one completeness item (``limit`` of them from ``offset``) and their count."""
    ordered, rows = _missing_sql(item)
    args = _args(item, year)
    count = (await Enrolment.raw(f"SELECT COUNT(*) AS n FROM ({rows}) x", *args))[0]["n"]
    found = await Enrolment.raw(f"{ordered} LIMIT {int(limit)} OFFSET {int(offset)}", *args) if count else []
    return found, count


async def completeness(year: int) -> list[dict]:
    """Each completeness item: its key, label, count and first rows."""
    out = []
    for item, label in MISSING_LABELS.items():
        rows, count = await missing(item, year, FIRST_MISSING)
        out.append({"key": item, "label": label, "count": count, "rows": rows})
    return out


def as_date(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
