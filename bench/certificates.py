"""Certificates (issue 12, SPEC D3) on PostgreSQL: one certificate PDF rendered (WeasyPrint, QR code
as SVG), the time from the completing action to a downloadable, sealed certificate, and the ZIP of
1,000 certificates built by the job (stored entries streamed to disk: memory bounded).

Run: .venv/bin/python bench/certificates.py   (CERTS=1000 by default; BENCH_SMOKE=1: 5 certificates, 2 renders)
"""

import os
import secrets
import statistics
import time

import _setup

CERTS = int(os.environ.get("CERTS", _setup.size(1000, 5)))
RENDERS = _setup.scale(30, 2)


async def seed(count: int = CERTS) -> dict:
    """The demo, a session of ``count`` + 1 learners who completed it and ``count`` certificates issued
    (the last learner lacks the quiz)."""
    from datetime import date

    from app.services import learning, slots
    from app.services.enrolments import add_sources
    from app.tables.catalogue import SessionActivity, TrainingSession
    from app.tables.learning import ActivityCompletion, SourceKind

    alp001, users = await _setup.seed_learners(count + 1, lambda i: ("Élodie", f"Lefèvre-Bénard {i}"))
    start, end = date(2026, 6, 1), date(2026, 6, 2)
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session du 01-06-2026 au 02-06-2026_Qualité de vie au travail (QVT)",
        short_name="QVT", start_date=start, end_date=end, code="26C03S1")).returning(TrainingSession.id))[0]["id"]
    from datetime import time as clock

    await slots.replace(session_id, [slots.Slot(d, a, b) for d in (start, end)
                                     for a, b in ((clock(9), clock(12, 30)), (clock(13, 30), clock(17)))])
    first = (await SessionActivity.insert(SessionActivity(session=session_id, title="Livret", required=True))
             .returning(SessionActivity.id))[0]["id"]
    last = (await SessionActivity.insert(SessionActivity(session=session_id, title="Quiz", required=True))
            .returning(SessionActivity.id))[0]["id"]
    await add_sources(session_id, users, SourceKind.manual)
    await ActivityCompletion.raw(
        "INSERT INTO activity_completion (enrolment, activity, how) SELECT id, {}, 'manual' FROM enrolment "
        "WHERE session = {}", first, session_id)
    # Everyone attended every slot (completion asks for the slots' hours too, 100 % by default).
    await ActivityCompletion.raw(
        "INSERT INTO attendance (enrolment, slot, status, recorded_at) SELECT e.id, s.id, 'present', now() "
        "FROM enrolment e JOIN session_slot s ON s.session = e.session WHERE e.session = {}", session_id)
    # Every learner but the last completes the quiz too: CERTS certificates issued (rows; PDFs sealed later).
    await ActivityCompletion.raw(
        "INSERT INTO activity_completion (enrolment, activity, how) SELECT id, {}, 'manual' FROM enrolment "
        "WHERE session = {} AND \"user\" <> {}", last, session_id, users[-1])
    issued = await learning.refresh_and_issue(session_id=session_id)
    _setup.check(len(issued) == count, f"{count} learners completed, {len(issued)} certificates issued")
    return {"session": session_id, "last_activity": last, "last_user": users[-1]}


async def main() -> None:
    from app import db
    from app.queue import connect
    from app.services import certificates, learning
    from app.tables.accounts import User
    from app.tables.learning import CompletionHow, Enrolment

    await db.open_pool()
    try:
        facts = await seed()
        print(f"load average {os.getloadavg()[0]:.1f} (2 cores)")
        one = (await certificates.for_session(facts["session"]))[0]
        current = one["snapshot"]["layout"]  # app/services/certificates/common.py LAYOUT
        layout_1 = {k: v for k, v in one["snapshot"].items() if k != "layout"}  # as issued before layout 2
        for snapshot in (one["snapshot"], layout_1):
            await certificates.render(snapshot)  # fonts, stylesheet and template loaded once
        timings = {1: [], current: []}
        for _ in range(RENDERS):  # interleaved: both layouts see the same machine load
            for snapshot in (one["snapshot"], layout_1):
                t0 = time.perf_counter()
                await certificates.render(snapshot)
                timings[snapshot.get("layout", 1)].append((time.perf_counter() - t0) * 1000)
        for layout in (current, 1):
            print(f"One certificate PDF, layout {layout}{' (current)' if layout == current else ''}: "
                  f"p50 {statistics.median(timings[layout]):.0f} ms, min {min(timings[layout]):.0f} ms, "
                  f"p95 {_setup.percentile(timings[layout], 95):.0f} ms (target <= 60 ms)")

        enrolment = (await Enrolment.select(Enrolment.id).where(
            (Enrolment.session == facts["session"]) & (Enrolment.user == facts["last_user"])).first())["id"]
        t0 = time.perf_counter()
        await learning.set_completion(enrolment, facts["last_activity"], True, CompletionHow.manual)
        certificate = await certificates.for_enrolment(enrolment)
        content = await certificates.pdf_of(certificate)
        elapsed = time.perf_counter() - t0
        _setup.check(content.startswith(b"%PDF") and certificate["status"] == "valid",
                     f"the completed learner's certificate: {certificate['status']}")
        print(f"Completing action -> certificate issued, sealed and downloadable: {elapsed * 1000:.0f} ms "
              "(target <= 5 s)")

        admin = (await User.select(User.id).where(User.username == "admin").first())["id"]
        redis = await connect()
        token = secrets.token_urlsafe(16)
        # The job in a process of its own, as in a worker: its memory with the render pool's (issue 24).
        job = _setup.in_fresh_process("app.jobs.certificates:build_certificates_zip", facts["session"], admin,
                                      token, "/bench")
        count = job.result
        from app.services import progress
        from app.tables.files import StoredFile

        file_id = (await progress.get(redis, token))["file_id"]
        size = (await StoredFile.select(StoredFile.size).where(StoredFile.id == file_id).first())["size"]
        print(f"ZIP of {count} certificates by the job: {job}, {size / 1_048_576:.1f} MB "
              f"(target <= 60 s); {_setup.load()}")
        _setup.check(count == CERTS + 1 and size > 0, f"ZIP of {CERTS + 1} certificates: {count} in it, {size} bytes")
        await StoredFile.delete().where(StoredFile.id == file_id)
        await redis.aclose()
    finally:
        await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
