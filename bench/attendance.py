"""Attendance (issue 12) on PostgreSQL: the sheet PDF of a 30-learner, 10-slot session, and the
attendance grid of a 500-learner, 10-slot session saved (5,000 cells, one upsert, the summaries and
the completion rule in the same transaction).

The save is measured at the service (500 x 10 is more than one form page: the form holds at most
900 cells, FORM_CELLS) and through the app for one form page (90 learners x 10 slots). The session
asks 80 % attendance and everyone has done its activity, so the first save completes all 500
enrolments and issues their 500 certificates in its transaction (rows only: the PDFs are rendered
after commit by the seal_certificates job, not measured here).

Run: .venv/bin/python bench/attendance.py   (BENCH_SMOKE=1: 12 learners, one run)

Figures (2026-11-23, 2 cores shared with other engineers, load average ~4.5):
  Sheet PDF, 30 learners x 10 slots (20 pages, 63 KB): p50 2.8 s (app CPU 139 ms a page)
  Grid save 500 x 10, first save: 1.7 s (5,000 rows inserted, 500 enrolments completed, 500
    certificates issued in the transaction; their PDFs rendered after commit by the job)
  Grid save 500 x 10, every cell changed: p50 315 ms; nothing changed: 65 ms
  One form page through the app (90 x 10 = 900 cells, 219 KB): show 127 ms, save p50 107 ms
"""

import statistics
import time

import _setup

LEARNERS = _setup.size(500, 12)
SHEET_LEARNERS = min(30, LEARNERS)
SLOTS = 10
RUNS = _setup.scale(5, 1)


async def seed() -> dict:
    from datetime import date, time as clock

    from app.services import slots
    from app.services.enrolments import add_sources
    from app.tables.catalogue import SessionActivity, TrainingSession
    from app.tables.learning import ActivityCompletion, Enrolment, SourceKind

    alp001, users = await _setup.seed_learners(LEARNERS, _setup.random_names(12))
    days = [date(2026, 6, d) for d in (1, 2, 3, 4, 5)]
    slot_list = [slots.Slot(d, a, b) for d in days for a, b in ((clock(9), clock(12, 30)), (clock(13, 30), clock(17)))]
    sessions = {}
    for key, code, learners in (("big", "26C03S1", users), ("sheet", "26C03S2", users[:SHEET_LEARNERS])):
        session_id = (await TrainingSession.insert(TrainingSession(
            establishment=alp001, full_name="Session du 01-06-2026 au 05-06-2026_Qualité de vie au travail (QVT)",
            short_name="QVT", start_date=days[0], end_date=days[-1], code=code, min_attendance_percent=80,
            place="Salle Ventoux, bâtiment B\n12 avenue de la Gare\n26170 Buis-les-Baronnies",
            contact="Mme Roux, 04 75 00 00 00")).returning(TrainingSession.id))[0]["id"]
        await slots.replace(session_id, slot_list)
        activity = (await SessionActivity.insert(SessionActivity(session=session_id, title="Livret", required=True))
                    .returning(SessionActivity.id))[0]["id"]
        await add_sources(session_id, learners, SourceKind.manual)
        await ActivityCompletion.raw(
            "INSERT INTO activity_completion (enrolment, activity, how) SELECT id, {}, 'manual' FROM enrolment "
            "WHERE session = {}", activity, session_id)
        from app.services import learning

        await learning.refresh_summaries(session_id=session_id)
        sessions[key] = session_id
    await Enrolment.raw("ANALYZE")
    return sessions


async def main() -> None:
    import httpx

    from app import db
    from app.asgi import create_app
    from app.services import attendance
    from app.tables.certificates import Certificate
    from app.tables.learning import Enrolment

    await db.open_pool()
    sessions = await seed()
    await db.close_pool()
    application = create_app(run_worker=False)
    async with application.lifespan():
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=application, client=("127.0.0.1", 5000)),
                                   base_url="http://bench.local")
        await client.get("/connexion")
        r = await client.post("/connexion", data={"username": "alp001.get", "password": "Demo-2026!",
                                                  "_csrf_token": client.cookies.get("csrftoken")})
        assert r.status_code == 303, r.text
        print("Machine shared with other agents (2 cores): figures are upper bounds.")

        # The sheet: 30 learners x 10 slots, through the app (scope, queries, template, WeasyPrint).
        timings, cpu, pages = [], [], 0
        for _ in range(RUNS):
            t0, c0 = time.perf_counter(), time.process_time()
            response = await client.get(f"/sessions/{sessions['sheet']}/emargement.pdf")
            timings.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            _setup.check(response.status_code == 200 and response.content.startswith(b"%PDF"),
                         f"attendance sheet PDF: HTTP {response.status_code}")
        from pypdf import PdfReader
        import io

        pages = len(PdfReader(io.BytesIO(response.content)).pages)
        print(f"Sheet PDF, {SHEET_LEARNERS} learners x {SLOTS} slots ({pages} pages, {len(response.content) / 1024:.0f} KB): "
              f"p50 {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms "
              f"(app CPU p50 {statistics.median(cpu):.0f} ms, {statistics.median(cpu) / pages:.0f} ms a page)")

        # The grid, 500 x 10 at the service: every cell changes on every run.
        sid = sessions["big"]
        enrolments = [r["id"] for r in await Enrolment.select(Enrolment.id).where(Enrolment.session == sid)]
        slot_ids = [s["id"] for s in await attendance.session_slots(sid)]
        patterns = [lambda e, s: "present", lambda e, s: "absent" if (e + s) % 3 == 0 else "present",
                    lambda e, s: "excused" if (e * s) % 7 == 0 else "present"]
        timings = []
        for run in range(RUNS + 1):
            pattern = patterns[run % len(patterns)]
            cells = {(e, s): pattern(e, s) for e in enrolments for s in slot_ids}
            t0 = time.perf_counter()
            saved = await attendance.save(None, sid, cells, reason="Absence excusée (banc d'essai)")
            timings.append((time.perf_counter() - t0) * 1000)
            if run == 0:
                issued = await Certificate.count().where(Certificate.enrolment.is_in(enrolments))
                print(f"Grid save {LEARNERS} x {SLOTS} ({LEARNERS * SLOTS} cells), first save: {timings[0]:.0f} ms — "
                      f"{saved.changed} cells, {saved.completed} enrolments completed, {issued} certificates issued "
                      "(rows; PDFs by the job after commit)")
                _setup.check(saved.completed == LEARNERS and issued == LEARNERS,
                             f"first save of {LEARNERS} present learners: {saved.completed} completed, {issued} issued")
        rest = timings[1:]
        print(f"Grid save {LEARNERS} x {SLOTS}, every cell changed: p50 {statistics.median(rest):.0f} ms, "
              f"max {max(rest):.0f} ms ({len(rest)} runs)")
        t0 = time.perf_counter()
        saved = await attendance.save(None, sid, cells, reason="Absence excusée (banc d'essai)")
        print(f"Grid save {LEARNERS} x {SLOTS}, nothing changed: {(time.perf_counter() - t0) * 1000:.0f} ms "
              f"({saved.changed} changes)")

        # One form page through the app: 90 learners x 10 slots.
        page = await client.get(f"/sessions/{sid}/presences")
        _setup.check(page.status_code == 200, f"the attendance grid page: HTTP {page.status_code}")
        import re

        fields = re.findall(r'name="(a\d+_\d+)"', page.text)
        timings = []
        for run in range(RUNS):
            form = {name: ("absent" if (i + run) % 4 == 0 else "present") for i, name in enumerate(fields)}
            form["_csrf_token"] = client.cookies.get("csrftoken")
            t0 = time.perf_counter()
            response = await client.post(f"/sessions/{sid}/presences", data=form)
            timings.append((time.perf_counter() - t0) * 1000)
            _setup.check(response.status_code == 303, f"saving the attendance grid: HTTP {response.status_code}")
        _setup.check(fields, "the attendance grid page has no cell to fill")
        t0 = time.perf_counter()
        await client.get(f"/sessions/{sid}/presences")
        print(f"Grid page through the app ({len(fields)} cells, {len(page.content) / 1024:.0f} KB of HTML): "
              f"show {(time.perf_counter() - t0) * 1000:.0f} ms, save p50 {statistics.median(timings):.0f} ms, "
              f"max {max(timings):.0f} ms")
        await client.aclose()


if __name__ == "__main__":
    _setup.run(main)
