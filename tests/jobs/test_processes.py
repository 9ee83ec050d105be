"""Production shape: `tremplin serve` and `tremplin worker` in their own processes share nothing
but PostgreSQL and Redis."""

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request

from app import db
from app.services import outbox
from app.tables.outbox import Mail
from tests.conftest import ROOT, TMP
from tests.helpers import login


async def test_a_separate_worker_process_sends_the_outbox(demo, smtp, redis_client):
    async with db.transaction():
        mail_id = await outbox.queue_mail(["process@example.org"], "Depuis un autre processus", "Corps")
    await outbox.dispatch(redis_client, [mail_id])
    log = open(TMP / "worker.log", "w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        for _ in range(100):
            row = await Mail.select(Mail.status).where(Mail.id == mail_id).first()
            if row["status"] == "sent":
                break
            await asyncio.sleep(0.1)
        assert row["status"] == "sent", (TMP / "worker.log").read_text()
        assert [m["Subject"] for _, m in smtp.messages] == ["Depuis un autre processus"]
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=15)
        log.close()


async def test_a_session_opened_on_one_process_works_on_another(client, live_server):
    await login(client, "alp001.get")
    cookie = f"session={client.cookies.get('session')}"

    def fetch_home():
        request = urllib.request.Request(live_server + "/", headers={"Cookie": cookie})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()

    status, body = await asyncio.to_thread(fetch_home)
    assert status == 200 and "Bonjour Emma" in body
