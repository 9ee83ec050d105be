"""What one registration costs the server, route by route (issue 24, several hosts): the CPU of one
`tremplin serve` process and of what it uses — its PostgreSQL backends, PgBouncer, Redis — for each
request a requester's browser makes, one requester at a time (no wait for a core counted: the
figures hold on a loaded machine, where wall times do not). The production layout of
bench/multi_host.py with one web process: PostgreSQL through PgBouncer (transaction mode), Redis,
a real SMTP server; a worker only while the confirmation mails are sent (its CPU is not counted).

A browser follows every redirect: the start page, « Nouvelle demande », each step's page and its
form (steps 2 to 9; step 9 submits), the « sent » page, then the link of the confirmation mail.

Run: .venv/bin/python bench/registration_cost.py        (BENCH_REQUESTERS=60; BENCH_SMOKE=1: 3)
     BENCH_PROFILE=/tmp/serve.prof …   the web process under cProfile (pstats file written at its exit)
"""

import asyncio
import contextlib
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import _setup
import registration_load
from _cluster import Cluster

REQUESTERS = int(os.environ.get("BENCH_REQUESTERS", _setup.scale(60, 3)))
WARM_UP = _setup.scale(5, 1)  # not counted: the first requests compile templates, fill caches
CODE = "26C04S1"
LINK = re.compile(r"https?://[^/\s]+(/inscription/confirmer/\S+)")
PROFILE = os.environ.get("BENCH_PROFILE", "")


# The web process under cProfile (CPU time): the statistics written when it is stopped (uvicorn
# raises the SIGTERM again once it has shut down, to the handler it found: this one).
PROFILED = """
import cProfile, os, signal, sys, time
profile = cProfile.Profile(time.process_time)
def stop(*_):
    profile.disable()
    profile.dump_stats(sys.argv[1])
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
from app.cli import main
profile.enable()
main(sys.argv[2:])
"""


def _cpu_of(pid: int) -> float:
    """Seconds of CPU of every thread of ``pid`` (/proc/<pid>/task/*/schedstat, nanoseconds)."""
    total = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                total += int(handle.read().split()[0])
    return total / 1e9


class Meter:
    """CPU seconds of the web process, the bench database's PostgreSQL backends, PgBouncer and Redis."""

    def __init__(self, web_pid: int, bouncer_pid: int, redis_pid: int | None):
        self.pids = {"web": [web_pid], "pgbouncer": [bouncer_pid], "redis": [redis_pid] if redis_pid else []}

    def read(self) -> dict[str, float]:
        figures = {part: sum(_cpu_of(p) for p in pids) for part, pids in self.pids.items()}
        figures["postgres"] = sum(_cpu_of(int(p)) for p in _setup.Work._backends())
        return figures


def redis_pid() -> int | None:
    import redis

    with contextlib.suppress(Exception):
        return int(redis.Redis.from_url(os.environ["REDIS_URL"]).info("server")["process_id"])
    return None


class Visitor:
    """A browser: its cookies, every redirect followed, each request's CPU recorded under its route."""

    def __init__(self, base: str, meter: Meter | None, costs: dict, n: int):
        import httpx

        self.base, self.meter, self.costs = base, meter, costs
        self.client = httpx.AsyncClient(base_url=base, timeout=60,
                                        headers={"X-Forwarded-For": f"10.40.{n // 250}.{n % 250 + 1}"})

    async def request(self, method: str, path: str, route: str, **kwargs):
        before = self.meter.read() if self.meter else None
        response = await self.client.request(method, path, **kwargs)
        if self.meter:
            await asyncio.sleep(0.005)  # PgBouncer's and the backends' bookkeeping after the answer
            after = self.meter.read()
            for part, value in after.items():
                self.costs[route][part].append(value - before[part])
        if response.status_code not in (200, 303):
            raise _setup.BenchFailed(f"{method} {path}: HTTP {response.status_code} {response.text[:300]}")
        return response

    async def follow(self, response, route: str):
        if response.status_code == 303:
            return await self.request("GET", response.headers["location"], route)
        return response


async def submit(visitor: Visitor, n: int, answers: dict) -> None:
    page = await visitor.request("GET", f"/inscription/{CODE}", "GET /inscription/{code}")
    _setup.check("csrftoken" in visitor.client.cookies, f"no CSRF cookie: {page.text[:200]}")
    token = visitor.client.cookies.get("csrftoken")
    response = await visitor.request("POST", "/inscription/", "POST /inscription/ (new draft)",
                                     data={"code": CODE, "action": "new", "_csrf_token": token})
    for step, data in answers.items():
        await visitor.follow(response, "GET /inscription/etape/{step}")
        if step == 4:
            email = registration_load.requester_email(n)
            data = {**data, "email": email, "email_confirm": email, "last_name": f"Élu{n}"}
        route = "POST /inscription/etape/9 (submit)" if step == 9 else "POST /inscription/etape/{2-8}"
        response = await visitor.request("POST", f"/inscription/etape/{step}", route,
                                         data={**data, "go": "next", "_csrf_token": token})
        _setup.check(response.status_code == 303, f"step {step}: {response.status_code} {response.text[:300]}")
    sent = await visitor.follow(response, "GET /inscription/envoyee")
    _setup.check("R" in sent.text, "no « sent » page")


def report(costs: dict, label: str) -> list[str]:
    lines = [f"{label} (ms of CPU per request, mean; p95 of the total in brackets):",
             f"  {'route':<40} {'n':>4} {'web':>6} {'postgres':>9} {'pgbouncer':>10} {'redis':>6} {'total':>7}"]
    per_requester = 0.0
    for route, parts in costs.items():
        count = len(parts["web"])
        mean = {part: sum(values) / count * 1000 for part, values in parts.items()}
        totals = [sum(parts[p][i] for p in parts) * 1000 for i in range(count)]
        total = sum(mean.values())
        per_requester += total * (7 if "{2-8}" in route else 8 if "{step}" in route else 1)
        lines.append(f"  {route:<40} {count:>4} {mean['web']:>6.1f} {mean['postgres']:>9.1f} {mean['pgbouncer']:>10.1f} "
                     f"{mean['redis']:>6.1f} {total:>7.1f}  [{_setup.percentile(totals, 95):.1f}]")
    lines.append(f"  one requester (20 requests, a browser's): {per_requester:.0f} ms of CPU -> at most "
                 f"{1000 / per_requester:.1f} requesters/s per core")
    return lines


async def main() -> None:
    from app import db, queue
    from app.demo import load_demo

    await db.open_pool()
    redis = await queue.connect()
    await redis.flushdb()  # the bench's own Redis database: arq's job ids (« mail:1:0 ») are per database
    await redis.aclose()
    await load_demo(with_sessions=False)
    answers = await registration_load.open_session(CODE, seats=max(1, REQUESTERS // 3))
    cluster = Cluster(Path(os.environ["TREMPLIN_VAR_DIR"]) / "cost", web=1, workers=1)
    from tests.pgbouncer import start_pgbouncer

    cluster.bouncer = start_pgbouncer(cluster.folder / "pgbouncer", os.environ["DATABASE_URL"])
    cluster.mail.start()
    try:
        if PROFILE:
            cluster.web[0] = cluster._start([sys.executable, "-c", PROFILED, PROFILE, "serve", "--host", "127.0.0.1",
                                             "--port", str(cluster.ports[0]), "--workers", "1"], "web0.log")
        await _start_web(cluster)
        print(f"1 × tremplin serve, PgBouncer (transaction mode), Redis; {_setup.load()}")
        base = f"http://127.0.0.1:{cluster.ports[0]}"
        meter = Meter(cluster.web[0].pid, cluster.bouncer.process.pid, redis_pid())
        costs: dict = defaultdict(lambda: defaultdict(list))
        for n in range(WARM_UP):
            visitor = Visitor(base, None, costs, 10_000 + n)
            await submit(visitor, 10_000 + n, answers)
            await visitor.client.aclose()
        t0 = time.perf_counter()
        visitors = []
        for n in range(REQUESTERS):
            visitor = Visitor(base, meter, costs, n)
            await submit(visitor, n, answers)
            visitors.append(visitor)
        submitted = time.perf_counter() - t0
        # The confirmation mails: a worker sends them, then stops (its work is not the web process's).
        cluster.start_worker(0)
        links = {}
        deadline = time.monotonic() + 300
        while len(links) < REQUESTERS and time.monotonic() < deadline:
            for n in range(REQUESTERS):
                if n not in links:
                    found = [m.group(1) for b in cluster.mail.bodies_of(registration_load.requester_email(n))
                             if (m := LINK.search(b))]
                    if found:
                        links[n] = found[0]
            await asyncio.sleep(0.2)
        cluster.workers[0].terminate()
        cluster.workers[0].wait(30)
        _setup.check(len(links) == REQUESTERS, f"{len(links)} confirmation mails of {REQUESTERS}")
        for n, visitor in enumerate(visitors):
            page = await visitor.request("GET", links[n], "GET /inscription/confirmer/{token}")
            _setup.check("confirmée" in page.text, f"requester {n}: not confirmed: {page.text[:300]}")
            await visitor.client.aclose()
        print(f"{REQUESTERS} requesters one at a time: submitted in {submitted:.1f} s (wall), {_setup.load()}")
        for line in report(costs, "CPU per route"):
            print(line)
    finally:
        cluster.stop()
        await db.close_pool()


async def _start_web(cluster: Cluster) -> None:
    if cluster.web[0] is None:
        cluster.start_web(0)
    await cluster.wait_healthy(0)


if __name__ == "__main__":
    _setup.run(main)
