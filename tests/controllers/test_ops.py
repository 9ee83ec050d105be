"""SPEC G2: the operations dashboard (/ops) — who sees it, what it shows, what an operator does."""

import itertools
import json
import re
from datetime import timedelta

import pytest
from arq.jobs import Job

from app.dates import now
from app.services.roles import OPERATIONS
from app.settings import get_settings
from app.tables.accounts import RoleAssignment, User
from app.tables.jobs import JobAction, JobRun
from app.tables.outbox import Mail
from tests.helpers import login, post_form, text

PASSWORD = "Zx9-Secret-Pass!"
SIGNED_LINK = "https://tremplin.example.org/inscription/confirmer/eyJyIjo0Mn0.aXb12Q.Qk3vT9sLmN0pXyZ8aBcDeFgHiJ4"
API_TOKEN = "tok_9fK2mQ7xLp3Vb8Rt"
KEYS = itertools.count()


async def add_run(kind="import_accounts", status="failed", args=(42,), error="", minutes_ago=5, duration=2.0, **values):
    at = now() - timedelta(minutes=minutes_ago)
    finished = status in ("succeeded", "failed", "aborted")
    row = await JobRun.insert(JobRun(
        kind=kind, job_key=f"{kind}:{next(KEYS)}:{values.pop('key', '')}",
        args=json.dumps(list(args)), status=status, tries=3 if status == "failed" else 1, max_tries=3,
        enqueued_at=at - timedelta(seconds=duration + 1), created_at=at - timedelta(seconds=duration + 1),
        started_at=at - timedelta(seconds=duration) if status != "queued" else None,
        finished_at=at if finished else None, error=error, **values,
    )).returning(JobRun.id)
    return row[0]["id"]


async def queued_jobs(redis) -> dict[str, tuple[str, tuple]]:
    """arq's queue as a worker would read it: job id -> (function, args)."""
    members = await redis.zrange(get_settings().redis.queue_name, 0, -1)
    jobs = {}
    for member in members:
        job_id = member.decode()
        info = await Job(job_id, redis).info()
        jobs[job_id] = (info.function, tuple(info.args))
    return jobs


async def operations_user(client):
    """The read-only operations role, granted the way an administrator does it (Rôles page)."""
    await login(client, "admin")
    response = await post_form(client, "/roles", {"role": OPERATIONS, "username": "testeur"})
    assert response.status_code == 303, text(response.text)
    await post_form(client, "/deconnexion")
    await login(client, "testeur")


OPS_PAGES = ["/ops", "/ops/jobs", "/ops/jobs?status=failed", "/ops/jobs/{id}", "/ops/actions", "/ops/metrics",
             "/ops/jobs/relancer", "/ops/jobs/{id}/abandonner"]


@pytest.mark.parametrize("username", ["alp001.get", "ged.alp", "inscriptions", "learner"])
async def test_nobody_but_admin_and_operations_finds_the_dashboard(client, username):
    run_id = await add_run()
    if username == "learner":
        row = await RoleAssignment.select(RoleAssignment.user.username.as_alias("u")).where(
            RoleAssignment.role == "learner").first()
        username = row["u"]
    await login(client, username)
    home = await client.get("/")
    assert home.status_code == 200 and "Exploitation" not in text(home.text)
    for page in OPS_PAGES:
        response = await client.get(page.format(id=run_id))
        assert response.status_code == 404, page
        assert "n'existe pas" in text(response.text)
    for page in ("/ops/jobs/{id}/relancer", "/ops/jobs/{id}/abandonner", "/ops/jobs/relancer"):
        response = await post_form(client, page.format(id=run_id))
        assert response.status_code == 404, page
    assert (await JobRun.select(JobRun.status).where(JobRun.id == run_id).first())["status"] == "failed"


async def test_anonymous_is_sent_to_login_and_metrics_are_not_found(client):
    response = await client.get("/ops")
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion")
    assert (await client.get("/ops/metrics")).status_code == 404


async def test_operations_role_reads_everything_and_acts_on_nothing(client, redis_client):
    run_id = await add_run(error="Traceback\nValueError: boom")
    queued_id = await add_run(status="queued", key="q")
    await operations_user(client)
    home = await client.get("/")
    assert 'href="/ops"' in home.text and "Exploitation" in text(home.text)
    for page in ("/ops", "/ops/jobs", f"/ops/jobs/{run_id}", "/ops/actions", "/ops/metrics"):
        assert (await client.get(page)).status_code == 200, page
    listing = await client.get("/ops/jobs?status=failed")
    assert "Relancer" not in text(listing.text) and "Abandonner" not in text(listing.text)
    for page, target in ((f"/ops/jobs/{run_id}/relancer", run_id), ("/ops/jobs/relancer", run_id),
                         (f"/ops/jobs/{queued_id}/abandonner", queued_id)):
        response = await post_form(client, page)
        assert response.status_code == 403, page
        assert "seul un administrateur relance ou abandonne" in text(response.text)
    assert (await client.get(f"/ops/jobs/{queued_id}/abandonner")).status_code == 403
    statuses = {r["id"]: r["status"] for r in await JobRun.select(JobRun.id, JobRun.status)}
    assert statuses == {run_id: "failed", queued_id: "queued"}
    assert await JobAction.count() == 0 and await queued_jobs(redis_client) == {}


async def test_a_failed_run_shows_no_secret(client):
    args = [42, {"password": PASSWORD, "link": SIGNED_LINK, "note": "Import de l'établissement ALP001"}, API_TOKEN]
    error = (
        "Traceback (most recent call last):\n"
        '  File "/srv/tremplin/app/jobs/imports.py", line 88, in import_accounts\n'
        f"    await send(user, password={PASSWORD!r}, link={SIGNED_LINK!r})\n"
        f"aiosmtplib.errors.SMTPDataError: refused body_text='Bonjour, votre mot de passe : {PASSWORD}' "
        f"Authorization: Bearer {API_TOKEN}\n"
        f"RuntimeError: could not fetch {SIGNED_LINK}?token={API_TOKEN}"
    )
    run_id = await add_run(args=args, error=error)
    await login(client, "admin")
    for page in (f"/ops/jobs/{run_id}", "/ops/jobs?status=failed", "/ops/jobs?export=csv&status=failed"):
        body = (await client.get(page)).text
        for secret in (PASSWORD, "eyJyIjo0Mn0", "Qk3vT9sLmN0pXyZ8aBcDeFgHiJ4", API_TOKEN, "Bonjour, votre mot"):
            assert secret not in body, (page, secret)
    detail = text((await client.get(f"/ops/jobs/{run_id}")).text)
    # What is no secret stays readable: the ids, the text, the file and the exception.
    assert "42" in detail and "Import de l'établissement ALP001" in detail and "[masqué]" in detail
    assert "app/jobs/imports.py" in detail and "RuntimeError: could not fetch" in detail


async def test_retry_one_records_the_action_and_enqueues_the_job(client, redis_client):
    run_id = await add_run(kind="import_accounts", args=(7, "alp001"), error="ValueError: boom")
    other = await add_run(kind="import_accounts", args=(8,), status="succeeded")
    await login(client, "admin")
    response = await post_form(client, f"/ops/jobs/{run_id}/relancer")
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert f"Job n° {run_id} relancé." in text(page.text)
    run = await JobRun.select().where(JobRun.id == run_id).first()
    assert run["status"] == "queued" and run["tries"] == 0 and run["finished_at"] is None
    assert run["error"] == "ValueError: boom"  # kept for history
    action = await JobAction.select(JobAction.all_columns(), JobAction.actor.username.as_alias("who")).first()
    assert action["run"] == run_id and action["action"] == "retry" and action["who"] == "admin"
    jobs = await queued_jobs(redis_client)
    assert list(jobs.values()) == [("import_accounts", (7, "alp001"))]
    assert next(iter(jobs)).startswith(f"run:{run_id}:")
    # The run's page and the history list show who did it.
    assert "Relance" in text(page.text) and "admin" in text(page.text)
    history = text((await client.get("/ops/actions")).text)
    assert "Relance" in history and f"n° {run_id}" in history
    # A run that did not fail is not retried (a forged post).
    response = await post_form(client, f"/ops/jobs/{other}/relancer")
    assert "n'a pas été relancé" in text((await client.get(response.headers["location"])).text)
    assert await JobAction.count() == 1


async def test_retry_all_matching_the_filter_after_confirmation(client, redis_client):
    mails = [await add_run(kind="send_mail", args=(i,), key=str(i)) for i in range(5)]
    aborted = await add_run(kind="send_mail", args=(99,), status="aborted", key="a")
    imports = await add_run(kind="import_accounts", args=(1,))
    done = await add_run(kind="send_mail", args=(100,), status="succeeded", key="s")
    await login(client, "admin")
    confirm = await client.get("/ops/jobs/relancer?kind=send_mail")
    assert confirm.status_code == 200
    assert "Relancer 6 job(s)" in text(confirm.text) and "Envoi d'un courriel" in text(confirm.text)
    assert 'name="kind" value="send_mail"' in confirm.text
    response = await post_form(client, "/ops/jobs/relancer", {"kind": "send_mail"})
    assert response.status_code == 303 and "kind=send_mail" in response.headers["location"]
    assert "6 job(s) relancé(s)." in text((await client.get(response.headers["location"])).text)
    statuses = {r["id"]: r["status"] for r in await JobRun.select(JobRun.id, JobRun.status)}
    assert all(statuses[i] == "queued" for i in [*mails, aborted])
    assert statuses[imports] == "failed" and statuses[done] == "succeeded"
    actions = await JobAction.select().order_by(JobAction.run)
    assert [a["run"] for a in actions] == [*mails, aborted]  # one per run, who and when
    assert all(a["action"] == "retry" and "Relance groupée — filtre : type « Envoi d'un courriel »" in a["detail"]
               for a in actions)
    jobs = await queued_jobs(redis_client)
    assert sorted((job_id.split(":")[1], call) for job_id, call in jobs.items()) == sorted(
        [(str(i), ("send_mail", (n,))) for n, i in enumerate(mails)] + [(str(aborted), ("send_mail", (99,)))])
    # Nothing left to retry: said so, nothing recorded.
    confirm = await client.get("/ops/jobs/relancer?kind=send_mail")
    assert confirm.status_code == 303
    assert await JobAction.count() == 6


async def test_abort_a_queued_run(client, redis_client):
    from app.jobs import durable

    run_id = await add_run(kind="sync_cohort", status="queued", args=(3,))
    # Handed to arq as the job layer does (which notes the hand-over the abort looks the job up by).
    await durable.hand_to_arq(redis_client, [{"id": run_id, "kind": "sync_cohort", "args": [3]}], "e")
    done = await add_run(kind="sync_cohort", status="succeeded", key="done")
    await login(client, "admin")
    confirm = await client.get(f"/ops/jobs/{run_id}/abandonner")
    assert confirm.status_code == 200 and "Abandonner le job" in text(confirm.text)
    response = await post_form(client, f"/ops/jobs/{run_id}/abandonner")
    assert response.status_code == 303
    page = text((await client.get(response.headers["location"])).text)
    assert f"Job n° {run_id} abandonné." in page and "Abandonné" in page
    run = await JobRun.select().where(JobRun.id == run_id).first()
    assert run["status"] == "aborted" and run["finished_at"] is not None
    action = await JobAction.select().first()
    assert action["action"] == "abort" and action["run"] == run_id and "En file" in action["detail"]
    # arq is told to cancel its job (the worker aborts it before it starts).
    assert await redis_client.zscore("arq:abort", f"run:{run_id}:e") is not None
    # A finished run cannot be aborted: a French message, nothing changed.
    response = await post_form(client, f"/ops/jobs/{done}/abandonner")
    assert response.status_code == 400 and "seul un job en file" in text(response.text)
    assert (await client.get("/ops/jobs/999999")).status_code == 404


async def test_abort_cancels_a_running_job_in_the_worker(client, redis_client, run_jobs):
    """A real arq worker runs a job that sleeps; the operator aborts it; the worker cancels it."""
    import asyncio

    from app.jobs.worker import build_worker
    from arq import func

    async def slow_job(ctx, seconds):
        await asyncio.sleep(seconds)
        return "fini"

    from app.jobs import durable

    run_id = await add_run(kind="slow_job", status="queued", args=(30,))
    await durable.hand_to_arq(redis_client, [{"id": run_id, "kind": "slow_job", "args": [30]}], "e")
    worker = build_worker(functions=[func(slow_job, name="slow_job")], cron_jobs=[], poll_delay=0.05, burst=True)
    task = asyncio.create_task(worker.main())
    try:
        for _ in range(100):
            if await redis_client.exists(f"arq:in-progress:run:{run_id}:e"):
                break
            await asyncio.sleep(0.05)
        await JobRun.update({JobRun.status: "running", JobRun.started_at: now()}).where(JobRun.id == run_id)
        await login(client, "admin")
        response = await post_form(client, f"/ops/jobs/{run_id}/abandonner")
        assert response.status_code == 303
        await asyncio.wait_for(task, timeout=10)  # far less than the job's 30 s: it was cancelled
    finally:
        if not task.done():
            task.cancel()
        await worker.close()
    assert worker.jobs_failed == 1 and worker.jobs_complete == 0
    assert (await JobRun.select(JobRun.status).where(JobRun.id == run_id).first())["status"] == "aborted"


METRIC_LINE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>[^}]*)\})? (?P<value>[-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|NaN|Inf))$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(body: str) -> dict:
    """The Prometheus text format (0.0.4), strictly: HELP and TYPE before each family's samples."""
    samples, types = {}, {}
    for line in body.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter") and name not in types
            types[name] = kind
            continue
        match = METRIC_LINE.match(line)
        assert match, line
        name = match["name"]
        assert name in types, f"{name} without # TYPE"
        labels = tuple(sorted(LABEL.findall(match["labels"] or "")))
        samples[(name, labels)] = float(match["value"])
    return samples


async def test_metrics_in_prometheus_format(client, settings_env, new_client):
    for i in range(3):
        await add_run(kind="send_mail", key=str(i), minutes_ago=10)
    await add_run(kind="send_mail", status="succeeded", key="ok")
    await add_run(kind="import_accounts", status="queued", minutes_ago=30)
    await Mail.insert(Mail(recipients="a@example.org", subject="s", body_text="b", status="queued"))
    await login(client, "admin")
    response = await client.get("/ops/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse_metrics(response.text)
    assert samples[("tremplin_job_runs_finished_24h", (("kind", "send_mail"), ("status", "failed")))] == 3
    assert samples[("tremplin_job_runs_finished_24h", (("kind", "send_mail"), ("status", "succeeded")))] == 1
    assert samples[("tremplin_jobs_by_kind", (("kind", "import_accounts"), ("status", "queued")))] == 1
    assert samples[("tremplin_job_failures_total", (("kind", "send_mail"),))] == 3
    assert samples[("tremplin_jobs", (("status", "queued"),))] == 1
    assert samples[("tremplin_job_failures_last_hour", ())] == 3
    assert 29 * 60 < samples[("tremplin_job_oldest_waiting_seconds", ())] < 32 * 60
    assert samples[("tremplin_mail_outbox", (("status", "queued"),))] == 1
    assert samples[("tremplin_worker_alive", ())] == 0
    assert samples[("tremplin_redis_used_memory_bytes", ())] > 0
    # Prometheus itself: a bearer token, when one is set; anything else is "not found".
    settings_env(OPS_METRICS_TOKEN="scrape-me-0123456789")
    async with new_client() as prometheus:
        assert (await prometheus.get("/ops/metrics")).status_code == 404
        assert (await prometheus.get("/ops/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 404
        scraped = await prometheus.get("/ops/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
        assert scraped.status_code == 200 and parse_metrics(scraped.text)


async def test_metrics_bearer_scheme_is_case_insensitive(client, settings_env, new_client):
    """RFC 7235: the authentication scheme is case-insensitive — a scraper sending "bearer" (or
    "BEARER") with the right token reads the metrics; the token itself stays exact."""
    settings_env(OPS_METRICS_TOKEN="scrape-me-0123456789")
    async with new_client() as prometheus:
        for scheme in ("bearer", "BEARER", "Bearer"):
            scraped = await prometheus.get("/ops/metrics", headers={"Authorization": f"{scheme} scrape-me-0123456789"})
            assert scraped.status_code == 200 and parse_metrics(scraped.text), scheme
        for wrong in ("bearer SCRAPE-ME-0123456789", "Basic scrape-me-0123456789", "bearerscrape-me-0123456789"):
            assert (await prometheus.get("/ops/metrics", headers={"Authorization": wrong})).status_code == 404, wrong


@pytest.mark.smoke
async def test_overview_tells_what_the_jobs_do(client, redis_client):
    for i in range(4):
        await add_run(kind="send_mail", status="succeeded", key=f"ok{i}", duration=1.0 + i, minutes_ago=30)
    await add_run(kind="send_mail", status="failed", key="ko", duration=9.0, minutes_ago=20)
    await add_run(kind="import_accounts", status="failed", key="old", minutes_ago=60 * 24 * 3)
    await add_run(kind="import_accounts", status="queued", key="wait", minutes_ago=90)
    await add_run(kind="export_table", status="running", key="run", minutes_ago=0, duration=0,
                  worker="worker-host:123")
    await Mail.insert(Mail(recipients="a@example.org", subject="s", body_text="b", status="retry",
                           created_at=now() - timedelta(hours=2)))
    await login(client, "admin")
    page = await client.get("/ops")
    assert page.status_code == 200
    body = text(page.text)
    assert "En file 1 le plus ancien attend depuis 1 h 30 min" in body
    assert "En cours 1" in body and "worker-host:123" in body
    assert "Échecs (dernière heure) 1 1 sur 24 heures" in body
    assert "Silencieux" in body  # a worker started a run a moment ago, and wrote no health check since
    assert "Reprise des courriels en attente" in body and "chaque minute" in body  # the cron jobs
    assert "Nouvel essai prévu 1" in body and "Plus ancien non envoyé 2 h 00 min" in body
    assert "Mémoire utilisée" in body
    # Per kind: 5 mails in 24 h, 1 failed (20 %), median 3 s, p95 between 5 and 9 s.
    row = re.search(r"Envoi d'un courriel 5 1 \(20,0 %\) (\S+ \S+) (\S+ \S+) 5 1 \(20,0 %\)", body)
    assert row and row[1] == "3,0 s" and row[2].endswith(" s"), body
    assert re.search(r"Import de comptes 0 — — — 1 1 \(100,0 %\)", body), body
    # An htmx refresh gets the region only; a history restore the whole page.
    fragment = await client.get("/ops", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith("{#") is False and "<html" not in fragment.text
    assert 'id="ops-overview"' in fragment.text and 'data-hx-trigger="every 5s' in fragment.text
    restore = await client.get("/ops", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text
    # A running worker's health check says it is alive (arq deletes the key when the worker stops).
    import asyncio

    from app.jobs.worker import build_worker

    worker = build_worker(cron_jobs=[], poll_delay=0.05)
    task = asyncio.create_task(worker.main())
    try:
        for _ in range(100):
            if await redis_client.exists(get_settings().redis.queue_name + ":health-check"):
                break
            await asyncio.sleep(0.05)
        assert "En vie" in text((await client.get("/ops")).text)
    finally:
        task.cancel()
        await worker.close()
    assert "Silencieux" in text((await client.get("/ops")).text)
    await JobRun.delete().where(JobRun.worker != "")
    assert "Aucun signal" in text((await client.get("/ops")).text)


async def test_cron_jobs_show_their_last_run_and_the_next(client, redis_client):
    """The last run as the cron job noted it (app/jobs/worker.py: a Redis hash per queue), the
    next one from its schedule; a failed one says why, redacted."""
    from app.dates import short_datetime_fr

    started = now() - timedelta(seconds=40)
    finished = started + timedelta(milliseconds=250)
    key = get_settings().redis.queue_name + ":cron"
    await redis_client.hset(key, "cron:sweep_outbox", json.dumps(
        {"started": started.isoformat(), "finished": finished.isoformat(), "ok": True, "detail": "0"}))
    await redis_client.hset(key, "cron:reconcile_cohorts", json.dumps(
        {"started": started.isoformat(), "finished": finished.isoformat(), "ok": False,
         "detail": f"ConnectionError: https://x.org/a?token={API_TOKEN} refused"}))
    await login(client, "admin")
    body = text((await client.get("/ops")).text)
    row = re.search(r"Reprise des courriels en attente \(sweep_outbox\) chaque minute \(à :00 s\) (.*?) Reprise", body)
    assert row, body
    assert row[1].startswith(short_datetime_fr(finished)) and "réussie en 250 ms" in row[1], row[1]
    row = re.search(r"Réconciliation des cohortes \(reconcile_cohorts\) toutes les 10 minutes (.*?) Calcul", body)
    assert row and "échec ConnectionError" in row[1] and API_TOKEN not in body, row
    assert "Purge de l'historique des jobs" in body and "aucune depuis le démarrage du worker" in body


def test_every_declared_job_kind_and_cron_has_a_french_label():
    """An operator reads French: a job kind or cron added to the registry gets its label in ops."""
    from app.jobs import kinds, worker
    from app.services.ops import KIND_LABELS

    names = set(kinds.KINDS) | {getattr(c.coroutine, "__wrapped__", c.coroutine).__name__
                                   for c in worker.cron_jobs()}
    assert names - set(KIND_LABELS) == set()


async def test_mails_to_fictitious_addresses_are_not_counted_as_failures(client):
    """A person without e-mail has a « .fictif » address: their mail is not sent, by design. /ops and
    /ops/metrics count it apart (« Non envoyés : adresse fictive »), not among the failures."""
    from app import db
    from app.services import outbox

    async with db.transaction():
        for i in range(3):
            await outbox.queue_mail([f"alp001.personne{i}.fictif@tremplin.local"], "Identifiants", "Bonjour")
    await Mail.insert(Mail(recipients="a@example.org", subject="s", body_text="b", status="failed", tries=12,
                           last_error="SMTPRecipientsRefused"))
    await login(client, "admin")
    page = (await client.get("/ops")).text
    assert re.search(r"<dt>Échec</dt><dd>1</dd>", page), text(page)
    assert re.search(r"<dt>Non envoyés : adresse fictive \(prévu\)</dt><dd>3</dd>", page), text(page)
    samples = parse_metrics((await client.get("/ops/metrics")).text)
    assert samples[("tremplin_mail_outbox", (("status", "failed"),))] == 1
    assert samples[("tremplin_mail_outbox", (("status", "fictive"),))] == 3


async def test_a_daily_cron_shows_its_next_run_at_its_hour_in_the_workers_time_zone(client, monkeypatch):
    """« chaque jour à 03:17 » on a server whose clock is on UTC: the worker plans it at 03:17 in
    TIMEZONE (Europe/Paris) and the dashboard shows that zone and « Prochaine exécution … 03:17 »
    (it once showed 04:17: arq planned on the server's UTC, the page displayed in Paris time)."""
    import time
    from zoneinfo import ZoneInfo

    from app.jobs.worker import build_worker

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert build_worker(burst=True).timezone == ZoneInfo("Europe/Paris")
        await login(client, "admin")
        body = text((await client.get("/ops")).text)
        assert "Heures du fuseau Europe/Paris, celui où le worker les planifie." in body
        row = re.search(r"\(purge_job_runs\) chaque jour à 03:17 \(Europe/Paris\) .*? (\d\d/\d\d/\d{4} \d\d:\d\d)", body)
        assert row and row[1].endswith(" 03:17"), body
    finally:
        monkeypatch.undo()
        time.tzset()
