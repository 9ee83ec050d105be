"""200 concurrent wizard submissions against `tremplin serve` (2 processes) on PostgreSQL: every one
completes, without error or duplicate. Prints the throughput. Traffic stays on 127.0.0.1.

Run: .venv/bin/python bench/registration_load.py
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
from datetime import date, timedelta

import _setup

CLIENTS = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def one_requester(client, n: int, answers: dict) -> int:
    await client.get("/inscription/26C03S1")
    token = client.cookies.get("csrftoken")
    requests = 1

    async def post(url, data):
        nonlocal requests
        requests += 1
        response = await client.post(url, data={**data, "_csrf_token": token})
        if response.status_code != 303:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
        return response

    await post("/inscription/", {"code": "26C03S1", "action": "new"})
    for step, data in answers.items():
        if step == 4:
            data = {**data, "email": f"elu{n}@example.org", "email_confirm": f"elu{n}@example.org",
                    "last_name": f"Élu{n}"}
        await post(f"/inscription/etape/{step}", {**data, "go": "next"})
    return requests


async def main() -> None:
    import httpx

    from app import db
    from app.demo import load_demo
    from app.tables.catalogue import CourseTemplate, TrainingSession
    from app.tables.org import Establishment
    from app.tables.registration import Organisation, RefItem, RegistrationRequest

    await db.open_pool()
    await load_demo(with_sessions=False)
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    qvt = await CourseTemplate.select().where(CourseTemplate.code == "C03").first()
    start = date.today() + timedelta(days=30)
    await TrainingSession.insert(TrainingSession(establishment=alp001, template=qvt["id"], full_name="QVT",
                                                 short_name="QVT", start_date=start, end_date=start, code="26C03S1"))

    async def ref(kind, label):
        return (await RefItem.select(RefItem.id).where((RefItem.kind == kind) & (RefItem.label == label)).first())["id"]

    org = (await Organisation.select(Organisation.id).where(Organisation.name == "Mairie de Nyons").first())["id"]
    answers = {
        2: {"funding": await ref("funding_method", "Financement personnel")}, 3: {"organisation": org},
        4: {"civility": "M.", "first_name": "Paul", "postal_code": "26110"},
        5: {"mandate": await ref("candidate_state", "Maire")}, 6: {"dietary": "non"}, 7: {},
        8: {"consent_carpool": "non", "consent_mailing": "non", "consent_image": "non"}, 9: {"cgv": "1"},
    }
    port = _free_port()
    env = {**os.environ, "FORWARDED_ALLOW_IPS": "127.0.0.1", "LOGIN_MAX_FAILURES_IP": "100000"}
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "2"], cwd=_setup.ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
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
        limits = httpx.Limits(max_connections=4)
        clients = [httpx.AsyncClient(base_url=base, limits=limits, timeout=60) for _ in range(CLIENTS)]
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
    print(f"errors: {len(errors)}{' — ' + repr(errors[0])[:300] if errors else ''}; requests submitted: {submitted}, "
          f"distinct requesters: {distinct}, distinct references: {references}")
    await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
