"""The learner's home and session page with 5,000 learners x 30 activities in one session (about
75,000 completion rows, 200 discussion messages) on PostgreSQL. Target: p95 <= 50 ms server time
(measured in-process through the ASGI app: routing, guard, queries, template rendering).

Run: .venv/bin/python bench/learner_pages.py   (BENCH_SMOKE=1: 40 learners, 5 requests a page)
"""

import asyncio
import statistics
import time
from datetime import timedelta

import _setup

LEARNERS = _setup.size(5_000, 40, tenfold=20_000)
ACTIVITIES = 30
RUNS = _setup.scale(200, 5)
SAMPLE = _setup.scale(tuple(LEARNERS * k // 5000 for k in (1, 777, 1500, 2500)) + (LEARNERS - 1,), (1, 7, 15, 25, 39))  # the learners whose pages are fetched


async def seed() -> tuple[int, list[str]]:
    from app.dates import today
    from app.demo import load_demo
    from app.services.enrolments import add_sources
    from app.services.learning import refresh_summaries
    from app.tables.accounts import User
    from app.tables.catalogue import SessionActivity, TrainingSession
    from app.tables.learning import SourceKind
    from app.tables.org import Establishment

    await load_demo(with_sessions=False)
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    password = (await User.select(User.password_hash).where(User.username == "admin").first())["password_hash"]
    await User.raw(
        "INSERT INTO app_user (username, password_hash, first_name, last_name, email, establishment, status, "
        "matricule, search_text, last_name_key, first_name_key, created_at, is_suspended, force_password_change) "
        "SELECT 'bench.' || i, {}, 'Prénom' || i, 'Nom' || i, 'b' || i || '@example.org', {}, 'fph_agent', '', "
        "'nom' || i, 'nom' || i, 'prenom' || i, now(), false, false FROM generate_series(1, {}) i",
        password, alp001, LEARNERS)
    await User.raw("INSERT INTO role_assignment (\"user\", role, establishment) SELECT id, 'learner', {} "
                   "FROM app_user WHERE username LIKE 'bench.%'", alp001)
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session bench", short_name="Bench", start_date=today() - timedelta(days=7),
        end_date=today() + timedelta(days=30), code="26B01S1", progress_block=True, discussion_block=True,
    )).returning(TrainingSession.id))[0]["id"]
    kinds = ["page", "video", "quiz"]
    rules = {"page": "manual", "video": "view", "quiz": "quiz"}
    await SessionActivity.insert(*[
        SessionActivity(session=session_id, position=i, kind=kinds[i % 3], title=f"Activité {i + 1}",
                        completion=rules[kinds[i % 3]], required=i % 5 != 4) for i in range(ACTIVITIES)])
    ids = [r["id"] for r in await User.select(User.id).where(User.username.like("bench.%"))]
    await add_sources(session_id, ids, SourceKind.manual)
    # Learner n has done the first (n mod 31) activities: every stage from nothing to everything.
    await User.raw(
        "INSERT INTO activity_completion (enrolment, activity, completed_at, how) "
        "SELECT e.id, a.id, now(), 'manual' FROM enrolment e JOIN session_activity a ON a.session = e.session "
        "WHERE e.session = {} AND a.position < (e.\"user\" % 31)", session_id)
    await User.raw(
        "INSERT INTO discussion_message (session, author, body, created_at) "
        "SELECT {}, id, 'Message de ' || username, now() FROM app_user WHERE username LIKE 'bench.%' LIMIT 200",
        session_id)
    await refresh_summaries(session_id=session_id)
    await User.raw("UPDATE enrolment SET last_activity = (SELECT min(id) FROM session_activity WHERE session = {}), "
                   "last_visit = now() WHERE session = {}", session_id, session_id)
    await User.raw("ANALYZE")
    count = (await User.raw("SELECT count(*) AS n FROM activity_completion"))[0]["n"]
    print(f"{LEARNERS} learners x {ACTIVITIES} activities, {count} completion rows, 200 messages")
    _setup.check(count > 0, "no completion row seeded")
    return session_id, [f"bench.{i}" for i in SAMPLE]


async def main() -> None:
    import httpx

    from app import db
    from app.asgi import create_app
    from tests.helpers import DEMO_PASSWORD, login

    await db.open_pool()
    session_id, usernames = await seed()
    application = create_app(run_worker=False)
    async with application.lifespan():
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 5000))
        for label, path in (("learner home /", "/"), ("session page", f"/mes-sessions/{session_id}/")):
            times, sizes = [], []
            for username in usernames:
                async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as client:
                    await login(client, username, DEMO_PASSWORD)
                    for _ in range(3):  # warm-up
                        await client.get(path)
                    for _ in range(RUNS // len(usernames)):
                        start = time.perf_counter()
                        response = await client.get(path)
                        times.append((time.perf_counter() - start) * 1000)
                        _setup.check(response.status_code == 200, f"{path} for {username}: HTTP {response.status_code}")
                        sizes.append(len(response.content))
            print(f"{label:16} n={len(times)} p50={statistics.median(times):.1f} ms "
                  f"p95={_setup.percentile(times, 95):.1f} ms max={max(times):.1f} ms html={max(sizes) // 1024} KB")


if __name__ == "__main__":
    _setup.run(main)
