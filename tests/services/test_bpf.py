"""The BPF (Cerfa 10443) and the élus' report against a hand-computed dataset (issue 23).

Year 2025. Slots: 9:00–12:30 and 13:30–17:00 are 210 minutes, 9:00–12:00 and 14:00–17:00 are 180.

- S1 (template T1: NSF 315, objective « other »; own): 30/12/2025 morning and afternoon, 02/01/2026
  morning. L1 present at all three; L2 present the morning, excused the afternoon, absent in 2026.
  Trainers A and C (internal) and B (external) all on the first slot (SlotTrainer rows); the second
  has no SlotTrainer row: every trainer of the session trains it.
- S2 (T2: NSF 331, objective « rs »; own, remote): 10/06/2025 9–12. L1 again (one person, hours
  summed), L3 (typed « private_employee » by hand over the default public_agent), L7 (an outside
  account with no establishment nor status: missing type). No trainer.
- S3 (T3: no NSF, no objective; subcontracted_out): 01/03/2025 14–17, place « Salle du conseil ».
  L4 (outside, enrolled through a registration request with a mandate: elected), L5 (status elected).
  Trainer D (external, session trainer only).
- S4 (T1; subcontracted_in): 01/04/2025 9–12. L6 present (public agent) → frame G only.
- S5 (T1): dated in 2025, no slot.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, time

import openpyxl
import polars as pl
import pytest

from app.services import attendance
from app.services import slots as slot_service
from app.services.bpf import compute, reports
from app.services.enrolments import add_sources
from app.services.text import user_text_fields
from app.tables.accounts import User
from app.tables.catalogue import CourseTemplate, SessionSlot, TrainingSession
from app.tables.learning import Enrolment, SourceKind
from app.tables.quality import YearReport
from app.tables.registration import RefItem, RegistrationRequest
from tests import factories

YEAR = 2025


@dataclass
class Dataset:
    est: int
    sessions: dict[str, int]
    users: dict[str, int]
    trainers: dict[str, int]
    templates: dict[str, int]


async def _template(code: str, nsf: str, objective: str) -> int:
    return (await CourseTemplate.insert(CourseTemplate(code=code, title=f"Modèle {code}", short_name=code,
                                                       nsf_code=nsf, bpf_objective=objective))
            .returning(CourseTemplate.id))[0]["id"]


async def _session(est: int, code: str, template: int, slots: list[tuple[date, time, time]], **fields) -> int:
    days = [s[0] for s in slots] or [date(YEAR, 5, 5)]
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=est, template=template, full_name=f"Session {code}", short_name=code, code=code,
        start_date=min(days), end_date=max(days), **fields)).returning(TrainingSession.id))[0]["id"]
    if slots:
        await slot_service.replace(session_id, [slot_service.Slot(*s) for s in slots])
    return session_id


async def _outsider(name: str, status: str = "") -> int:
    username = f"ext.{name.lower()}"
    return (await User.insert(User(
        username=username, password_hash="x", first_name=name, last_name="Dehors", email=f"{username}@example.org",
        status=status, external=True, **user_text_fields(name, "Dehors", username, f"{username}@example.org")))
        .returning(User.id))[0]["id"]


async def _slot_ids(session_id: int) -> list[int]:
    return [r["id"] for r in await SessionSlot.select(SessionSlot.id).where(
        SessionSlot.session == session_id).order_by(SessionSlot.day, SessionSlot.starts)]


async def _enrolment(session_id: int, user_id: int) -> int:
    return (await Enrolment.select(Enrolment.id).where(
        (Enrolment.session == session_id) & (Enrolment.user == user_id)).first())["id"]


async def build() -> Dataset:
    est = await factories.establishment()
    t1 = await _template("T1", "315", "other")
    t2 = await _template("T2", "331", "rs")
    t3 = await _template("T3", "", "")
    morning, noon, afternoon, evening = time(9), time(12, 30), time(13, 30), time(17)
    s1 = await _session(est, "25T1S1", t1, [(date(2025, 12, 30), morning, noon), (date(2025, 12, 30), afternoon, evening),
                                             (date(2026, 1, 2), morning, noon)])
    s2 = await _session(est, "25T2S1", t2, [(date(2025, 6, 10), morning, time(12))], remote_url="https://visio.example.org/s2")
    s3 = await _session(est, "25T3S1", t3, [(date(2025, 3, 1), time(14), evening)], delivery="subcontracted_out",
                        place="Salle du conseil, Lyon")
    s4 = await _session(est, "25T1S2", t1, [(date(2025, 4, 1), morning, time(12))], delivery="subcontracted_in")
    s5 = await _session(est, "25T1S3", t1, [])
    l1, l2, l3, l6 = await factories.learners(est, 4, prefix="bpf")
    l4 = await _outsider("Lucie")
    l5 = await _outsider("Marc", status="elected")
    l7 = await _outsider("Zoe")
    await add_sources(s1, [l1, l2], SourceKind.manual)
    await add_sources(s2, [l1, l3, l7], SourceKind.manual)
    mandate = (await RefItem.insert(RefItem(kind="mandate", label="Conseiller municipal")).returning(RefItem.id))[0]["id"]
    request = (await RegistrationRequest.insert(RegistrationRequest(
        reference="BPF-1", status="confirmed", session=s3, user=l4, mandate=mandate, first_name="Lucie",
        last_name="Dehors", email="ext.lucie@example.org")).returning(RegistrationRequest.id))[0]["id"]
    await add_sources(s3, [l4], SourceKind.registration, request=request)
    await add_sources(s3, [l5], SourceKind.manual)
    await add_sources(s4, [l6], SourceKind.manual)
    await Enrolment.update({Enrolment.trainee_type: "private_employee"}).where(
        (Enrolment.session == s2) & (Enrolment.user == l3))
    # Trainers: A and C internal (an establishment), B and D external.
    s1_slots = await _slot_ids(s1)
    a = await factories.trainer(s1, [s1_slots[0]], establishment_id=est)
    b = await factories.trainer(s1, [s1_slots[0]])
    c = await factories.trainer(s1, [s1_slots[0]], establishment_id=est)
    d = await factories.trainer(s3)
    e1, e2 = await _enrolment(s1, l1), await _enrolment(s1, l2)
    await attendance.save(None, s1, {(e1, s1_slots[0]): "present", (e1, s1_slots[1]): "present",
                                     (e1, s1_slots[2]): "present", (e2, s1_slots[0]): "present",
                                     (e2, s1_slots[1]): "excused", (e2, s1_slots[2]): "absent"}, reason="Maladie")
    for session_id, people in ((s2, [l1, l3, l7]), (s3, [l4, l5]), (s4, [l6])):
        (slot,) = await _slot_ids(session_id)
        await attendance.save(None, session_id, {(await _enrolment(session_id, u), slot): "present" for u in people})
    return Dataset(est, {"s1": s1, "s2": s2, "s3": s3, "s4": s4, "s5": s5},
                   {"l1": l1, "l2": l2, "l3": l3, "l4": l4, "l5": l5, "l6": l6, "l7": l7},
                   {"a": a, "b": b, "c": c, "d": d}, {"t1": t1, "t2": t2, "t3": t3})


def _pm(figures: dict, key: str) -> tuple[int, int]:
    return figures[key]["people"], figures[key]["minutes"]


@pytest.fixture
async def dataset(demo):
    return await build()


@pytest.mark.smoke
async def test_bpf_figures_against_the_hand_computed_dataset(dataset):
    d = dataset
    bpf, elus = await compute.compute(YEAR)
    f = bpf["figures"]
    # F-1: L3 typed by hand (a.); L1 in two sessions counts once, 420 + 180 minutes; L2's excused slot
    # gives nothing; the 2026 slot of S1 is not in 2025; S4 (entrusted to us) is not in F.
    assert _pm(f, "f1.a") == (1, 180)
    assert _pm(f, "f1.b") == _pm(f, "f1.c") == _pm(f, "f1.d") == (0, 0)
    assert _pm(f, "f1.e") == (4, 600 + 210 + 180 + 180)
    assert _pm(f, "f1.e_public") == (2, 810)
    assert _pm(f, "f1.e_elected") == (2, 360)  # L4 from a request with a mandate, L5 by status
    assert _pm(f, "f1.missing") == (1, 180)
    assert _pm(f, "f1.total") == (6, 1530)
    assert _pm(f, "f1.remote") == (3, 540)
    assert _pm(f, "f2") == (2, 360)
    assert _pm(f, "g") == (1, 180)
    # F-3 and F-4: L1 is in two lines (S1: « other » / 315, 420 min; S2: « rs » / 331, 180 min). Each
    # frame's lines add up to its total, in people and in minutes (the Cerfa's totals are sums): L1 is
    # counted in the people of the line where L1 has most minutes (« other », 315) only, and L1's 180
    # minutes of S2 stay on the « rs » / 331 line. (Before, the « rs » line counted 3 people and the
    # lines made 2 + 3 + 2 = 7 people against a total of 6.)
    assert _pm(f, "f3.other") == (2, 630)
    assert _pm(f, "f3.rs") == (2, 540)  # L3 and L7; L1's minutes without L1
    assert _pm(f, "f3.missing") == (2, 360)
    assert _pm(f, "f3.total") == (2 + 2 + 2, 630 + 540 + 360)
    assert (f["f4.1"]["code"], _pm(f, "f4.1")) == ("315", (2, 630))
    assert (f["f4.2"]["code"], _pm(f, "f4.2")) == ("331", (2, 540))
    assert "f4.3" not in f
    assert _pm(f, "f4.others") == (2, 360)
    assert _pm(f, "f4.total") == (6, 1530)
    # E: slot 1 (A, B, C) and slot 2 (no SlotTrainer row: all three) have an internal trainer: they
    # count once, in the internal line only; D's slot of S3 (external alone) in the external line. B
    # is still an external trainer (2 external people), with no external hours. internal + external = total.
    assert _pm(f, "e.internal") == (2, 420)
    assert _pm(f, "e.external") == (2, 180)
    assert _pm(f, "e.total") == (4, 600)
    for frame in ("f1", "f3", "f4", "e"):
        parts = f[f"{frame}.total"]["parts"]
        assert sum(f[p]["people"] for p in parts) == f[f"{frame}.total"]["people"], frame
        assert sum(f[p]["minutes"] for p in parts) == f[f"{frame}.total"]["minutes"], frame
    # The rows behind a figure: [person, session, minutes, counted]; counted is 1 on the line where the
    # person counts in the people column; a total gathers its lines' rows, each person counted once.
    assert sorted(f["f1.e_public"]["rows"]) == sorted([[d.users["l1"], d.sessions["s1"], 420, 1],
                                                       [d.users["l1"], d.sessions["s2"], 180, 1],
                                                       [d.users["l2"], d.sessions["s1"], 210, 1]])
    assert sorted(f["f3.rs"]["rows"]) == sorted([[d.users["l1"], d.sessions["s2"], 180, 0],
                                                 [d.users["l3"], d.sessions["s2"], 180, 1],
                                                 [d.users["l7"], d.sessions["s2"], 180, 1]])
    assert len(reports.figure_rows(f, "f1.total")) == 7
    f3_rows = reports.figure_rows(f, "f3.total")
    assert len({r[0] for r in f3_rows if r[3]}) == len([r for r in f3_rows if r[3]]) == 6
    assert [r[4] for r in f3_rows if r[0] == d.users["l1"] and r[3]] == ["f3.other"]
    b_rows = [r for r in f["e.external"]["rows"] if r[0] == d.trainers["b"]]
    assert b_rows == [[d.trainers["b"], d.sessions["s1"], 0, 1]]
    assert sorted(r[0] for r in f["e.internal"]["rows"]) == sorted([d.trainers["a"], d.trainers["c"]])
    # 2026: only S1's morning of 2 January (L1 present, L2 absent).
    bpf26, _ = await compute.compute(2026)
    assert _pm(bpf26["figures"], "f1.total") == (1, 210)
    assert _pm(bpf26["figures"], "e.total") == (3, 210)
    assert _pm(bpf26["figures"], "e.internal") == (2, 210) and _pm(bpf26["figures"], "e.external") == (1, 0)
    # The élus' report: S3 only (L4, L5), planned hours of its slot in the year, its trainer.
    (training,) = elus["trainings"]
    assert training["session_id"] == d.sessions["s3"]
    assert training["people"] == 2 and training["planned_minutes"] == 180
    assert training["place"] == "Salle du conseil, Lyon"
    assert training["first_day"] == training["last_day"] == "2025-03-01"
    assert len(training["trainers"]) == 1 and training["trainers"][0].startswith("Form")


def test_f4_keeps_the_five_specialities_with_most_hours_then_the_others():
    codes = ["100", "122", "128", "300", "310", "312", "314"]
    attended = pl.DataFrame({"enrolment": list(range(1, 9)), "user_id": [1, 2, 3, 4, 5, 6, 7, 1],
                             "session_id": list(range(1, 9)), "trainee_type": ["public_agent"] * 8,
                             "minutes": [700, 600, 500, 400, 300, 200, 100, 50]}, schema=compute.ATTENDED)
    sessions = pl.DataFrame({"session_id": list(range(1, 9)), "title": ["x"] * 8, "code": ["x"] * 8,
                             "delivery": ["own"] * 8, "remote_url": [""] * 8, "place": [""] * 8,
                             "template_id": list(range(1, 9)), "nsf_code": codes + [""], "objective": ["other"] * 8},
                            schema=compute.SESSIONS)
    f = compute.bpf_figures(attended, sessions, pl.DataFrame(schema=compute.TRAINED))
    assert [f[f"f4.{r}"]["code"] for r in range(1, 6)] == ["100", "122", "128", "300", "310"]
    assert "f4.6" not in f
    # 312, 314 and the session without a code; person 1 is in 100 (700 min) and in the others (50 min):
    # counted in 100 only, their 50 minutes staying in the others.
    assert _pm(f, "f4.others") == (2, 200 + 100 + 50)
    assert _pm(f, "f4.total") == (7, 2850)
    assert _pm(f, "e.total") == (0, 0)


@pytest.mark.smoke
async def test_completeness_check_lists_what_is_missing(dataset):
    d = dataset
    checks = {c["key"]: c for c in await reports.completeness(YEAR)}
    assert checks["templates"]["count"] == 1 and checks["templates"]["rows"][0]["id"] == d.templates["t3"]
    assert checks["no_slots"]["count"] == 1 and checks["no_slots"]["rows"][0]["id"] == d.sessions["s5"]
    assert checks["trainee_type"]["count"] == 1
    assert checks["trainee_type"]["rows"][0]["session_id"] == d.sessions["s2"]
    assert checks["no_trainer"]["count"] == 2
    assert {r["session_id"] for r in checks["no_trainer"]["rows"]} == {d.sessions["s2"], d.sessions["s4"]}


async def test_recompute_updates_the_same_year_report(dataset):
    bpf, elus = await compute.compute(YEAR)
    await reports.store(YEAR, bpf, elus, None)
    first = await YearReport.select(YearReport.id, YearReport.kind).where(YearReport.year == YEAR).order_by(YearReport.kind)
    await Enrolment.update({Enrolment.trainee_type: "job_seeker"}).where(Enrolment.user == dataset.users["l7"])
    bpf, elus = await compute.compute(YEAR)
    await reports.store(YEAR, bpf, elus, None)
    again = await YearReport.select(YearReport.id, YearReport.kind).where(YearReport.year == YEAR).order_by(YearReport.kind)
    assert first == again and len(again) == 2
    kept = await reports.load("bpf", YEAR)
    assert _pm(kept["figures"]["figures"], "f1.c") == (1, 180)
    assert "f1.missing" in kept["figures"]["figures"] and kept["figures"]["figures"]["f1.missing"]["people"] == 0


async def test_excel_files_have_the_frames(dataset):
    from app.services.bpf import layout

    bpf, elus = await compute.compute(YEAR)
    book = openpyxl.load_workbook(io.BytesIO(layout.bpf_xlsx(YEAR, bpf["figures"], "01/01/2026 10:00")))
    cells = [c for row in book.active.iter_rows(values_only=True) for c in row if c is not None]
    for label in ("E. Personnes dispensant des heures de formation", "F-1. Type de stagiaires de l'organisme",
                  "dont agents publics", "dont élus", "F-2. Activité sous-traitée de l'organisme de formation",
                  "F-3. Objectif général des prestations dispensées", "F-4. Spécialités de formation",
                  "Autres spécialités", "Total (F-1)"):
        assert label in cells, label
    assert cells[cells.index("Total (F-1)") + 1] == 6
    assert cells[cells.index("Total (F-1)") + 2] == 26  # 1530 minutes = 25.5 h, half up
    elus_book = openpyxl.load_workbook(io.BytesIO(layout.elus_xlsx(YEAR, elus["trainings"], "x")))
    rows = list(elus_book.active.iter_rows(values_only=True))
    assert rows[3][0] == "Intitulé de la formation"
    assert rows[4][0] == "Session 25T3S1" and rows[4][4] == 2 and rows[4][3] == 3


def test_the_labels_name_the_declared_values():
    from app.services.bpf import labels
    from app.tables.accounts import TrainerStatus
    from app.tables.catalogue import BpfObjective, Delivery
    from app.tables.learning import TraineeType

    def values(enum):
        return {m.value for m in enum} - {""}

    assert set(labels.OBJECTIVE_LABELS) == values(BpfObjective)
    assert set(labels.TRAINEE_TYPE_LABELS) == values(TraineeType)
    assert set(labels.DELIVERY_LABELS) == values(Delivery)
    assert set(labels.TRAINER_STATUS_LABELS) == values(TrainerStatus)
    assert labels.clean_nsf(" 315 P ") == "315p"
    with pytest.raises(ValueError):
        labels.clean_nsf("31")


async def test_the_kept_figures_and_the_rows_behind_them(dataset):
    bpf, elus = await compute.compute(YEAR)
    await reports.store(YEAR, bpf, elus, None)
    kept = (await reports.load("bpf", YEAR))["figures"]["figures"]
    assert "rows" not in kept["f1.a"] and _pm(kept, "f1.total") == (6, 1530)
    for key in ("f1.e_public", "f1.total", "e.internal", "f4.others"):
        assert sorted(await reports.stored_rows(YEAR, kept, key)) == sorted(reports.figure_rows(bpf["figures"], key))
    with pytest.raises(Exception):
        await reports.stored_rows(YEAR, kept, "f1.'; DROP TABLE year_report; --")
