"""Several hosts, measured (issue 24): the production layout — two `tremplin serve` processes (the client
alternating between their ports), two `tremplin worker` processes, PostgreSQL through PgBouncer in
transaction mode, Redis, a real SMTP server — under, at the same time:
- 1,000 requesters arriving over 60 s (one every 60 ms, whatever the others do), each going through
  the registration wizard of a session with 300 seats as a browser does (every step's form and page),
  then following the confirmation link of the mail they received;
- a CSV import of 10,000 accounts (upload, confirm, the job creating them and mailing 5,000 passwords);
- the ZIP of a session's certificates, its progress page polled until the download;
- an operator reloading the operations dashboard.
What must hold: no error (5xx or unexpected answer); the seats never oversold (sampled in the
database all along, and at the end: 300 confirmed, the others on the waiting list); every job run
exactly once (every run succeeded; every account created once; one ZIP with every certificate);
every mail once (the SMTP server received each outbox row exactly once, and every row was sent).

Two rounds, each on a database of its own: a calm one, then the same with one worker SIGKILLed while
it runs the import and one web process restarted (SIGTERM, started again) in the middle of the
registrations. Prints the throughput and the latency (p50/p95) per route, and the machine's load.

Run: .venv/bin/python bench/multi_host.py
     BENCH_CHAOS=0 | 1 …     only the calm round, or only the one with the kill and the restart
     BENCH_REQUESTERS=200 …  fewer requesters (BENCH_SEATS: the seats, 30 % of them by default);
                             BENCH_IMPORT_ROWS, BENCH_CERTIFICATES: the import's rows, the ZIP's certificates
     BENCH_HTTP_PORTS=8107,8108 BENCH_SMTP_PORT=2607 …   fixed ports (free ones by default)
     BENCH_ARRIVALS=60 …     the requesters arrive over that many seconds (BENCH_CONCURRENCY: wizards at once, 40)
     BENCH_FOLLOW=0 …        the forms alone, no page after each (a browser follows: 20 requests a requester, not 11)
     BENCH_SETTLE=900 …      seconds a requester waits for its mail, and everything to settle (420 by default)
     BENCH_SMOKE=1 …         8 requesters, 30 accounts, 2 certificates: both rounds, the same checks
"""

import asyncio
import io
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import _setup
import certificates
import import_10k
import registration_load
from _cluster import BalancedClient, Balancer, Cluster, Unexpected, http_client

REQUESTERS = int(os.environ.get("BENCH_REQUESTERS", _setup.scale(1000, 8)))
SEATS = int(os.environ.get("BENCH_SEATS", max(2, REQUESTERS * 3 // 10)))
IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", _setup.scale(10_000, 30)))
CERTIFICATES = int(os.environ.get("BENCH_CERTIFICATES", _setup.scale(200, 2)))
# Requesters arrive on a schedule, as people do, not when a previous one has finished: requester n
# starts its wizard ARRIVALS * n / REQUESTERS seconds in (1,000 in 60 s: one every 60 ms), whatever
# the others are doing (waiting for their mail does not hold back the next one). CONCURRENCY only
# caps the wizards in progress at once, to keep the bench's own process (every visitor is one of its
# coroutines) within bounds, and each request's wait under the client's timeout: 300 wizards at once
# on this shared machine (4 requests/s at a load of 25) finished none in 4 minutes, each request
# queued a minute or more. When it binds, the arrivals run late, and the report says how late.
ARRIVALS = float(os.environ.get("BENCH_ARRIVALS", _setup.scale(60, 2)))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", _setup.scale(40, 8)))
# A browser follows every redirect: each step's page after its form (20 requests a requester, where
# the forms alone are 11). BENCH_FOLLOW=0: the forms alone (the bench's figures before 2026-12-07).
FOLLOW = os.environ.get("BENCH_FOLLOW", "1") == "1"
CODE = "26C03S2"  # the registration session (bench/certificates.py's session is 26C03S1)
# The operator's interval between two loads of the dashboard.
OPS_EVERY = 1.0
# How long everything may take to settle (jobs finished, mails sent) once the load is over. A mail
# being sent by the worker that is killed stays claimed for MAIL_CLAIM_SECONDS (300 s in production,
# 20 s here): the chaos round waits for it.
SETTLE = float(os.environ.get("BENCH_SETTLE", 420))
# A line every PROGRESS seconds while the load runs: a full run on a loaded machine takes many
# minutes, and one stopped before its end still says how far it went.
PROGRESS = float(os.environ.get("BENCH_PROGRESS", 30))
# Quick jobs for the chaos round: a dead worker's runs are handed over after JOBS_WORKER_DEAD_AFTER.
JOB_SETTINGS = {"JOBS_SWEEP_SECONDS": "5", "JOBS_HEARTBEAT_SECONDS": "2", "JOBS_WORKER_DEAD_AFTER": "12",
                "MAIL_CLAIM_SECONDS": "20"}
# A load balancer's deregistration delay: how long a host out of the rotation keeps serving before it stops.
DRAIN = 5
LINK = re.compile(r"https?://[^/\s]+(/inscription/confirmer/\S+)")


async def requester(balancer, n: int, answers: dict, sink, record, gate: asyncio.Semaphore, submitted) -> None:
    """Submit the request (one of the wizards in progress under ``gate``), wait for the confirmation
    mail, follow its link (on whichever host)."""
    address = registration_load.requester_email(n)
    client = BalancedClient(balancer, headers={"X-Forwarded-For": f"10.20.{n // 250}.{n % 250 + 1}"})
    try:
        async with gate:
            await registration_load.one_requester(client, n, answers, CODE, record, follow=FOLLOW)
        submitted()
        t0 = time.perf_counter()
        while not (links := [m.group(1) for body in sink.bodies_of(address) if (m := LINK.search(body))]):
            if time.perf_counter() - t0 > SETTLE:
                raise RuntimeError(f"{address}: no confirmation mail in {SETTLE} s")
            await asyncio.sleep(0.2)
        record("(mail) submitted -> confirmation mail received", time.perf_counter() - t0)
        page = await balancer.request(client.client, "GET", links[0], "GET /inscription/confirmer/{token}")
        if "confirmée" not in page.text:
            raise RuntimeError(f"{address}: the confirmation page does not say it is confirmed")
    finally:
        await client.aclose()


async def logged_in(balancer, username: str = "admin"):
    import httpx

    from tests.helpers import DEMO_PASSWORD

    client = http_client(timeout=120, headers={"X-Forwarded-For": "10.30.0.1"},
                         limits=httpx.Limits(max_keepalive_connections=0))  # see BalancedClient
    await balancer.request(client, "GET", "/connexion", None)
    await balancer.request(client, "POST", "/connexion", None, (303,), data={
        "username": username, "password": DEMO_PASSWORD, "_csrf_token": client.cookies.get("csrftoken")})
    return client


async def run_import(balancer, establishment: int, content: bytes, state: dict) -> None:
    from app.tables.imports import ImportBatch

    client = await logged_in(balancer)
    try:
        token = {"_csrf_token": client.cookies.get("csrftoken")}
        await balancer.request(client, "GET", f"/etablissements/{establishment}/import/", "GET import form")
        t0 = time.perf_counter()
        response = await balancer.request(client, "POST", f"/etablissements/{establishment}/import/",
                                          "POST import upload (analyse)", (303,), data=token,
                                          files={"file": ("comptes.csv", content, "text/csv")})
        batch = int(re.search(r"/imports/(\d+)", response.headers["location"]).group(1))
        state["import_batch"] = batch

        async def until(*statuses: str) -> str:
            # The batch page polled as its progress box does, the state read in the database.
            while True:
                await balancer.request(client, "GET", f"/imports/{batch}/", "GET import page (progress, preview)")
                row = await ImportBatch.select(ImportBatch.status).where(ImportBatch.id == batch).first()
                if row["status"] in statuses:
                    return row["status"]
                if time.perf_counter() - t0 > SETTLE:
                    raise RuntimeError(f"import batch {batch}: still {row['status']} after {SETTLE} s")
                await asyncio.sleep(0.5)

        # The analysis is a job (issue 24): the preview comes once a worker has analysed the rows.
        if await until("preview", "refused") == "refused":
            raise RuntimeError(f"import batch {batch}: refused by the analysis")
        state["import_analysed_seconds"] = time.perf_counter() - t0
        await balancer.request(client, "POST", f"/imports/{batch}/confirmer", "POST import confirm", (303,), data=token)
        state["import_status"] = await until("done", "failed")
        state["import_seconds"] = time.perf_counter() - t0
        await balancer.request(client, "GET", f"/imports/{batch}/", "GET import preview")
    finally:
        await client.aclose()


async def run_zip(balancer, session_id: int, state: dict) -> None:
    client = await logged_in(balancer)
    try:
        t0 = time.perf_counter()
        response = await balancer.request(client, "POST", f"/sessions/{session_id}/attestations/zip",
                                          "POST certificates ZIP", (303,),
                                          data={"_csrf_token": client.cookies.get("csrftoken")})
        progress_path = response.headers["location"]
        while True:
            page = await balancer.request(client, "GET", progress_path, "GET /taches/{token} (progress)")
            found = re.search(r'href="(/attestations/zip/[^"]+)"', page.text)
            if found:
                break
            if time.perf_counter() - t0 > SETTLE:
                raise RuntimeError(f"certificates ZIP: no download link after {SETTLE} s")
            await asyncio.sleep(1)
        download = await balancer.request(client, "GET", found.group(1), "GET certificates ZIP download")
        state["zip_seconds"] = time.perf_counter() - t0
        state["zip_entries"] = len(zipfile.ZipFile(io.BytesIO(download.content)).namelist())
    finally:
        await client.aclose()


async def watch_ops(balancer, done: asyncio.Event) -> None:
    client = await logged_in(balancer)
    try:
        while not done.is_set():
            await balancer.request(client, "GET", "/ops/", "GET /ops/ (dashboard)")
            await balancer.request(client, "GET", "/ops/jobs", "GET /ops/jobs")
            try:
                await asyncio.wait_for(done.wait(), OPS_EVERY)
            except asyncio.TimeoutError:
                pass
    finally:
        await client.aclose()


async def watch_seats(session_id: int, done: asyncio.Event, state: dict) -> None:
    """The seats held, read in the database every 200 ms from start to end: never above the seats.
    Counted twice: by the app's own count (app/services/seats.py), and by the bench's SQL — the
    requests confirmed (or further), and those awaiting their confirmation off the waiting list —
    so that a wrong count in the app cannot hide an oversold session."""
    from app.services import seats
    from app.tables.registration import RegistrationRequest

    while not done.is_set():
        state["max_held"] = max(state.get("max_held", 0), await seats.seats_taken(session_id))
        row = (await RegistrationRequest.raw(
            "SELECT count(*) FILTER (WHERE status IN ('confirmed', 'instance_validated', 'credentials_sent')) AS firm, "
            "count(*) FILTER (WHERE status = 'awaiting_confirmation' AND NOT waiting_list) AS pending "
            "FROM registration_request WHERE session = {}", session_id))[0]
        state["max_firm"] = max(state.get("max_firm", 0), row["firm"])
        state["max_held_sql"] = max(state.get("max_held_sql", 0), row["firm"] + row["pending"])
        state["samples"] = state.get("samples", 0) + 1
        await asyncio.sleep(0.2)


async def watch_progress(balancer, done: asyncio.Event, counts: dict, t0: float) -> None:
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), PROGRESS)
        except asyncio.TimeoutError:
            pass
        requests = sum(len(v) for v in balancer.latencies.values())
        print(f"  … {time.perf_counter() - t0:.0f} s: {counts['submitted']()} submitted, {counts['through']()} confirmed "
              f"(or failed), {requests} requests, {len(balancer.errors)} errors; {_setup.load()}", flush=True)


async def watch_memory(cluster, done: asyncio.Event, state: dict) -> None:
    """The peak resident memory of each web and worker process (a worker with its render pool's
    children), sampled every second."""
    peaks = state.setdefault("peak_mb", {})
    while not done.is_set():
        for name, mb in cluster.memory_mb().items():
            peaks[name] = max(peaks.get(name, 0), mb)
        await asyncio.sleep(1)


async def kill_import_worker(cluster, state: dict) -> None:
    """SIGKILL the worker running the import, once it runs (accounts being written)."""
    from app.tables.jobs import JobRun

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < SETTLE:
        run = await JobRun.select(JobRun.worker, JobRun.status).where(JobRun.kind == "import_accounts").first()
        if run and run["status"] == "running" and run["worker"]:
            break
        await asyncio.sleep(0.1)
    else:
        raise _setup.BenchFailed("the import never ran")
    await asyncio.sleep(0.3)
    pid = int(run["worker"].split(":")[1])
    victim = next((i for i, p in enumerate(cluster.workers) if p.pid == pid), 0)
    cluster.kill_worker(victim)
    state["killed"] = (f"worker {victim} (pid {cluster.workers[victim].pid}) SIGKILLed {time.perf_counter() - t0:.1f} s "
                       "in, while it ran the import")


async def restart_a_web_process(cluster, balancer, state: dict, through) -> None:
    """Restart web process 1 when half the requesters are through, as a deployment does: out of the
    balancer's rotation first (a request reaching a process that is shutting down, between its accept
    and its reading, is closed unanswered: uvicorn's, seen in this bench), then SIGTERM, back in once
    it answers."""
    while through() < REQUESTERS // 2:
        await asyncio.sleep(0.2)
    at = through()
    balancer.drained.add(balancer.bases[1])
    await asyncio.sleep(DRAIN)  # the requests sent to it just before reach it and are answered
    stopping, starting = await cluster.restart_web(1)
    balancer.drained.discard(balancer.bases[1])
    state["restarted"] = (f"web process 1 restarted when {at} of {REQUESTERS} requesters were through: "
                          f"{stopping:.1f} s to stop (requests under way finished), {starting:.1f} s to answer again")


async def settle() -> None:
    """Every job run finished and every mail out of the outbox's hands (or SETTLE over)."""
    from app.tables.jobs import JobRun
    from app.tables.outbox import Mail

    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        busy_runs = await JobRun.count().where(JobRun.status.is_in(["queued", "deferred", "running"]))
        busy_mails = await Mail.count().where(Mail.status.is_in(["queued", "retry", "sending"]))
        if not busy_runs and not busy_mails:
            return
        await asyncio.sleep(1)


async def round_(chaotic: bool) -> None:
    from app import db, queue
    from app.tables.org import Establishment

    await db.open_pool()
    redis = await queue.connect()
    await redis.flushdb()  # the bench's own Redis database: arq job ids are per database
    await redis.aclose()
    facts = await certificates.seed(CERTIFICATES)
    answers = await registration_load.open_session(CODE, seats=SEATS)
    from app.tables.catalogue import TrainingSession

    session_id = (await TrainingSession.select(TrainingSession.id).where(TrainingSession.code == CODE).first())["id"]
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    content = import_10k.csv_content(IMPORT_ROWS)
    ports = [int(p) for p in os.environ["BENCH_HTTP_PORTS"].split(",")] if os.environ.get("BENCH_HTTP_PORTS") else None
    smtp = int(os.environ["BENCH_SMTP_PORT"]) if os.environ.get("BENCH_SMTP_PORT") else None
    cluster = Cluster(Path(os.environ["TREMPLIN_VAR_DIR"]) / "cluster",
                      ports=ports, smtp_port=smtp, env=JOB_SETTINGS)
    state: dict = {}
    balancer = Balancer(cluster.ports)
    try:
        await cluster.start()
        print(f"{'CHAOS round' if chaotic else 'Calm round'}: 2 × tremplin serve (ports {cluster.ports}), "
              f"2 × tremplin worker, PgBouncer (transaction mode), Redis, SMTP; load {os.getloadavg()}", flush=True)
        done = asyncio.Event()
        through = [0]
        gate = asyncio.Semaphore(CONCURRENCY)
        record = lambda route, seconds: balancer.latencies[route].append(seconds)  # noqa: E731
        late: list[float] = []
        submitted_at: list[float] = []

        async def one(n):
            await asyncio.sleep(max(0.0, t0 + ARRIVALS * n / REQUESTERS - time.perf_counter()))
            late.append(time.perf_counter() - (t0 + ARRIVALS * n / REQUESTERS))
            try:
                await requester(balancer, n, answers, cluster.mail, record, gate,
                                lambda: submitted_at.append(time.perf_counter() - t0))
            finally:
                through[0] += 1

        t0 = time.perf_counter()
        watchers = [asyncio.create_task(watch_ops(balancer, done)),
                    asyncio.create_task(watch_seats(session_id, done, state)),
                    asyncio.create_task(watch_memory(cluster, done, state)),
                    asyncio.create_task(watch_progress(balancer, done, {"submitted": lambda: len(submitted_at),
                                                                        "through": lambda: through[0]}, t0))]
        work = [run_import(balancer, alp001, content, state), run_zip(balancer, facts["session"], state),
                *[one(n) for n in range(REQUESTERS)]]
        if chaotic:
            work += [kill_import_worker(cluster, state), restart_a_web_process(cluster, balancer, state, lambda: through[0])]
        results = await asyncio.gather(*work, return_exceptions=True)
        elapsed = time.perf_counter() - t0
        done.set()
        for w in await asyncio.gather(*watchers, return_exceptions=True):
            if isinstance(w, Exception):
                results.append(w)
        await settle()
        settled = time.perf_counter() - t0
        state["late"], state["submitted_at"] = late, submitted_at
        failures = [r for r in results if isinstance(r, Exception)]
        await report(cluster, balancer, state, session_id, failures, elapsed, settled, chaotic)
    finally:
        cluster.stop()
        await db.close_pool()


async def report(cluster, balancer, state, session_id, failures, elapsed, settled, chaotic) -> None:
    from app.tables.accounts import User
    from app.tables.jobs import JobRun
    from app.tables.outbox import Mail
    from app.tables.registration import RegistrationRequest

    statuses = {r["status"]: r["n"] for r in await RegistrationRequest.raw(
        "SELECT status, count(*) AS n FROM registration_request WHERE session = {} GROUP BY status", session_id)}
    runs = await JobRun.raw("SELECT kind, status, count(*) AS n, max(tries) AS tries FROM job_run "
                            "GROUP BY kind, status ORDER BY kind, status")
    accounts = await User.count().where(User.username.like("alp001.p.nom%"))
    distinct_accounts = len({r["email"] for r in await User.select(User.email).where(
        User.username.like("alp001.p.nom%"))})
    mails = {r["status"]: r["n"] for r in await Mail.raw("SELECT status, count(*) AS n FROM mail GROUP BY status")}
    sent = {r["id"] for r in await Mail.select(Mail.id).where(Mail.status == "sent")}
    delivered = cluster.mail.deliveries()
    twice = {mail_id: n for mail_id, n in delivered.items() if n > 1}
    unknown = set(delivered) - sent
    requests = sum(len(v) for v in balancer.latencies.values() if v)
    print(f"  {REQUESTERS} requesters submitted and confirmed in {elapsed:.1f} s "
          f"({REQUESTERS / elapsed:.1f}/s); everything settled (jobs done, mails sent) at {settled:.1f} s; "
          f"{requests} timed HTTP requests; {balancer.rerouted} connection(s) refused and sent to the other host")
    for line in balancer.report(elapsed):
        print(line)
    late, submitted_at = state.get("late") or [0.0], sorted(state.get("submitted_at") or [0.0])
    print(f"  arrivals: {REQUESTERS} over {ARRIVALS:.0f} s (at most {CONCURRENCY} wizards at once), started up to "
          f"{max(late):.1f} s late (p95 {_setup.percentile(late, 95):.1f} s); last request submitted at "
          f"{submitted_at[-1]:.1f} s ({len(submitted_at) / max(submitted_at[-1], 0.001):.1f} submissions/s); "
          f"{'20' if FOLLOW else '11'} requests a requester ({'every redirect followed' if FOLLOW else 'forms only'})")
    print("  peak memory (RSS, MB): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(state.get("peak_mb", {}).items())))
    for key in ("killed", "restarted"):
        if key in state:
            print(f"  {state[key]}")
    print(f"  import of {IMPORT_ROWS} accounts: {state.get('import_status')} in {state.get('import_seconds', 0):.1f} s "
          f"(upload to committed), {accounts} accounts ({distinct_accounts} distinct addresses)")
    print(f"  certificates ZIP: {state.get('zip_entries')} files, {state.get('zip_seconds', 0):.1f} s to the download")
    print(f"  seats {SEATS}: at most {state.get('max_held')} held at any time by the app's count, "
          f"{state.get('max_held_sql')} by the bench's SQL ({state.get('max_firm')} confirmed), "
          f"{state.get('samples')} samples; requests by status {statuses}")
    print("  job runs: " + ", ".join(f"{r['kind']} {r['status']} {r['n']} (tries ≤ {r['tries']})" for r in runs))
    print(f"  mails by status {mails}; SMTP received {sum(delivered.values())} for {len(delivered)} outbox rows, "
          f"{len(twice)} twice or more")
    print(f"  load {os.getloadavg()}")
    errors = [*balancer.errors, *[repr(f)[:300] for f in failures if not isinstance(f, Unexpected)]]
    _setup.check(not errors, f"{len(errors)} error(s): {errors[:5]}")
    _setup.check(state.get("max_held", 0) <= SEATS and state.get("max_held_sql", 0) <= SEATS,
                 f"{state.get('max_held')} seats held by the app's count, {state.get('max_held_sql')} by the bench's "
                 f"SQL, {SEATS} on sale")
    _setup.check(state.get("samples", 0) >= 5, f"the seats sampled {state.get('samples')} times only")
    # First come, first served: the seats went to the requests submitted first, the others wait.
    order = await RegistrationRequest.raw(
        "SELECT status FROM registration_request WHERE session = {} AND submitted_at IS NOT NULL "
        "ORDER BY submitted_at, id", session_id)
    wrong = [i for i, r in enumerate(order) if (r["status"] == "confirmed") != (i < SEATS)]
    _setup.check(not wrong, f"seats not given in the order of submission: positions {wrong[:10]} "
                            f"({len(wrong)} requests)")
    _setup.check(statuses.get("confirmed", 0) == min(SEATS, REQUESTERS)
                 and statuses.get("waiting_list", 0) == max(0, REQUESTERS - SEATS),
                 f"{SEATS} seats, {REQUESTERS} requesters: requests by status {statuses}")
    _setup.check(all(r["status"] == "succeeded" for r in runs), f"job runs not all succeeded: {runs}")
    per_kind = {r["kind"]: r["n"] for r in runs}
    expected = {"analyse_import": 1, "import_accounts": 1, "send_mail_group": 1, "build_certificates_zip": 1,
                "send_request_notifications": REQUESTERS}
    _setup.check(per_kind == expected, f"job runs by kind {per_kind}, expected {expected}")
    notified = await RegistrationRequest.count().where(
        (RegistrationRequest.session == session_id) & RegistrationRequest.notified_at.is_not_null())
    _setup.check(notified == REQUESTERS, f"{REQUESTERS} confirmed addresses, {notified} requests notified")
    _setup.check(state.get("import_status") == "done" and accounts == distinct_accounts == IMPORT_ROWS,
                 f"import of {IMPORT_ROWS} rows: {state.get('import_status')}, {accounts} accounts, "
                 f"{distinct_accounts} addresses")
    _setup.check(state.get("zip_entries", 0) >= CERTIFICATES, f"ZIP of {CERTIFICATES} certificates: "
                                                               f"{state.get('zip_entries')} files")
    _setup.check(not twice and not unknown, f"mails delivered more than once: {dict(list(twice.items())[:10])}; "
                                            f"delivered but not recorded sent: {sorted(unknown)[:10]}")
    # Every mail once: no mail queued twice (the same subject to the same people about the same thing)…
    doubled = await Mail.raw("SELECT category, group_key, recipients, subject, count(*) AS n FROM mail "
                             "GROUP BY category, group_key, recipients, subject HAVING count(*) > 1 LIMIT 10")
    _setup.check(not doubled, f"mails queued more than once: {doubled}")
    # … each requester one confirmation mail, each generated password one mail.
    per_category = {r["category"]: r["n"] for r in await Mail.raw(
        "SELECT category, count(*) AS n FROM mail GROUP BY category")}
    received = cluster.mail.messages_to()
    unconfirmed = [n for n in range(REQUESTERS) if not received.get(registration_load.requester_email(n))]
    _setup.check(per_category.get("registration-confirm") == REQUESTERS and not unconfirmed,
                 f"{REQUESTERS} requesters, {per_category.get('registration-confirm')} confirmation mails queued; "
                 f"requesters who received nothing: {unconfirmed[:10]}")
    _setup.check(per_category.get("credentials") == (IMPORT_ROWS + 1) // 2,
                 f"{(IMPORT_ROWS + 1) // 2} generated passwords, {per_category.get('credentials')} mails queued")
    print(f"  mails by category {per_category}")
    _setup.check(set(delivered) == sent and not set(mails) - {"sent", "held", "cancelled"},
                 f"mails by status {mails}; {len(sent - set(delivered))} recorded sent but never received")


async def main() -> None:
    await round_(os.environ["BENCH_CHAOS"] == "1")


if __name__ == "__main__":
    if "BENCH_CHAOS" not in os.environ:
        # One round per process: each with its own database (bench/_setup.py names it at import).
        for chaotic in ("0", "1"):
            result = subprocess.run([sys.executable, __file__], env={**os.environ, "BENCH_CHAOS": chaotic})
            if result.returncode:
                sys.exit(result.returncode)
    else:
        _setup.run(main)
