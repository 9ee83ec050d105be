"""Results of the satisfaction surveys (issue 23, Qualiopi indicator 30): per session, per course
template, per period and phase, and the financers' yearly survey — one aggregation for all.

Two set-based queries feed it: the surveys concerned (their questions, phase and number of people
invited) and the answers (one short JSON text each). The counting is done here in Python, one
json.loads per survey and equal answers counted together: a template's 10,000 answers in under 100 ms
on a busy two-core machine, the page in about 200 ms (bench/survey_results.py).

Questions are grouped across surveys by (question text, type): the « Satisfaction à chaud » of forty
sessions shows as one questionnaire. A choice is counted by its label.

Invited: the session's active enrolments once the survey has opened (invitations.py ``opening``),
and any enrolment with an invitation. Invitations alone would not do: they are made only for mailed
surveys, else on answering (100 % then). A survey not yet open says when (``opens_on``).

Dating: an answer counts in a period on its day (``submitted_on``), an anonymous answer (no day) on
its session's end date; an invited learner on the day of their answer, else on the session's end
date, so that an answer and its invitation always fall in the same period.

Anonymity: free text in alphabetical order; few anonymous answers: counts only (``withheld``).

The satisfaction figure (``satisfaction``) is the one definition of DESIGN23.md, used by these results
and by the published indicators (app/services/indicators.py).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.dates import now as clock_now, short_date_fr, today
from app.services.analytics import read_period
from app.services.surveys.invitations import LAST_SLOT_SQL, opening
from app.services.surveys.questions import load_questions
from app.services.surveys.settings import delays
from app.services.text import fold

from app.datatable import CsvWriter, XlsxWriter
from app.numbers import to_int
from app.services.errors import NotFound
from app.services.scope import Scope
from app.tables.catalogue import CourseTemplate
from app.tables.quality import FinancerSurvey, SurveyResponse

PHASES = {"hot": "À chaud", "cold": "À froid"}
SECTIONS = {"hot": "À chaud", "cold": "À froid", "": "Sans envoi automatique"}
MIN_ANONYMOUS = 5  # under this many answers to an anonymous survey, no detail is shown
WITHHELD = "Moins de 5 réponses anonymes : le détail n'est pas affiché, pour préserver l'anonymat."
TYPES = {"scale5": "Échelle de 1 à 5", "scale10": "Échelle de 1 à 10", "single": "Choix unique",
         "multiple": "Choix multiples", "text": "Réponse libre"}
SCALES = {"scale5": 5, "scale10": 10}
TEXT_PREVIEW = 10  # free-text answers shown per question on the results page
TEXT_PAGE = 50  # per page on the page of one question's free-text answers
MIN_YEAR, MAX_YEAR = 2000, 2100


# -- what is asked --------------------------------------------------------------------------------
@dataclass
class ResultsQuery:
    session: int | None = None
    template: int | None = None
    start: date | None = None
    end: date | None = None
    phase: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)

    def params(self, **overrides) -> dict:
        """The filters as URL query parameters (what is valid), with ``overrides``."""
        params = {"template": self.template or "", "from": self.start.isoformat() if self.start else "",
                  "to": self.end.isoformat() if self.end else "", "phase": self.phase}
        params.update(overrides)
        return {k: v for k, v in params.items() if v not in (None, "")}


def last_12_months(day: date) -> tuple[date, date]:
    """The day after the same day a year earlier, and ``day``: 12 months ending on ``day``."""
    try:
        back = day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        back = day.replace(year=day.year - 1, day=28)
    return back + timedelta(days=1), day


def parse_query(params, session: int | None = None, default_period: bool = False) -> ResultsQuery:
    """The filters of the query string; a value that makes no sense is ignored with a French
    message, what was typed is kept in the form. ``default_period``: no date given → the last 12
    months (the index of every session)."""
    raw = {k: (params.get(k) or "").strip()[:40] for k in ("template", "from", "to", "phase")}
    q = ResultsQuery(session=session, raw=raw)
    q.start, q.end = read_period(raw, q.errors, ("from", "to"))
    if raw["template"]:
        q.template = to_int(raw["template"], low=1)
        if q.template is None:
            q.errors["template"] = "Cours modèle invalide, filtre ignoré."
    if default_period and not raw["from"] and not raw["to"]:
        q.start, q.end = last_12_months(today())
        q.raw["from"], q.raw["to"] = q.start.isoformat(), q.end.isoformat()
    if raw["phase"] in PHASES:
        q.phase = raw["phase"]
    elif raw["phase"]:
        q.errors["phase"] = "Moment du questionnaire invalide, filtre ignoré."
    return q


@dataclass
class Source:
    """One survey: its questions, its phase and how many people were asked."""

    questions: list[dict]
    invited: int = 0
    phase: str = ""
    anonymous: bool = False
    opened: bool = True  # has opened for at least one learner
    opens: datetime | None = None  # when not opened: its opening if known


# -- the two queries ------------------------------------------------------------------------------
def _scope_sql(scope: Scope) -> list[str]:
    if scope.everything:
        return []
    ids = sorted(scope.establishment_ids) or [-1]
    return ["s.establishment IN (" + ", ".join(str(int(i)) for i in ids) + ")"]


def _answers_sql(scope: Scope, q: ResultsQuery) -> tuple[str, list]:
    where, args = ["r.activity IS NOT NULL", *_scope_sql(scope)], []
    for condition, value in (("r.session = {}", q.session), ("r.template = {}", q.template),
                             ("r.phase = {}", q.phase or None),
                             ("COALESCE(r.submitted_on, s.end_date) >= {}", q.start),
                             ("COALESCE(r.submitted_on, s.end_date) <= {}", q.end)):
        if value is not None:
            where.append(condition)
            args.append(value)
    return ("SELECT r.activity AS source, r.answers AS answers FROM survey_response r "
            "JOIN training_session s ON s.id = r.session WHERE " + " AND ".join(where) + " ORDER BY r.id", args)


def _sources_sql(scope: Scope, q: ResultsQuery) -> tuple[str, list]:
    """The surveys with, per group of their session's enrolments, how many there are with an
    invitation and how many active without one (in the period: an invitation on its day of answer,
    else the session's end). ``completed_at`` only splits the groups of a session without slots,
    whose opening depends on it (app/services/surveys/invitations.py ``opening``)."""
    where, args = ["a.kind = 'survey'", *_scope_sql(scope)], []
    if q.session is not None:
        where.append("a.session = {}")
        args.append(q.session)
    if q.template is not None:
        # The session's template now, or the one its answers were given under.
        where.append("(s.template = {} OR a.id IN (SELECT x.activity FROM survey_response x WHERE x.template = {}))")
        args += [q.template, q.template]
    if q.phase:
        where.append("a.survey_phase = {}")
        args.append(q.phase)
    within, period = [], []
    for condition, value in (("COALESCE(i.answered_on, src.end_date) >= {}", q.start),
                             ("COALESCE(i.answered_on, src.end_date) <= {}", q.end)):
        if value is not None:
            within.append(" AND " + condition)
            period.append(value)
    within = "".join(within)
    # Counted per survey (and per completion day of a session without slots) in ``agg``; the
    # questions' text joined afterwards, never grouped on.
    sql = ("WITH src AS (SELECT a.id, a.survey_phase, a.anonymous, a.session, s.start_date, s.end_date, "
           f"{LAST_SLOT_SQL} FROM session_activity a JOIN training_session s ON s.id = a.session "
           "WHERE " + " AND ".join(where) + "), "
           "agg AS (SELECT src.id AS id, CASE WHEN src.last_day IS NULL THEN e.completed_at END AS completed_at, "
           f"COUNT(i.id) FILTER (WHERE e.id IS NOT NULL{within}) AS invitations, "
           f"COUNT(e.id) FILTER (WHERE i.id IS NULL AND e.active{within}) AS others "
           "FROM src LEFT JOIN enrolment e ON e.session = src.session "
           "LEFT JOIN survey_invitation i ON i.activity = src.id AND i.enrolment = e.id "
           "GROUP BY src.id, CASE WHEN src.last_day IS NULL THEN e.completed_at END) "
           "SELECT src.id AS id, a.quiz AS questions, src.survey_phase AS phase, src.anonymous AS anonymous, "
           "src.start_date AS start_date, src.end_date AS end_date, src.last_day AS last_day, "
           "src.last_ends AS last_ends, agg.completed_at AS completed_at, agg.invitations AS invitations, "
           "agg.others AS others FROM agg JOIN src ON src.id = agg.id JOIN session_activity a ON a.id = src.id "
           "ORDER BY src.id")
    return sql, args + period * 2


def _sources(rows: list[dict], moment: datetime, cold_days: int) -> dict:
    """The surveys from the rows of ``_sources_sql``: invited = the enrolments with an invitation,
    and the active ones for whom the survey has opened (the rule of invitations.opening)."""
    sources: dict = {}
    for r in rows:
        source = sources.get(r["id"])
        if source is None:
            source = sources[r["id"]] = Source(load_questions(r["questions"]), 0, r["phase"] or "",
                                               bool(r["anonymous"]), False, None)
        last = (r["last_day"], r["last_ends"]) if r["last_day"] is not None else None
        opens = opening(source.phase, r["start_date"], last, r["completed_at"], cold_days, r["end_date"])
        is_open = opens is not None and opens <= moment
        source.invited += int(r["invitations"] or 0) + (int(r["others"] or 0) if is_open else 0)
        if is_open or r["invitations"]:
            source.opened, source.opens = True, None
        elif not source.opened and opens is not None:
            source.opens = min(source.opens or opens, opens)
    return sources


async def fetch(scope: Scope, q: ResultsQuery, moment: datetime | None = None,
                cold_days: int | None = None) -> tuple[dict, list[tuple]]:
    """The surveys (``Source`` by activity id) and the answers ((activity id, JSON)) within the
    caller's scope and the filters: two queries (and the cold delay's setting)."""
    if cold_days is None:
        cold_days = (await delays())["survey_cold_days"]
    sql, args = _sources_sql(scope, q)
    rows = await SurveyResponse.raw(sql, *args)
    sql, args = _answers_sql(scope, q)
    answers = [(r["source"], r["answers"]) for r in await SurveyResponse.raw(sql, *args)]
    answered = {source for source, _ in answers}
    sources = {key: source for key, source in _sources(rows, moment or clock_now(), cold_days).items()
               # A survey nobody was asked nor answered in the period adds nothing but empty questions.
               if q.session is not None or source.invited or key in answered}
    return sources, answers


async def fetch_financers(year: int) -> tuple[dict | None, dict, list[tuple]]:
    """The financers' survey of ``year`` (or None), as a source, and its answers."""
    survey = await FinancerSurvey.select(FinancerSurvey.id, FinancerSurvey.year, FinancerSurvey.title,
                                         FinancerSurvey.questions).where(FinancerSurvey.year == year).first()
    if survey is None:
        return None, {}, []
    invited = await SurveyResponse.raw("SELECT COUNT(*) AS n FROM financer_invitation WHERE survey = {}", survey["id"])
    answers = await SurveyResponse.raw(
        "SELECT financer_survey AS source, answers FROM survey_response WHERE financer_survey = {} ORDER BY id",
        survey["id"])
    sources = {survey["id"]: Source(load_questions(survey["questions"]), int(invited[0]["n"]), "")}
    return survey, sources, [(r["source"], r["answers"]) for r in answers]


async def financer_years() -> list[int]:
    return [r["year"] for r in await FinancerSurvey.select(FinancerSurvey.year).order_by(FinancerSurvey.year,
                                                                                          ascending=False)]


async def template_or_404(template_id: int) -> dict:
    row = await CourseTemplate.select(CourseTemplate.id, CourseTemplate.code, CourseTemplate.title).where(
        CourseTemplate.id == template_id).first()
    if row is None:
        raise NotFound("Cours modèle introuvable.")
    return row


# -- the counting ---------------------------------------------------------------------------------
def _parse(answers: str | None) -> dict:
    try:
        value = json.loads(answers or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _valid_index(value, choices: list) -> bool:
    return type(value) is int and 0 <= value < len(choices)


class _Group:
    """One question as shown: the same (text, type) across every survey counted."""

    def __init__(self, text: str, kind: str):
        self.text, self.kind = text, kind
        self.answered = 0
        self.counts: dict = {v: 0 for v in range(1, SCALES[kind] + 1)} if kind in SCALES else {}
        self.total = 0
        self.texts: list[str] = []

    def add_many(self, question: dict, values: list) -> None:
        """Count one survey's answers to this question (what is not a valid answer is no answer).
        Equal answers are counted together (``Counter``, in C): a template's 10,000 answers hold a
        handful of distinct values per question."""
        kind, choices = self.kind, question.get("choices") or []
        if kind == "text":
            for value in values:
                if isinstance(value, str) and value.strip():
                    self.texts.append(value.strip())
                    self.answered += 1
            return
        if kind == "multiple":
            counted = Counter(tuple(v) for v in values if type(v) is list)
        else:  # a bool is no answer (and would count as 1 in a Counter)
            counted = Counter(v for v in values if type(v) is int)
        top = SCALES.get(kind)
        for value, n in counted.items():
            if top:
                if 1 <= value <= top:
                    self.counts[value] += n
                    self.total += value * n
                    self.answered += n
            elif kind == "single":
                if 0 <= value < len(choices):
                    label = str(choices[value])
                    self.counts[label] = self.counts.get(label, 0) + n
                    self.answered += n
            else:
                picked = sorted({i for i in value if _valid_index(i, choices)})
                for index in picked:
                    label = str(choices[index])
                    self.counts[label] = self.counts.get(label, 0) + n
                self.answered += n if picked else 0

    def declare_choices(self, question: dict) -> None:
        """Every choice shows, even one nobody picked."""
        if self.kind in ("single", "multiple"):
            for label in question.get("choices") or []:
                self.counts.setdefault(str(label), 0)

    def as_dict(self) -> dict:
        n = self.answered
        rows = [{"label": str(k), "count": c, "percent": round(c * 100 / n, 1) if n else 0.0}
                for k, c in self.counts.items()]
        average = round(self.total / n, 2) if n and self.kind in SCALES else None
        return {"text": self.text, "type": self.kind, "type_label": TYPES[self.kind], "answered": n,
                "average": average, "scale": SCALES.get(self.kind), "rows": rows, "texts": self.texts,
                "chart": [(r["label"], r["percent"]) for r in rows], "desc": _chart_desc(n, rows, average)}


def _fr(value: float) -> str:
    return str(value).replace(".", ",")


def _chart_desc(answered: int, rows: list[dict], average: float | None) -> str:
    """The chart's text alternative: every bar's figures."""
    if not answered:
        return "Aucune réponse."
    parts = "; ".join(f"{r['label']} : {r['count']} ({_fr(r['percent'])} %)" for r in rows)
    return f"Répartition des {answered} réponses : {parts}." + ("" if average is None else f" Moyenne {_fr(average)}.")


def _by_source(sources: dict, answers: list[tuple]) -> dict:
    """The answers of each survey, parsed: {survey: [dict, …]} (one json.loads a survey)."""
    texts: dict = {}
    for key, text in answers:
        if key in sources:
            texts.setdefault(key, []).append(text or "{}")
    parsed = {}
    for key, items in texts.items():
        try:
            batch = json.loads("[" + ",".join(items) + "]")
        except ValueError:  # one unreadable answer: each on its own
            batch = [_parse(text) for text in items]
        parsed[key] = [v if type(v) is dict else {} for v in batch]
    return parsed


def aggregate(sources: dict, answers: list[tuple], one_session: bool = False) -> dict:
    """Every figure of the results page from the surveys and their answers (see the module's doc).
    Free-text answers are in alphabetical order (never the order of answering, which could be
    matched with the invitations). Fewer than ``MIN_ANONYMOUS`` anonymous answers — in one
    session's view, or wherever every answer counted is anonymous — show their counts only
    (``withheld``)."""
    groups: dict[tuple, _Group] = {}
    parsed = _by_source(sources, answers)
    for key, source in sources.items():
        items = parsed.get(key, [])
        for index, question in enumerate(source.questions):
            gk = (" ".join(str(question.get("text", "")).split()), question["type"])
            group = groups.get(gk) or groups.setdefault(gk, _Group(*gk))
            group.declare_choices(question)
            if items:
                index = str(index)
                group.add_many(question, [v[index] for v in items if index in v])
    for group in groups.values():
        group.texts.sort(key=lambda t: (fold(t), t))
    counted = sum(len(items) for items in parsed.values())
    invited = sum(s.invited for s in sources.values())
    pending = [s.opens for s in sources.values() if not s.opened]
    anonymous = sum(len(parsed.get(k, [])) for k, s in sources.items() if s.anonymous)
    withheld = 0 < anonymous < MIN_ANONYMOUS and (one_session or anonymous == counted)
    result = {"invited": invited, "answers": counted,
              "rate": round(counted * 100 / invited, 1) if invited else None,
              "satisfaction": _satisfaction(sources, parsed),
              "questions": [g.as_dict() for g in groups.values()], "withheld": withheld,
              # Not open yet: no survey has opened, none answered (``opens_on``: its day when known).
              "not_open": bool(pending) and len(pending) == len(sources) and not counted,
              "opens_on": short_date_fr(min((d for d in pending if d is not None), default=None))}
    return withhold(result) if withheld else result


def withhold(result: dict) -> dict:
    """The result with its counts only: no distribution, average nor free text."""
    return {**result, "withheld": True,
            "questions": [{**x, "rows": [], "texts": [], "chart": [], "average": None, "desc": ""}
                          for x in result["questions"]],
            "satisfaction": {"average": None, "responses": result["satisfaction"]["responses"]}}


def sections(sources: dict, answers: list[tuple], one_session: bool = False) -> list[dict]:
    """The results of each questionnaire's moment apart (« À chaud », « À froid », …): all moments
    together would mix their questions."""
    out = []
    for phase, label in SECTIONS.items():
        keys = {k for k, s in sources.items() if s.phase == phase}
        if keys:
            part = aggregate({k: sources[k] for k in keys}, [a for a in answers if a[0] in keys], one_session)
            out.append({**part, "phase": phase, "label": label})
    return out


def satisfaction(sources: dict, answers: list[tuple]) -> dict:
    """The satisfaction figure (DESIGN23.md): the mean, over the answers to « à chaud » surveys, of
    every scale answer brought to /5 (a 1–10 answer v counts v / 2), with the number of answers that
    hold at least one scale answer. ``average`` is None when there is none. ``answers``: (survey,
    JSON text) pairs, as ``fetch`` gives them."""
    return _satisfaction(sources, _by_source(sources, answers))


def _satisfaction(sources: dict, parsed: dict) -> dict:
    total, values, responses = 0.0, 0, 0
    for key, items in parsed.items():
        source = sources[key]
        asked = [(str(i), SCALES[q["type"]], 2 if q["type"] == "scale10" else 1)
                 for i, q in enumerate(source.questions) if q["type"] in SCALES]
        if source.phase != "hot" or not asked:
            continue
        counted = set()  # positions of the answers holding a valid scale answer
        for index, top, divisor in asked:
            given = [(pos, v[index]) for pos, v in enumerate(items) if index in v]
            valid = [(pos, x) for pos, x in given if type(x) is int and 1 <= x <= top]
            counted.update(pos for pos, _ in valid)
            total += sum(x for _, x in valid) / divisor
            values += len(valid)
        responses += len(counted)
    return {"average": round(total / values, 2) if values else None, "responses": responses}


def text_page(result: dict, question: int, page: int) -> dict:
    """One page of a question's free-text answers (the results page shows the first few)."""
    questions = [q for q in result["questions"] if q["type"] == "text"]
    if not 0 <= question < len(result["questions"]) or result["questions"][question]["type"] != "text":
        raise NotFound("Question introuvable.")
    texts = result["questions"][question]["texts"]
    pages = max(1, -(-len(texts) // TEXT_PAGE))
    page = min(max(1, page), pages)
    return {"question": result["questions"][question], "index": question, "page": page, "pages": pages,
            "texts": texts[(page - 1) * TEXT_PAGE: page * TEXT_PAGE], "first": (page - 1) * TEXT_PAGE + 1,
            "text_questions": len(questions)}


# -- downloads ------------------------------------------------------------------------------------
def _summary(result: dict) -> list[list]:
    s = result["satisfaction"]
    return [["Personnes invitées", result["invited"]], ["Réponses", result["answers"]],
            ["Taux de réponse (%)", result["rate"]],
            ["Satisfaction à chaud (/5)", s["average"]], ["Réponses comptées pour la satisfaction", s["responses"]]]


def _figures(result: dict) -> list[list]:
    rows = []
    for q in result["questions"]:
        if q["type"] == "text":
            rows.append([q["text"], q["type_label"], "", q["answered"], None, None])
        for r in q["rows"]:
            rows.append([q["text"], q["type_label"], r["label"], r["count"], r["percent"], q["average"]])
    return rows


FIGURE_HEADERS = ["Question", "Type", "Réponse", "Nombre", "Pourcentage (%)", "Moyenne"]


def _texts(result: dict) -> list[list]:
    return [[q["text"], t] for q in result["questions"] if q["type"] == "text" for t in q["texts"]]


def workbook(result: dict, heading: tuple[str, ...]) -> bytes:
    """Synthesis, figures per question and the free-text answers, a sheet each (formula-safe)."""
    writer = XlsxWriter(["Indicateur", "Valeur"], sheet="Synthèse", heading=heading)
    try:
        writer.write_rows(_summary(result))
        writer.add_sheet("Questions", FIGURE_HEADERS)
        writer.write_rows(_figures(result))
        writer.add_sheet("Réponses libres", ["Question", "Réponse"])
        writer.write_rows(_texts(result))
        return writer.close()
    finally:
        writer.discard()


def csv_bytes(result: dict, heading: tuple[str, ...]) -> bytes:
    """One table: the figures per question, then every free-text answer (« ; », BOM, formula-safe)."""
    writer = CsvWriter(FIGURE_HEADERS, heading=heading)
    writer.write_rows([[None, None, label, value, None, None] for label, value in _summary(result)])
    writer.write_rows(_figures(result))
    writer.write_rows([[question, "Réponse libre", answer, None, None, None] for question, answer in _texts(result)])
    return writer.close()


def filename(label: str) -> str:
    """A download's name from what it is about: letters (accents kept, the ASCII fallback of the
    Content-Disposition drops them), digits and « _ »."""
    return re.sub(r"[\W_]+", "_", label).strip("_")[:80] or "Questionnaires"
