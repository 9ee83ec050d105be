"""200 concurrent wizard submissions against `tremplin serve` (2 processes) on PostgreSQL: every one
completes, without error or duplicate. Prints the throughput and the latency of the HTTP requests
(p50/p95). Traffic stays on 127.0.0.1; each client is its own visitor through the trusted proxy's
X-Forwarded-For (FORWARDED_ALLOW_IPS=127.0.0.1), as behind the production load balancer.

Run: .venv/bin/python bench/registration_load.py
     BENCH_CLIENTS=20 .venv/bin/python bench/registration_load.py      # a quick run
     BENCH_ONE_ADDRESS=1 …   every client at one address (a training day on the venue's Wi-Fi)
     BENCH_SMOKE=1 …         5 clients; fails unless every submission went through
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta

import _setup

CLIENTS = int(os.environ.get("BENCH_CLIENTS", _setup.scale(200, 5)))
ONE_ADDRESS = os.environ.get("BENCH_ONE_ADDRESS", "") == "1"
LATENCIES: list[float] = []
LOG = os.environ.get("BENCH_SERVER_LOG", "")  # a file for the server's log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def requester_email(n: int) -> str:
    # An address of this run's own: Redis keeps the per-recipient mail counts for an hour.
    return f"elu{n}.{_setup.DB_NAME[-6:]}@example.org"


def _record(route: str, seconds: float) -> None:
    LATENCIES.append(seconds)


async def one_requester(client, n: int, answers: dict, code: str = "26C03S1", record=_record,
                        follow: bool = False) -> int:
    """Requester ``n`` goes through the wizard of session ``code`` and sends the request; ``record(route,
    seconds)`` gets each HTTP request's latency. ``follow``: as a browser, each redirect followed (the
    step's page after each form, the « sent » page at the end). Returns how many requests it made."""
    t0 = time.perf_counter()
    response = await client.get(f"/inscription/{code}")
    record("GET /inscription/{code}", time.perf_counter() - t0)
    if response.status_code != 200:
        raise RuntimeError(f"/inscription/{code}: {response.status_code} {response.text[:300]}")
    token = client.cookies.get("csrftoken")
    requests = 1

    async def post(url, route, data):
        nonlocal requests
        requests += 1
        t0 = time.perf_counter()
        response = await client.post(url, data={**data, "_csrf_token": token})
        record(route, time.perf_counter() - t0)
        if response.status_code != 303:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
        if follow:
            target = response.headers["location"]
            requests += 1
            t0 = time.perf_counter()
            page = await client.get(target)
            record("GET /inscription/envoyee" if target.endswith("/envoyee") else "GET /inscription/etape/{step}",
                   time.perf_counter() - t0)
            if page.status_code != 200:
                raise RuntimeError(f"{target}: {page.status_code} {page.text[:300]}")
        return response

    await post("/inscription/", "POST /inscription/", {"code": code, "action": "new"})
    for step, data in answers.items():
        if step == 4:
            email = requester_email(n)
            data = {**data, "email": email, "email_confirm": email,
                    "last_name": f"Élu{n}"}
        await post(f"/inscription/etape/{step}", "POST /inscription/etape/{step}", {**data, "go": "next"})
    return requests


async def open_session(code: str = "26C03S1", seats: int | None = None) -> dict:
    """A session of the demo's establishment ALP001 open to online registration (``seats``: limited);
    returns a requester's answers, step by step. The demo is loaded."""
    from app.tables.catalogue import CourseTemplate, TrainingSession
    from app.tables.org import Establishment
    from app.tables.registration import Organisation, RefItem

    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    qvt = await CourseTemplate.select().where(CourseTemplate.code == "C03").first()
    start = date.today() + timedelta(days=30)
    await TrainingSession.insert(TrainingSession(establishment=alp001, template=qvt["id"], full_name="QVT",
                                                 short_name="QVT", start_date=start, end_date=start, code=code,
                                                 seats=seats))

    async def ref(kind, label):
        return (await RefItem.select(RefItem.id).where((RefItem.kind == kind) & (RefItem.label == label)).first())["id"]

    org = (await Organisation.select(Organisation.id).where(Organisation.name == "Mairie de Nyons").first())["id"]
    return {
        2: {"funding": await ref("funding_method", "Financement personnel")}, 3: {"organisation": org},
        4: {"civility": "M.", "first_name": "Paul", "postal_code": "26110"},
        5: {"mandate": await ref("candidate_state", "Maire")}, 6: {"dietary": "no"}, 7: {},
        8: {"consent_carpool": "no", "consent_mailing": "no", "consent_image": "no"}, 9: {"cgv": "1"},
    }


async def main() -> None:
    import httpx

    from app import db
    from app.demo import load_demo
    from app.tables.registration import RegistrationRequest

    await db.open_pool()
    await load_demo(with_sessions=False)
    answers = await open_session()
    port = _free_port()
    env = {**os.environ, "FORWARDED_ALLOW_IPS": "127.0.0.1", "LOGIN_MAX_FAILURES_IP": "100000"}
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "2"], cwd=_setup.ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=open(LOG, "w") if LOG else subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as probe:
            for _ in range(100):
                try:
                    if (await probe.get(base + "/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise _setup.BenchFailed(f"tremplin serve did not answer /healthz at {base}")
        limits = httpx.Limits(max_connections=4)
        # Client n is visitor 10.20.x.y (the proxy's header, trusted from 127.0.0.1).
        clients = [httpx.AsyncClient(base_url=base, limits=limits, timeout=60, headers={} if ONE_ADDRESS else {
            "X-Forwarded-For": f"10.20.{n // 250}.{n % 250 + 1}"}) for n in range(CLIENTS)]
        t0 = time.perf_counter()
        results = await asyncio.gather(*[one_requester(c, n, answers) for n, c in enumerate(clients)],
                                       return_exceptions=True)
        elapsed = time.perf_counter() - t0
        for c in clients:
            await c.aclose()
    finally:
        server.terminate()
        server.wait(timeout=20)
    errors = [r for r in results if isinstance(r, Exception)]
    total_requests = sum(r for r in results if isinstance(r, int))
    submitted = await RegistrationRequest.count().where(RegistrationRequest.status == "awaiting_confirmation")
    distinct = len({r["email"] for r in await RegistrationRequest.select(RegistrationRequest.email).where(
        RegistrationRequest.status == "awaiting_confirmation")})
    references = len({r["reference"] for r in await RegistrationRequest.select(RegistrationRequest.reference)})
    print(f"{CLIENTS} concurrent requesters, {total_requests} HTTP requests in {elapsed:.1f} s: "
          f"{CLIENTS / elapsed:.1f} submissions/s, {total_requests / elapsed:.0f} requests/s (2 server processes)")
    if LATENCIES:
        print(f"HTTP request latency: p50 {_setup.percentile(LATENCIES, 50) * 1000:.0f} ms, "
              f"p95 {_setup.percentile(LATENCIES, 95) * 1000:.0f} ms, max {max(LATENCIES) * 1000:.0f} ms"
              f"{' (every client at one address)' if ONE_ADDRESS else ''}")
    kinds = Counter(repr(e)[:120] for e in errors)
    print(f"errors: {len(errors)}{' — ' + str(dict(kinds.most_common(3))) if errors else ''}; requests submitted: {submitted}, "
          f"distinct requesters: {distinct}, distinct references: {references}")
    await db.close_pool()
    _setup.check(not errors, f"{len(errors)} of {CLIENTS} submissions failed: {errors[0]!r:.600}" if errors else "")
    _setup.check(submitted == distinct == references == CLIENTS,
                 f"{CLIENTS} submissions, but {submitted} requests awaiting confirmation, {distinct} requesters, "
                 f"{references} references")


if __name__ == "__main__":
    _setup.run(main)
