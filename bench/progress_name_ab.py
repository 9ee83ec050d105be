"""« Vue d'ensemble des inscrits » sorted by name, A/B on one database (issue 24): the same session
(bench/progress_overview.py's seed, BENCH_SCALE=10: 20,000 learners x 50 activities), the same pages,
read alternately by the join on the learner's account (A: ORDER BY app_user.last_name_key, as before
2026-12-07T09:10) and by the key kept on the enrolment (B: ORDER BY enrolment.name_key, the index
(session, name_key, id)). Alternating runs share the machine's load, so the two are compared fairly.

Run: BENCH_SCALE=10 .venv/bin/python bench/progress_name_ab.py   (BENCH_SMOKE=1: 40 learners, 2 runs)
"""

import dataclasses
import statistics
import time

import _setup
import progress_overview

RUNS = _setup.scale(40, 2)


async def main() -> None:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    import app.controllers.progress as screen
    from app.asgi import create_app
    from app.lists.progress import PROGRESS
    from app.tables.learning import Enrolment

    data = await progress_overview.seed_in_app_loop()
    joined = dataclasses.replace(PROGRESS, columns=tuple(
        dataclasses.replace(c, sort=Enrolment.user.last_name_key) if c.key == "name" else c for c in PROGRESS.columns))
    variants = {"A join app_user": joined, "B enrolment.name_key": PROGRESS}
    application = create_app(run_worker=False)
    async with application.lifespan():
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=application, client=("127.0.0.1", 5000)),
                                   base_url="http://bench.local")
        await client.get("/connexion")
        r = await client.post("/connexion", data={"username": "alp001.get", "password": "Demo-2026!",
                                                  "_csrf_token": client.cookies.get("csrftoken")})
        _setup.check(r.status_code == 303, r.text)
        base = f"/sessions/{data['session']}/progression?per_page=50"
        cases = {"default (sort by name), page 1": "", "sort -name, page 7": "&sort=-name&page=7",
                 "deep page 100": "&page=100", "name contains 'fè'": "&q=fè",
                 "name begins with 'ro'": "&q=ro"}
        work = _setup.Work()
        print(f"{progress_overview.LEARNERS} learners; {RUNS} runs of each variant, alternating ({_setup.load()})")
        for label, query in cases.items():
            figures = {name: ([], []) for name in variants}
            pages = {}
            for name, table in variants.items():  # one unmeasured run each (templates, caches)
                screen.PROGRESS = table
                pages[name] = (await client.get(base + query)).text
            _setup.check(pages["A join app_user"] == pages["B enrolment.name_key"]
                         or _setup.SMOKE, f"{label}: the two orders differ")
            for _ in range(RUNS):
                for name, table in variants.items():
                    screen.PROGRESS = table
                    work.start()
                    t0 = time.perf_counter()
                    response = await client.get(base + query)
                    figures[name][0].append((time.perf_counter() - t0) * 1000)
                    figures[name][1].append(work.stop())
                    _setup.check(response.status_code == 200, f"{label}: HTTP {response.status_code}")
            for name, (wall, cpu) in figures.items():
                print(f"  {label} [{name}]: CPU of the app and PostgreSQL p50 {statistics.median(cpu):.1f} ms, "
                      f"p95 {_setup.percentile(cpu, 95):.1f} ms; wall p50 {statistics.median(wall):.1f} ms, "
                      f"p95 {_setup.percentile(wall, 95):.1f} ms")
        screen.PROGRESS = PROGRESS
        print(f"  ({_setup.load()})")
        await client.aclose()


if __name__ == "__main__":
    _setup.run(main)
