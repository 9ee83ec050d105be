"""Émargement (issue 22): LEARNERS learners sign the same slot within SPREAD seconds against `tremplin
serve` (2 processes, PostgreSQL), while the trainer's live list is polled every second. Every learner
is logged in beforehand (not measured); each then opens the signing page and posts a drawn signature
(a real PNG). Fails unless every signature is recorded once, without error. Prints the latency of
the signature (the POST) and of the trainer's list (p50/p95), measured at the client on 127.0.0.1 —
server time plus the local round trip.

Run: .venv/bin/python bench/signing.py
     BENCH_LEARNERS=50 …   fewer learners
     BENCH_SMOKE=1 …       5 learners in a couple of seconds
"""

import asyncio
import base64
import io
import os
import random
import socket
import subprocess
import sys
import time
from datetime import datetime, time as clock_time, timedelta

import _setup

os.environ.update({"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "1024", "ARGON2_PARALLELISM": "1"})
LEARNERS = int(os.environ.get("BENCH_LEARNERS", _setup.scale(200, 5)))
SPREAD = float(os.environ.get("BENCH_SPREAD", _setup.scale(50, 1)))  # seconds over which they arrive
PASSWORD = "Bench-2026!"
SIGN, PAGE, LIST = [], [], []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _signature() -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 200), "white")
    draw = ImageDraw.Draw(image)
    rng = random.Random(7)
    points = [(rng.randint(10, 590), rng.randint(20, 180)) for _ in range(30)]
    draw.line(points, fill="black", width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


async def _seed():
    """LEARNERS learners (logging in with PASSWORD) of a session whose one slot runs now; a trainer."""
    from app.dates import local_now
    from app.services import slots
    from app.services.enrolments import add_sources
    from app.services.passwords import hash_password
    from app.tables.accounts import User
    from app.tables.catalogue import SessionSlot, TrainingSession
    from app.tables.learning import SourceKind
    from tests import factories

    alp001, ids = await _setup.seed_learners(LEARNERS, _setup.random_names(22))
    await User.update({User.password_hash: hash_password(PASSWORD)}).where(User.id.is_in(ids))
    moment = local_now()
    starts = max(datetime.combine(moment.date(), clock_time(0), tzinfo=moment.tzinfo), moment - timedelta(minutes=5))
    ends = min(moment + timedelta(minutes=90), datetime.combine(moment.date(), clock_time(23, 59), tzinfo=moment.tzinfo))
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Émargement bench", short_name="EMB", start_date=moment.date(),
        end_date=moment.date(), code="26X00S1")).returning(TrainingSession.id))[0]["id"]
    await slots.replace(session_id, [slots.Slot(moment.date(), starts.time().replace(second=0, microsecond=0),
                                                ends.time().replace(second=0, microsecond=0))])
    await add_sources(session_id, ids, SourceKind.manual)
    slot = (await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == session_id).first())["id"]
    trainer = await factories.trainer(session_id, password_hash=hash_password(PASSWORD))
    trainer_name = (await User.select(User.username).where(User.id == trainer).first())["username"]
    names = [r["username"] for r in await User.select(User.username).where(User.id.is_in(ids)).order_by(User.id)]
    return slot, names, trainer_name


async def _login(client, username: str) -> None:
    await client.get("/connexion")
    response = await client.post("/connexion", data={"username": username, "password": PASSWORD,
                                                     "_csrf_token": client.cookies.get("csrftoken")})
    if response.status_code != 303:
        raise RuntimeError(f"login {username}: {response.status_code} {response.text[:200]}")


async def _learner(client, slot: int, signature: str, delay: float) -> None:
    await asyncio.sleep(delay)
    t0 = time.perf_counter()
    page = await client.get(f"/signer/{slot}")
    PAGE.append(time.perf_counter() - t0)
    if page.status_code != 200 or "Signer ma présence" not in page.text:
        raise RuntimeError(f"signing page: {page.status_code} {page.text[:200]}")
    t0 = time.perf_counter()
    done = await client.post(f"/signer/{slot}", data={"signature": signature, "p": "",
                                                      "_csrf_token": client.cookies.get("csrftoken")})
    SIGN.append(time.perf_counter() - t0)
    if done.status_code != 200 or "Présence enregistrée" not in done.text:
        raise RuntimeError(f"signature: {done.status_code} {done.text[:300]}")


async def _trainer(client, slot: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        response = await client.get(f"/creneaux/{slot}/emargement/liste", headers={"HX-Request": "true"})
        LIST.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise RuntimeError(f"trainer's list: {response.status_code}")
        await asyncio.sleep(1)


async def _wait_for(base: str) -> None:
    import httpx

    async with httpx.AsyncClient() as probe:
        for _ in range(150):
            try:
                if (await probe.get(base + "/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise _setup.BenchFailed(f"tremplin serve did not answer /healthz at {base}")


def _ms(values, p) -> str:
    return f"{_setup.percentile(values, p) * 1000:.0f} ms" if values else "—"


async def main() -> None:
    import httpx

    from app import db
    from app.tables.evidence import AttendanceRecord
    from app.tables.learning import Attendance

    await db.open_pool()
    slot, names, trainer_name = await _seed()
    signature = _signature()
    port = _free_port()
    env = {**os.environ, "FORWARDED_ALLOW_IPS": "127.0.0.1", "LOGIN_MAX_FAILURES_IP": "100000"}
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "2"], cwd=_setup.ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    clients = []
    try:
        base = f"http://127.0.0.1:{port}"
        await _wait_for(base)
        limits = httpx.Limits(max_connections=2)
        clients = [httpx.AsyncClient(base_url=base, limits=limits, timeout=60, headers={
            "X-Forwarded-For": f"10.30.{n // 250}.{n % 250 + 1}", "User-Agent": f"Phone {n}"}) for n in range(LEARNERS + 1)]
        for start in range(0, LEARNERS, 20):  # logged in beforehand, 20 at a time (not measured)
            await asyncio.gather(*[_login(clients[n], names[n]) for n in range(start, min(LEARNERS, start + 20))])
        await _login(clients[-1], trainer_name)
        rng = random.Random(3)
        stop = asyncio.Event()
        poller = asyncio.create_task(_trainer(clients[-1], slot, stop))
        t0 = time.perf_counter()
        results = await asyncio.gather(*[_learner(clients[n], slot, signature, rng.uniform(0, SPREAD))
                                         for n in range(LEARNERS)], return_exceptions=True)
        elapsed = time.perf_counter() - t0
        stop.set()
        await poller
    finally:
        for c in clients:
            await c.aclose()
        server.terminate()
        server.wait(timeout=20)
    errors = [r for r in results if isinstance(r, Exception)]
    records = await AttendanceRecord.count().where(AttendanceRecord.slot == slot)
    present = await Attendance.count().where((Attendance.slot == slot) & (Attendance.status == "present"))
    print(f"{LEARNERS} learners signed one slot in {elapsed:.1f} s (arrivals spread over {SPREAD:.0f} s, 2 server processes)")
    print(f"signature (POST): p50 {_ms(SIGN, 50)}, p95 {_ms(SIGN, 95)}, max {max(SIGN) * 1000 if SIGN else 0:.0f} ms; "
          f"signing page (GET): p50 {_ms(PAGE, 50)}, p95 {_ms(PAGE, 95)}")
    print(f"trainer's live list ({len(LIST)} polls): p50 {_ms(LIST, 50)}, p95 {_ms(LIST, 95)}")
    print(f"errors: {len(errors)}; records: {records}; present: {present}")
    await db.close_pool()
    _setup.check(not errors, f"{len(errors)} of {LEARNERS} signatures failed: {errors[0]!r:.600}" if errors else "")
    _setup.check(records == present == LEARNERS, f"{LEARNERS} learners, but {records} records and {present} present")


if __name__ == "__main__":
    _setup.run(main)
