"""« Mes données » (issue 25) on PostgreSQL: the export job for a person with 50 enrolments — 40 past
sessions completed (2 activities, 4 slots attended, a certificate each) and 10 to come (a convocation
each) — target ≤ 10 s, run by the job's own function as a worker runs it (render pool included).

Run: .venv/bin/python bench/my_data.py   (BENCH_SMOKE=1: 3 enrolments, one run)
"""

import os
import time

import _setup

PAST, COMING = _setup.size(40, 2), _setup.size(10, 1)
RUNS = _setup.scale(3, 1)


async def seed() -> int:
    """The learner's id, enrolled in PAST completed sessions and COMING sessions to come."""
    from datetime import date, timedelta
    from datetime import time as clock

    from app.dates import today
    from app.services import learning, slots
    from app.services.enrolments import add_sources
    from app.tables.catalogue import SessionActivity, TrainingSession
    from app.tables.learning import ActivityCompletion, SourceKind

    alp001, (learner,) = await _setup.seed_learners(1, lambda i: ("Élodie", "Lefèvre-Bénard"))
    for n in range(PAST + COMING):
        start = date(2025, 1, 6) + timedelta(days=7 * n) if n < PAST else today() + timedelta(days=7 * (n - PAST + 1))
        end = start + timedelta(days=1)
        session_id = (await TrainingSession.insert(TrainingSession(
            establishment=alp001, full_name=f"Session {n} du {start:%d-%m-%Y}_Qualité de vie au travail (QVT)",
            short_name=f"QVT {n}", start_date=start, end_date=end, code=f"26B{n:03d}")).returning(TrainingSession.id))[0]["id"]
        await slots.replace(session_id, [slots.Slot(d, a, b) for d in (start, end)
                                         for a, b in ((clock(9), clock(12, 30)), (clock(13, 30), clock(17)))])
        activities = [r["id"] for r in await SessionActivity.insert(*(
            SessionActivity(session=session_id, title=f"Activité {i}", required=True) for i in range(2))).returning(
            SessionActivity.id)]
        await add_sources(session_id, [learner], SourceKind.manual)
        if n >= PAST:
            continue
        for activity in activities:
            await ActivityCompletion.raw(
                "INSERT INTO activity_completion (enrolment, activity, how) SELECT id, {}, 'manual' FROM enrolment "
                "WHERE session = {}", activity, session_id)
        await ActivityCompletion.raw(
            "INSERT INTO attendance (enrolment, slot, status, recorded_at) SELECT e.id, s.id, 'present', now() "
            "FROM enrolment e JOIN session_slot s ON s.session = e.session WHERE e.session = {}", session_id)
        issued = await learning.refresh_and_issue(session_id=session_id)
        _setup.check(len(issued) == 1, f"session {n}: {len(issued)} certificates issued")
    return learner


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's children so far: the render pool's."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


async def main() -> None:
    import io
    import zipfile

    from app import db
    from app.jobs.my_data import export_my_data
    from app.pdf import bounded
    from app.queue import connect
    from app.services import files, progress

    await db.open_pool()
    redis = await connect()
    try:
        learner = await seed()
        print(f"{_setup.load()}; {PAST + COMING} enrolments, {PAST} certificates, "
              f"{COMING} convocations")
        timings = []
        for run in range(RUNS):
            token = f"bench-my-data-{run}"
            await progress.start(redis, token, learner, "Mes données (ZIP)")
            work = _setup.Work()
            work.start()
            renders = _children_cpu()
            t0 = time.perf_counter()
            await export_my_data({"redis": redis}, learner, token)
            wall = time.perf_counter() - t0
            cpu = work.stop()
            renders = _children_cpu() - renders
            timings.append((cpu / 1000 + renders, wall))
            state = await progress.get(redis, token)
            _setup.check(state["state"] == "done", f"the job ended {state['state']}: {state.get('message')}")
            content = b"".join([piece async for piece in files.pieces(state["file_id"])])
            archive = zipfile.ZipFile(io.BytesIO(content))
            pdfs = [n for n in archive.namelist() if n.endswith(".pdf")]
            _setup.check(len(pdfs) == PAST + COMING, f"{len(pdfs)} PDFs in the ZIP, {PAST + COMING} expected")
            print(f"run {run + 1}: {wall:.2f} s wall (the first run starts the render pool); CPU "
                  f"{cpu / 1000:.2f} s this process and PostgreSQL + {renders:.2f} s render children "
                  f"({bounded.processes()} processes); ZIP {len(content) / 1e6:.1f} MB, {len(pdfs)} PDFs; {_setup.load()}")
        cpu, wall = min(timings)
        print(f"export job, {PAST + COMING} enrolments: best {wall:.2f} s wall, {cpu:.2f} s CPU in all — on an idle "
              f"machine about {cpu / bounded.processes():.1f} s with {bounded.processes()} render processes "
              f"(target ≤ 10 s)")
    finally:
        bounded.close()
        await redis.aclose()
        await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
