"""The attendance sheet (feuille d'émargement, issue 12) of a large session: 500 learners x 10 slots,
and of 30 and 100 learners, rendered at the service (queries, template, WeasyPrint) — what the
request, or the job, spends on it.

Seeded by bench/attendance.py's seed() (set-based: one bulk insert of users, one of enrolments).

Run: .venv/bin/python bench/attendance_sheet.py [runs]   (BENCH_SMOKE=1: bench/attendance.py's 12 learners)

Figures (2026-11-23, 2 cores shared with other engineers, load average ~2-3, one run each):
  before (one WeasyPrint document for the whole session, in the request):
    30 x 10: 20 pages 2.4 s · 100 x 10: 50 pages 4.9 s · 500 x 10: 240 pages 31.0 s
  after (laid out slot by slot; inline up to 300 rows, else the build_attendance_sheet job):
    30 x 10: 20 pages 2.3 s (inline) · 100 x 10: 50 pages 6.6 s (job) · 500 x 10: 240 pages 33.7 s (job,
    peak RSS 334 MB) — the same work: WeasyPrint costs ~4 ms a learner row and ~60 ms a page whatever
    the markup tried; what changed is that a large sheet no longer holds a request.
"""

import statistics
import sys
import time

import _setup

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else _setup.scale(2, 1)
COUNTS = _setup.scale((30, 100, 500), (5, 12))


async def main() -> None:
    import io

    from pypdf import PdfReader

    from app import db
    from app.services import attendance
    from app.tables.catalogue import TrainingSession
    from attendance import seed

    await db.open_pool()
    sessions = await seed()
    print(f"Machine shared with other agents ({_setup.load()}): figures are upper bounds.")
    big = await TrainingSession.select(
        TrainingSession.all_columns(), TrainingSession.establishment.name.as_alias("establishment_name")).where(
        TrainingSession.id == sessions["big"]).first()
    learners_all = await attendance.sheet_context(big)
    for count in COUNTS:
        context = {**learners_all, "learners": learners_all["learners"][:count]}
        timings, cpu = [], []
        for _ in range(RUNS):
            t0, c0 = time.perf_counter(), time.process_time()
            await attendance.sheet_context(big)
            pdf = attendance.sheet_pdf_sync(context)
            timings.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        _setup.check(pages > 0 and len(context["learners"]) == count and context["slots"],
                     f"sheet of {count} learners: {len(context['learners'])} learners, {pages} pages")
        p50 = statistics.median(timings)
        print(f"Sheet {count} learners x {len(context['slots'])} slots ({attendance.sheet_rows(context)} rows, "
              f"{'job' if attendance.sheet_in_background(context) else 'inline'}): {pages} pages, "
              f"{len(pdf) / 1024:.0f} KB — p50 {p50:.0f} ms, CPU p50 {statistics.median(cpu):.0f} ms "
              f"({p50 / pages:.0f} ms a page)")
        with open(f"/tmp/sheet-{count}.pdf", "wb") as out:
            out.write(pdf)
    await whole_session_job(sessions["big"])
    await db.close_pool()


async def whole_session_job(session_id: int) -> None:
    """The background job for the whole session, in a process of its own as in a worker: its time and
    its memory alone (the renders above stay out of it; issue 24, point 10)."""
    import secrets

    from app.queue import connect
    from app.services import progress
    from app.tables.accounts import User

    admin = (await User.select(User.id).where(User.username == "admin").first())["id"]
    redis = await connect()
    token = secrets.token_urlsafe(16)
    await progress.start(redis, token, admin, "Feuille d'émargement")
    job = _setup.in_fresh_process("app.jobs.attendance:build_attendance_sheet", session_id, admin, token)
    state = await progress.get(redis, token)
    await redis.aclose()
    _setup.check(state["state"] == "done" and job.result, f"the sheet's job: {state}")
    print(f"The whole session's sheet as a job ({job.result} slots): {job}; {_setup.load()}")


if __name__ == "__main__":
    _setup.run(main)
