"""Issue 19 §1 in the production shape: a real `tremplin serve` and a real `tremplin worker`, with the
payload of the issue already in the database (an old database): the session's certificate text
`{prenom:>1000000}`, and a certificate the old code issued from it, still unsealed (its text padded
to a million characters). A learner's completion is recorded and answered, /healthz keeps answering
all along, the worker's seal cron meets the old certificate, stops its render at the deadline and
records « échec de génération », and the worker keeps sending mail."""

import asyncio
import json
import sys
import time
from datetime import timedelta

import httpx

from app import db
from app.dates import now
from app.services import certificates, outbox
from app.tables.accounts import User
from app.tables.catalogue import TrainingSession
from app.tables.certificates import Certificate
from app.tables.outbox import Mail
from tests import processes
from tests.conftest import free_port
from tests.helpers import login, post_form, text
from tests.services.test_certificates import completed_session

PADDED = "Atteste que {prenom:>1000000} {nom} a suivi {session}."
DEADLINE = 3


async def test_a_stored_payload_freezes_neither_the_served_app_nor_the_worker(demo, smtp, redis_client):
    session_id, activities, learners, enrolments = await completed_session(learners_count=2, complete=1)
    await TrainingSession.update({TrainingSession.certificate_text: PADDED, TrainingSession.visible: True}).where(
        TrainingSession.id == session_id)
    # The certificate the old code issued to the first learner, never sealed: its text was filled
    # with the format spec, a million characters.
    old = await Certificate.select().where(Certificate.enrolment == enrolments[learners[0]]).first()
    snapshot = json.loads(old["snapshot"]) if isinstance(old["snapshot"], str) else old["snapshot"]
    snapshot["text"] = "Atteste que " + f"{snapshot['prenom']:>1000000}" + f" {snapshot['nom']} a suivi la session."
    await Certificate.update({Certificate.snapshot: json.dumps(snapshot), Certificate.pdf_sha256: certificates.UNSEALED,
                              Certificate.issued_at: now() - timedelta(minutes=2)}).where(Certificate.id == old["id"])
    learner = await User.select(User.username).where(User.id == learners[1]).first()

    port = free_port()
    env = {"PDF_RENDER_TIMEOUT": DEADLINE}
    server, server_log = processes.start([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1",
                                          "--port", str(port)], "render-limits-serve.log", **env)
    worker, worker_log = processes.start(processes.WORKER, "render-limits-worker.log", **env)
    slow_health: list[str] = []
    probing = True
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as web:
            async def up():
                try:
                    return (await web.get("/healthz", timeout=2)).status_code == 200
                except httpx.HTTPError:
                    return False

            await processes.until(up, "tremplin serve", "render-limits-serve.log", timeout=60)

            async def probe():
                """/healthz every 0.3 s during the whole test: each answers within 5 s."""
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as prober:
                    while probing:
                        started = time.monotonic()
                        try:
                            answer = await prober.get("/healthz", timeout=5)
                            if answer.status_code != 200:
                                slow_health.append(f"{answer.status_code}")
                        except httpx.HTTPError as error:
                            slow_health.append(f"{type(error).__name__} after {time.monotonic() - started:.1f} s")
                        await asyncio.sleep(0.3)

            prober = asyncio.create_task(probe())
            # The learner's « J'ai terminé » on both activities: answered, recorded, certificate issued.
            await login(web, learner["username"])
            for activity in activities:
                started = time.monotonic()
                done = await post_form(web, f"/mes-sessions/{session_id}/activites/{activity}/terminer", {"done": "1"})
                assert done.status_code == 303, text(done.text)[:500]
                assert time.monotonic() - started < 30
            issued = await Certificate.select().where(Certificate.enrolment == enrolments[learners[1]]).first()
            assert issued is not None
            assert len(json.loads(issued["snapshot"])["text"]) < 1000

            # The worker's cron (every minute) meets the old certificate: stopped at the deadline, recorded.
            async def recorded():
                row = await Certificate.select().where(Certificate.id == old["id"]).first()
                return row if row["render_attempts"] >= 1 else None

            row = await processes.until(recorded, "the seal cron on the old certificate", "render-limits-worker.log",
                                        timeout=150)
            assert f"dépassé {DEADLINE} s" in row["render_error"] and row["pdf_sha256"] == certificates.UNSEALED

            # And the worker goes on: a mail queued now is sent to the SMTP server.
            async with db.transaction():
                mail_id = await outbox.queue_mail(["apres@example.org"], "Après l'attestation bloquée", "Corps")
            await outbox.dispatch(redis_client, [mail_id])

            async def sent():
                return (await Mail.select(Mail.status).where(Mail.id == mail_id).first())["status"] == "sent"

            await processes.until(sent, "the mail after the stuck render", "render-limits-worker.log", timeout=60)
            assert "Après l'attestation bloquée" in [m["Subject"] for _, m in smtp.messages]
            # The new certificate's PDF followed (sealed inline by the app, or by the worker).
            assert (await Certificate.select(Certificate.pdf_sha256).where(
                Certificate.id == issued["id"]).first())["pdf_sha256"] != certificates.UNSEALED
            probing = False
            await prober
            assert slow_health == [], slow_health
    finally:
        probing = False
        processes.stop(worker, worker_log)
        processes.stop(server, server_log)
