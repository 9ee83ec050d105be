"""Cohort sync on PostgreSQL: enrolling a 5,000-member cohort into a session (target <= 2 s in the
job, set-based), and the participants page of that 5,000-learner session (target <= 100 ms).

Run: .venv/bin/python bench/cohort_sync.py   (BENCH_SMOKE=1: 30 members)
"""

import statistics
import time
from datetime import date

import _setup

MEMBERS = _setup.size(5000, 30)
RUNS = _setup.scale(30, 2)


async def main() -> None:
    from app import db
    from app.bulk import bulk_insert
    from app.controllers.sessions import PARTICIPANTS
    from app.dates import now
    from app.services import enrolments
    from app.services.auth import load_current_user
    from app.tables.accounts import RoleAssignment, User
    from app.tables.catalogue import CohortSync, TrainingSession
    from app.tables.learning import Enrolment
    from app.tables.cohorts import Cohort, CohortMember

    await db.open_pool()
    alp001, ids = await _setup.seed_learners(MEMBERS, lambda i: (f"Prénom{i}", f"Nöm{i}"), prefix="alp001.p.nom",
                                             demo_sessions=True)
    t = now()
    await bulk_insert(RoleAssignment, [RoleAssignment.user, RoleAssignment.role, RoleAssignment.establishment,
                                       RoleAssignment.created_at], [(u, "learner", alp001, t) for u in ids])
    cohort = (await Cohort.select(Cohort.id).where(Cohort.name == "Cohorte_Ex25").first())["id"]
    await bulk_insert(CohortMember, [CohortMember.cohort, CohortMember.user, CohortMember.added_at],
                      [(cohort, u, t) for u in ids])
    session = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session bench", short_name="bench", start_date=date(2026, 6, 1),
        end_date=date(2026, 6, 2), code="26X00S1")).returning(TrainingSession.id))[0]["id"]
    await CohortSync.insert(CohortSync(session=session, cohort=cohort))
    await User.raw("ANALYZE")

    t0 = time.perf_counter()
    result = await enrolments.sync_cohort(cohort)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    await enrolments.sync_cohort(cohort)
    again = time.perf_counter() - t0
    enrolled = await Enrolment.count().where((Enrolment.session == session) & (Enrolment.active == True))  # noqa: E712
    print(f"enrol a {MEMBERS}-member cohort into a session: {first:.2f} s ({enrolled} enrolled, {result})")
    print(f"the same sync again (nothing to do): {again:.2f} s")
    _setup.check(enrolled == MEMBERS, f"a {MEMBERS}-member cohort synced: {enrolled} enrolled")

    get = await load_current_user((await User.select(User.id).where(User.username == "alp001.get").first())["id"])
    for label, params in (("page 1", {}), ("page 100 of 50", {"per_page": "50", "page": "100"}),
                          ("name filter", {"q": "nöm42"})):
        timings = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            page = await PARTICIPANTS.fetch(get, params, extra=Enrolment.session == session)
            timings.append((time.perf_counter() - t0) * 1000)
        print(f"participants of a {enrolled}-learner session, {label}: {page.total} rows, "
              f"p50 {statistics.median(timings):.1f} ms, p95 {_setup.percentile(timings, 95):.1f} ms")
        if label == "page 1":
            _setup.check(page.total == enrolled and page.rows, f"participants page 1: {page.total} rows of {enrolled}")
    await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
