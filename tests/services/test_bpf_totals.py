"""The BPF's frames add up (review of issue 23): within a frame each person counts in one line of the
people column, the lines' minutes stay where they belong, each total is the sum of its lines (people
and rounded hours); frame E counts a shared slot once; the NSF code is ASCII; the élus' hours are French."""

from __future__ import annotations

import polars as pl
import pytest

from app.services.bpf import compute, labels, layout, reports
from app.services.catalogue import TemplateForm
from app.tables.catalogue import CourseTemplate
from app.validation import declared_errors
from tests.services.test_bpf import YEAR, build


def _attended(rows: list[tuple[int, int, str, int]]) -> pl.DataFrame:
    """(user, session, trainee type, minutes) rows."""
    return pl.DataFrame({"enrolment": list(range(1, len(rows) + 1)), "user_id": [r[0] for r in rows],
                         "session_id": [r[1] for r in rows], "trainee_type": [r[2] for r in rows],
                         "minutes": [r[3] for r in rows]}, schema=compute.ATTENDED)


def _sessions(rows: list[tuple[int, str, str]]) -> pl.DataFrame:
    """(session, NSF code, objective) rows, all the organisation's own."""
    n = len(rows)
    return pl.DataFrame({"session_id": [r[0] for r in rows], "title": ["x"] * n, "code": ["x"] * n,
                         "delivery": ["own"] * n, "remote_url": [""] * n, "place": [""] * n,
                         "template_id": [r[0] for r in rows], "nsf_code": [r[1] for r in rows],
                         "objective": [r[2] for r in rows]}, schema=compute.SESSIONS)


def _trained(rows: list[tuple[int, int, int, int, str]]) -> pl.DataFrame:
    """(slot, session, minutes, trainer, status) rows."""
    return pl.DataFrame({"slot_id": [r[0] for r in rows], "session_id": [r[1] for r in rows],
                         "minutes": [r[2] for r in rows], "user_id": [r[3] for r in rows],
                         "status": [r[4] for r in rows]}, schema=compute.TRAINED)


def test_a_person_counts_in_one_line_the_one_with_most_minutes_ties_in_the_cerfa_order():
    # Person 1: 90 min « rs » and 90 min « vae » (tie: « rs » comes first in the Cerfa); person 2:
    # 60 min private employee (a.) and 120 min public agent (e.); person 3: apprentice only.
    attended = _attended([(1, 1, "public_agent", 90), (1, 2, "public_agent", 90),
                          (2, 1, "private_employee", 60), (2, 3, "public_agent", 120), (3, 3, "apprentice", 30)])
    sessions = _sessions([(1, "315", "rs"), (2, "331", "vae"), (3, "315", "rs")])
    f = compute.bpf_figures(attended, sessions, pl.DataFrame(schema=compute.TRAINED))
    order = [o for o in compute.OBJECTIVES if o]
    assert order.index("rs") < order.index("vae")
    assert (f["f3.rs"]["people"], f["f3.rs"]["minutes"]) == (3, 90 + 60 + 120 + 30)
    assert (f["f3.vae"]["people"], f["f3.vae"]["minutes"]) == (0, 90)
    assert (f["f1.a"]["people"], f["f1.a"]["minutes"]) == (0, 60)
    assert (f["f1.b"]["people"], f["f1.e"]["people"]) == (1, 2)
    assert f["f1.e_public"]["people"] == 2
    for frame in ("f1", "f3", "f4"):
        total = f[f"{frame}.total"]
        assert total["people"] == 3 == sum(f[p]["people"] for p in total["parts"]), frame
        assert total["minutes"] == 390 == sum(f[p]["minutes"] for p in total["parts"]), frame
    # F-4: 315 has 300 minutes, 331 has 90: person 1 (90 + 90) is counted in 315, the first line.
    assert (f["f4.1"]["code"], f["f4.1"]["people"], f["f4.2"]["people"]) == ("315", 3, 0)


def test_the_dont_lines_count_only_people_of_their_line():
    # Person 1: 200 min private employee, 100 min public agent → counted in a., not in « dont agents publics ».
    # Person 2: 100 min public agent, 150 min elected → e., « dont élus » only.
    attended = _attended([(1, 1, "private_employee", 200), (1, 2, "public_agent", 100),
                          (2, 2, "public_agent", 100), (2, 3, "elected", 150)])
    f = compute.bpf_figures(attended, _sessions([(1, "315", "rs"), (2, "315", "rs"), (3, "315", "rs")]),
                            pl.DataFrame(schema=compute.TRAINED))
    assert (f["f1.a"]["people"], f["f1.e"]["people"]) == (1, 1)
    assert (f["f1.e_public"]["people"], f["f1.e_public"]["minutes"]) == (0, 200)
    assert (f["f1.e_elected"]["people"], f["f1.e_elected"]["minutes"]) == (1, 150)


def test_frame_e_counts_a_shared_slot_once_internal_first():
    # Slot 1 (60 min): internal 10 and external 20; slot 2 (90 min): external 20 and 21; slot 3 (30): internal 10.
    trained = _trained([(1, 1, 60, 10, "internal"), (1, 1, 60, 20, "external"), (2, 1, 90, 20, "external"),
                        (2, 1, 90, 21, "external"), (3, 2, 30, 10, "internal")])
    f = compute.bpf_figures(_attended([]), _sessions([]), trained)
    assert (f["e.internal"]["people"], f["e.internal"]["minutes"]) == (1, 90)
    assert (f["e.external"]["people"], f["e.external"]["minutes"]) == (2, 90)
    assert (f["e.total"]["people"], f["e.total"]["minutes"]) == (3, 180)
    assert sorted(f["e.external"]["rows"]) == [[20, 1, 90, 1], [21, 1, 90, 1]]


def test_a_total_is_the_sum_of_its_rounded_lines():
    # Two lines of 90 minutes: 2 h each (half up), so 4 h in total, not round(180 min) = 3 h.
    attended = _attended([(1, 1, "private_employee", 90), (2, 2, "job_seeker", 90)])
    f = compute.bpf_figures(attended, _sessions([(1, "315", "rs"), (2, "315", "rs")]),
                            pl.DataFrame(schema=compute.TRAINED))
    (f1,) = [frame for frame in layout.frames(f) if frame["code"] == "F-1"]
    hours = {line["key"]: line["hours"] for line in f1["lines"]}
    assert hours["f1.a"] == hours["f1.c"] == 2 and hours["f1.total"] == 4
    assert layout.ROUNDING_NOTE == "heures arrondies à l'heure la plus proche, ligne par ligne"


def test_a_missing_line_with_minutes_but_nobody_counted_is_shown():
    # Person 1: 120 min typed (a.), 60 min without a type: counted in a.; the missing line keeps 60 min.
    attended = _attended([(1, 1, "private_employee", 120), (1, 2, "", 60)])
    f = compute.bpf_figures(attended, _sessions([(1, "315", "rs"), (2, "315", "rs")]),
                            pl.DataFrame(schema=compute.TRAINED))
    (f1,) = [frame for frame in layout.frames(f) if frame["code"] == "F-1"]
    lines = {line["key"]: line for line in f1["lines"]}
    assert lines["f1.missing"]["people"] == 0 and lines["f1.missing"]["hours"] == 1
    assert lines["f1.total"]["hours"] == 3


def test_the_nsf_code_takes_ascii_digits_only():
    for code in ("٣١٥", "３１５", "315é", "315P1"):
        assert "nsf_code" in declared_errors(TemplateForm(code="T9", title="Modèle", nsf_code=code)), code
        with pytest.raises(ValueError):
            labels.clean_nsf(code)
    assert "nsf_code" not in declared_errors(TemplateForm(code="T9", title="Modèle", nsf_code="315P"))
    assert labels.clean_nsf("315") == "315"


async def test_a_stored_invalid_nsf_code_is_listed_and_is_no_speciality(demo):
    d = await build()
    await CourseTemplate.update({CourseTemplate.nsf_code: "٣١٥"}).where(CourseTemplate.id == d.templates["t2"])
    checks = {c["key"]: c for c in await reports.completeness(YEAR)}
    listed = {r["id"]: r for r in checks["templates"]["rows"]}
    assert set(listed) == {d.templates["t2"], d.templates["t3"]}
    assert listed[d.templates["t2"]]["nsf_invalid"] == 1 and listed[d.templates["t3"]]["nsf_invalid"] == 0
    bpf, _ = await compute.compute(YEAR)
    f = bpf["figures"]
    assert [f[k]["code"] for k in f if k.startswith("f4.") and "code" in f[k]] == ["315"]
    assert f["f4.others"]["minutes"] == 360 + 540


def test_the_elus_hours_are_numbers_whole_when_whole():
    rows = layout.elus_rows([{"title": "A", "place": "", "first_day": "2025-03-01", "last_day": "2025-03-01",
                              "planned_minutes": 840, "people": 2, "trainers": []},
                             {"title": "B", "place": "", "first_day": "2025-03-01", "last_day": "2025-03-02",
                              "planned_minutes": 210, "people": 1, "trainers": []}])
    assert rows[0][3] == 14 and isinstance(rows[0][3], int)
    assert rows[1][3] == 3.5


def test_one_reading_of_a_year():
    from app.dates import today

    assert reports.parse_year("2025") == 2025 and reports.parse_year(" 2000 ") == 2000
    assert reports.parse_year(str(today().year + 1)) == today().year + 1
    for bad in (None, "", "abc", "-1", "0", "1999", "10000", str(today().year + 2), "٢٠٢٥", "2025.0"):
        assert reports.parse_year(bad) is None, bad
