"""The mail outbox, with a real SMTP server (aiosmtpd), real Redis and a real arq worker."""

import asyncio
from collections import Counter

import pytest

from app import db
from app.jobs.worker import build_worker
from app.queue import enqueue
from app.services import outbox
from app.tables.accounts import RoleAssignment, User
from app.tables.outbox import Mail


def _ids(smtp) -> Counter:
    return Counter(message["X-Tremplin-Mail-Id"] for _, message in smtp.messages)


@pytest.mark.smoke
async def test_a_mail_is_stored_then_sent_by_the_worker(demo, smtp, redis_client, run_jobs):
    async with db.transaction():
        mail_id = await outbox.queue_mail(
            ["v.blondel@example.org"],
            "Vos identifiants",
            "Bonjour Valentin,\nvotre nom d'utilisateur est alp001.v.blondel.",
            attachments=[outbox.Attachment("bi.pdf", "application/pdf", b"%PDF-1.7 test")],
        )
    row = await Mail.select().where(Mail.id == mail_id).first()
    assert row["status"] == "queued"
    await outbox.dispatch(redis_client, [mail_id])
    await run_jobs()
    assert len(smtp.messages) == 1
    recipients, message = smtp.messages[0]
    assert recipients == ["v.blondel@example.org"]
    assert message["Subject"] == "Vos identifiants"
    parts = list(message.walk())
    body = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "alp001.v.blondel" in body
    attachment = next(p for p in parts if p.get_filename() == "bi.pdf")
    assert attachment.get_payload(decode=True) == b"%PDF-1.7 test"
    row = await Mail.select().where(Mail.id == mail_id).first()
    assert row["status"] == "sent" and row["tries"] == 1 and row["sent_at"] is not None


async def test_a_mail_of_a_rolled_back_change_is_never_written(demo):
    before = await Mail.count()
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await outbox.queue_mail(["x@example.org"], "Sujet", "Corps")
            raise RuntimeError("the change failed")
    assert await Mail.count() == before


async def test_smtp_down_then_back_every_mail_delivered_once(demo, smtp, redis_client, run_jobs):
    smtp.stop()
    async with db.transaction():
        ids = [await outbox.queue_mail([f"user{i}@example.org"], f"Message {i}", "Corps") for i in range(5)]
    await outbox.dispatch(redis_client, ids)
    await run_jobs()  # every attempt fails: retried with backoff until the tries run out
    rows = await Mail.select(Mail.status, Mail.tries, Mail.last_error).where(Mail.id.is_in(ids))
    assert {r["status"] for r in rows} == {"failed"}
    assert all(r["tries"] == 4 and "Connect" in r["last_error"] for r in rows)
    assert smtp.messages == []
    # Nothing lost: once SMTP is back, an operator's retry (or the sweep) delivers each exactly once.
    smtp.start()
    for mail_id in ids:
        assert await outbox.retry_now(redis_client, mail_id)
    await outbox.sweep(redis_client)
    await run_jobs()
    assert _ids(smtp) == Counter({str(i): 1 for i in ids})
    assert {r["status"] for r in await Mail.select(Mail.status).where(Mail.id.is_in(ids))} == {"sent"}


async def test_smtp_back_during_the_retries(demo, smtp, redis_client, run_jobs):
    smtp.stop()
    async with db.transaction():
        ids = [await outbox.queue_mail([f"user{i}@example.org"], f"Message {i}", "Corps") for i in range(3)]
    await outbox.dispatch(redis_client, ids)

    async def restart_once_each_has_failed():
        deadline = asyncio.get_running_loop().time() + 30
        while not all(r["last_error"] for r in await Mail.select(Mail.last_error).where(Mail.id.is_in(ids))):
            assert asyncio.get_running_loop().time() < deadline, "no try failed"
            await asyncio.sleep(0.02)
        smtp.start()

    restart = asyncio.create_task(restart_once_each_has_failed())
    await run_jobs()
    await restart
    assert _ids(smtp) == Counter({str(i): 1 for i in ids})
    rows = await Mail.select(Mail.status, Mail.tries).where(Mail.id.is_in(ids))
    assert {r["status"] for r in rows} == {"sent"} and all(r["tries"] >= 2 for r in rows)


async def test_duplicate_jobs_and_sweeps_never_send_twice(demo, smtp, redis_client, run_jobs):
    async with db.transaction():
        mail_id = await outbox.queue_mail(["dup@example.org"], "Une seule fois", "Corps")
    await outbox.dispatch(redis_client, [mail_id])
    await outbox.dispatch(redis_client, [mail_id])  # same job id: ignored
    await enqueue(redis_client, outbox.SEND_JOB, mail_id, _job_id="another-id")  # a stray duplicate
    await outbox.sweep(redis_client)
    await asyncio.gather(run_jobs(), run_jobs())  # two workers at once
    assert _ids(smtp) == Counter({str(mail_id): 1})


async def test_sweep_picks_up_mails_never_enqueued_and_claims_of_crashed_workers(demo, smtp, redis_client, run_jobs):
    from datetime import timedelta

    from app.dates import now

    async with db.transaction():
        lost = await outbox.queue_mail(["lost@example.org"], "Jamais mis en file", "Corps")
        crashed = await outbox.queue_mail(["crash@example.org"], "Worker tombé", "Corps")
    await Mail.update({Mail.status: "sending", Mail.locked_until: now() - timedelta(seconds=1)}).where(
        Mail.id == crashed
    )
    assert await outbox.sweep(redis_client) == 2
    await run_jobs()
    assert _ids(smtp) == Counter({str(lost): 1, str(crashed): 1})


async def test_a_mail_whose_worker_was_killed_while_sending_leaves_once_its_claim_expires(demo, smtp, redis_client):
    """A worker SIGKILLed while it sends a mail leaves the row claimed and arq's job of it « in progress »
    (its id taken) for the longest job timeout, an hour (bench/multi_host.py kills one). Once the claim
    expires the sweep hands the mail over, and it leaves once — not an hour later."""
    from datetime import timedelta

    from arq.constants import in_progress_key_prefix

    from app.dates import now

    async with db.transaction():
        mail_id = await outbox.queue_mail(["killed@example.org"], "Worker tué", "Corps")
    await outbox.dispatch(redis_client, [mail_id])
    # What the killed worker left behind: its arq job in progress, the row claimed (the claim now over).
    await redis_client.psetex(in_progress_key_prefix + outbox.job_id(mail_id, 0), 3_610_000, b"1")
    await Mail.update({Mail.status: "sending", Mail.locked_until: now() - timedelta(seconds=1)}).where(
        Mail.id == mail_id)
    assert await outbox.sweep(redis_client) == 1
    # A live worker (not a burst one: the dead worker's job stays in arq's queue, held « in progress »).
    worker = build_worker(poll_delay=0.05)
    running = asyncio.create_task(worker.main())
    try:
        for _ in range(600):
            if (await Mail.select(Mail.status).where(Mail.id == mail_id).first())["status"] == "sent":
                break
            await asyncio.sleep(0.1)
    finally:
        running.cancel()
        await worker.close()
    assert _ids(smtp) == Counter({str(mail_id): 1})
    row = await Mail.select(Mail.status, Mail.tries).where(Mail.id == mail_id).first()
    assert row == {"status": "sent", "tries": 2}  # the try cut short counts


async def test_test_mode_sends_every_registration_mail_to_the_testers(demo, smtp, redis_client, run_jobs):
    await outbox.set_setting("test_mode", "1")
    tester = await User.select(User.email).where(User.username == "testeur").first()
    async with db.transaction():
        mail_id = await outbox.queue_mail(["vrai.destinataire@example.org"], "Confirmation", "Corps",
                                          category="registration-confirm")
    await outbox.dispatch(redis_client, [mail_id])
    await run_jobs()
    recipients, message = smtp.messages[0]
    assert recipients == [tester["email"]]
    assert message["Subject"] == "[TEST] Confirmation"
    assert "vrai.destinataire@example.org" in message.get_payload(decode=True).decode()
    row = await Mail.select().where(Mail.id == mail_id).first()
    assert row["is_test"] and row["intended_recipients"] == "vrai.destinataire@example.org"


async def test_test_mode_without_testers_keeps_the_mail_and_says_why(demo):
    await outbox.set_setting("test_mode", "1")
    await RoleAssignment.delete().where(RoleAssignment.role == "registration_tester")
    async with db.transaction():
        mail_id = await outbox.queue_mail(["x@example.org"], "Sujet", "Corps", category="registration")
    row = await Mail.select().where(Mail.id == mail_id).first()
    assert row["status"] == "failed" and "aucun testeur" in row["last_error"]


@pytest.mark.smoke
async def test_every_mail_has_a_date_and_a_message_id_of_the_senders_domain(demo, smtp, redis_client, run_jobs,
                                                                            settings_env):
    """RFC 5322: a Date header on every mail (strict receivers and spam filters score its absence),
    and a Message-ID whose domain is the sender's (never « tremplin.local » in production), or the
    one MAIL_MESSAGE_ID_DOMAIN sets. Read back from a real SMTP server with ``email.policy.strict``."""
    import email
    import email.policy
    from datetime import datetime, timezone

    settings_env(MAIL_FROM="Centre de formation <ne-pas-repondre@formation.example.fr>")
    async with db.transaction():
        ids = [await outbox.queue_mail(["a@example.org"], "Texte", "Bonjour"),
               await outbox.queue_mail(["b@example.org"], "Avec pièce jointe", "Bonjour", "<p>Bonjour</p>",
                                       attachments=[outbox.Attachment("bi.pdf", "application/pdf", b"%PDF-1.7")])]
    await outbox.dispatch(redis_client, ids)
    await run_jobs()
    settings_env(MAIL_MESSAGE_ID_DOMAIN="mail.example.net")
    async with db.transaction():
        other = await outbox.queue_mail(["c@example.org"], "Autre domaine", "Bonjour")
    await outbox.dispatch(redis_client, [other])
    await run_jobs()
    assert len(smtp.messages) == 3
    received = {}
    for _, message in smtp.messages:
        strict = email.message_from_bytes(message.as_bytes(), policy=email.policy.strict)
        received[int(strict["X-Tremplin-Mail-Id"])] = strict
        sent_at = strict["Date"].datetime
        assert sent_at is not None and sent_at.tzinfo is not None
        assert abs((datetime.now(timezone.utc) - sent_at).total_seconds()) < 120
    ids_seen = [str(received[i]["Message-ID"]) for i in [*ids, other]]
    assert len(set(ids_seen)) == 3
    assert all(m.endswith("@formation.example.fr>") for m in ids_seen[:2]), ids_seen
    assert ids_seen[2].endswith("@mail.example.net>"), ids_seen


async def test_an_outbox_whose_every_try_fails_is_reported_on_healthz_ops_and_metrics(client, smtp, redis_client,
                                                                                      run_jobs):
    """A wrong MAIL_FROM once left 18,036 mails waiting with nothing said: when every try of the last
    hour failed, /healthz says « failing » (still 200: the web works), /ops shows it at the top and
    /ops/metrics has a gauge; a mail that leaves again clears it."""
    from tests.controllers.test_ops import parse_metrics
    from tests.helpers import login, text

    smtp.stop()
    async with db.transaction():
        ids = [await outbox.queue_mail([f"user{i}@example.org"], f"Message {i}", "Corps") for i in range(4)]
    health = (await client.get("/healthz")).json()
    assert health["outbox"] == "ok"
    await outbox.dispatch(redis_client, ids)
    await run_jobs()
    async with db.transaction():
        await outbox.queue_mail(["later@example.org"], "Pas encore essayé", "Corps")
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["outbox"] == "failing" and health.json()["outbox_waiting"] == 1
    await login(client, "admin")
    page = text((await client.get("/ops")).text)
    assert "Les courriels ne partent plus : les 4 derniers essais d'envoi de l'heure ont tous échoué" in page, page
    assert "1 courriel(s) en attente" in page and "Vérifiez MAIL_FROM" in page
    metrics = parse_metrics((await client.get("/ops/metrics")).text)
    assert metrics[("tremplin_mail_outbox_failing", ())] == 1

    smtp.start()
    async with db.transaction():
        back = await outbox.queue_mail(["back@example.org"], "Ça repart", "Corps")
    await outbox.dispatch(redis_client, [back])
    await run_jobs()
    assert (await client.get("/healthz")).json()["outbox"] == "ok"
    assert "Les courriels ne partent plus" not in text((await client.get("/ops")).text)


async def test_the_worker_says_at_start_up_that_the_smtp_server_refuses_the_sender(demo):
    """`tremplin worker` asks the SMTP server (a real one, refusing this sender as a strict relay
    does) whether it takes mail from MAIL_FROM, and says so in its log at once — nothing sent."""
    from aiosmtpd.controller import Controller

    from tests import processes
    from tests.conftest import TMP, free_port

    received = []

    class Refusing:
        async def handle_MAIL(self, server, session, envelope, address, mail_options):
            return "553 5.7.1 Sender address rejected: not owned by user"

        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    worker, log = processes.start(processes.WORKER, "worker-refused-sender.log", SMTP_PORT=port,
                                  MAIL_FROM="Tremplin <faux@expediteur.example>")
    try:
        async def said():
            return "Mail cannot leave" in (TMP / "worker-refused-sender.log").read_text()

        await processes.until(said, "the worker's start-up report", "worker-refused-sender.log", timeout=60)
        line = next(x for x in (TMP / "worker-refused-sender.log").read_text().splitlines() if "Mail cannot leave" in x)
        assert "ERROR" in line and "faux@expediteur.example" in line and "553" in line and "MAIL_FROM" in line
        assert received == []
    finally:
        processes.stop(worker, log)
        controller.stop()


async def test_recipients_the_server_refuses_do_not_raise_the_outbox_alarm(client, smtp, redis_client, run_jobs):
    """Three registrations to addresses the relay refuses (typed wrong, or on purpose by a visitor)
    made /healthz say « failing » in a quiet hour: the outbox works, those mailboxes do not."""
    async with db.transaction():
        ids = [await outbox.queue_mail([f"nobody{i}.refused@example.org"], f"Message {i}", "Corps") for i in range(4)]
    await outbox.dispatch(redis_client, ids)
    await run_jobs()
    tried = await Mail.select(Mail.status, Mail.last_error).where(Mail.id.is_in(ids))
    assert all(m["status"] in ("retry", "failed") and m["last_error"].startswith("SMTPRecipientsRefused") for m in tried)
    assert (await client.get("/healthz")).json()["outbox"] == "ok"
