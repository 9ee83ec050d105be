"""The production install of the README, from the built wheel, outside the source tree.

`pip wheel` builds Tremplin's wheel; it is installed into a fresh virtualenv in a temporary folder
(its third-party dependencies are the test virtualenv's, reached through a path line — never
Tremplin itself, which only the wheel provides). From yet another folder: `tremplin migrate`
(PostgreSQL, a database of its own), `tremplin create-admin`, `tremplin serve` and `tremplin worker`
as separate processes. The login page and every static file answer 200, the administrator logs
in, a PDF renders with its fonts embedded, the worker sends a mail to a real SMTP server.
Before the wheel carried static/, the login page was a 500 (FileNotFoundError …/static/app.css)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKEND, PG_ADMIN_URL, REDIS_URL, free_port
from tests.helpers import text

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Installe-2026!"

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="the production install runs on PostgreSQL")


def _run(args, cwd, env, stdin=None, timeout=180) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _database(action: str, name: str) -> None:
    import asyncpg

    async def run():
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if action == "create":
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())


def _wait_for(predicate, timeout: float, what: str, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def _get(url: str):
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None


@pytest.fixture
def installed(tmp_path):
    """The wheel, installed into a fresh virtualenv under tmp_path; returns its bin folder."""
    # Built from a clean copy of what the wheel is made of: no build/ folder of an earlier build (a
    # file deleted since would still be in it) and none left in the source tree.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "piccolo_conf.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("app", "static"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(source)],
         cwd=tmp_path, env=dict(os.environ), timeout=600)
    (wheel,) = wheels.glob("tremplin-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=dict(os.environ))
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path, env=dict(os.environ)).stdout.strip())
    # The third-party dependencies: the test virtualenv's site-packages as a plain path line (its own
    # .pth files, among them the editable install of the source tree, are not read from there).
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet",
          str(wheel)], cwd=tmp_path, env=dict(os.environ), timeout=300)
    return venv / "bin"


def test_the_wheel_installed_outside_the_source_tree_serves_logs_in_renders_and_mails(installed, tmp_path, smtp):
    # Its Redis database is the suite's, not flushed for a test without redis_client: a job key or
    # result another test's worker left (« mail:1:0 » — ids start at 1 in every test database)
    # would make arq skip this test's send as a duplicate.
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    database = f"tremplin_wheel_{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({
        "PATH": f"{installed}:{os.environ['PATH']}",
        "TREMPLIN_MODE": "production",
        "DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}",
        "REDIS_URL": REDIS_URL,
        "QUEUE_NAME": f"tremplin:wheel:{database}",
        "SECRET_KEY": "wheel-test-secret-key-0123456789abcdef",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "COOKIE_SECURE": "0",
        "TREMPLIN_VAR_DIR": str(tmp_path / "var"),
        "MAIL_FROM": "Tremplin <ne-pas-repondre@formation.example.fr>",
    })
    python = str(installed / "python")
    # Tremplin comes from the wheel, not from the source tree.
    where = _run([python, "-c", "import app, piccolo_conf, app.settings as s; print(app.__file__); "
                  "print(piccolo_conf.__file__); print(s.STATIC_DIR)"], cwd=elsewhere, env=env).stdout.split()
    assert all(str(installed.parent) in path and str(ROOT) not in path for path in where), where

    _database("create", database)
    processes = []
    try:
        _run([str(installed / "tremplin"), "migrate"], cwd=elsewhere, env=env, timeout=300)
        created = _run([str(installed / "tremplin"), "create-admin", "exploitation", "--email", "exploit@example.org",
                        "--password-stdin"], cwd=elsewhere, env=env, stdin=PASSWORD + "\n")
        assert "role admin granted" in created.stdout

        log = (tmp_path / "serve.log").open("w")
        serve = subprocess.Popen([str(installed / "tremplin"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                 cwd=elsewhere, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(serve)
        base = f"http://127.0.0.1:{port}"
        _wait_for(lambda: (r := _get(f"{base}/healthz")) is not None and r.status_code == 200, 60,
                  "tremplin serve answering /healthz", serve)

        with httpx.Client(base_url=base, timeout=30) as client:
            page = client.get("/connexion")
            assert page.status_code == 200, (tmp_path / "serve.log").read_text()[-3000:]
            linked = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text))
            assert any(u.endswith(".css") for u in linked) and any(u.endswith(".js") for u in linked), linked
            shipped = {f"/static/{p.relative_to(ROOT / 'static').as_posix()}"
                       for p in (ROOT / "static").rglob("*") if p.is_file()}
            assert "/static/fonts/DejaVuSans.ttf" in shipped
            for url in sorted(linked | shipped):
                response = client.get(url)
                assert response.status_code == 200 and response.content, url
            for url in shipped:
                assert client.get(url).content == (ROOT / url.removeprefix("/")).read_bytes(), url

            token = client.cookies.get("csrftoken")
            logged = client.post("/connexion", data={"username": "exploitation", "password": PASSWORD,
                                                     "_csrf_token": token})
            assert logged.status_code == 303, text(logged.text)
            assert client.get("/ops").status_code == 200

            pdf = client.get("/gestion-inscriptions/test-pdf")
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        from pypdf import PdfReader

        fonts = set()
        for page_object in PdfReader(io.BytesIO(pdf.content)).pages:
            for font in page_object["/Resources"]["/Font"].values():
                font = font.get_object()
                descriptor = font.get("/FontDescriptor") or font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
                descriptor = descriptor.get_object()
                if any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
                    fonts.add(str(font["/BaseFont"]))
        # The @font-face fonts of static/fonts (the family « Tremplin Sans »), not a system fallback.
        assert {"Tremplin-Sans", "Tremplin-Sans-Bold"} <= {name.split("+")[-1] for name in fonts}, fonts

        # A mail waiting in the outbox: the worker's start-up sweep sends it.
        _run([python, "-c", (
            "import asyncio\n"
            "from app import db\n"
            "from app.services import outbox\n"
            "async def main():\n"
            "    await db.open_pool()\n"
            "    async with db.transaction():\n"
            "        await outbox.queue_mail(['nouvelle@example.org'], 'Installation', 'Bonjour depuis la roue')\n"
            "    await db.close_pool()\n"
            "asyncio.run(main())\n")], cwd=elsewhere, env={**env, "SMTP_PORT": str(smtp.port)})
        worker = subprocess.Popen([str(installed / "tremplin"), "worker"], cwd=elsewhere,
                                  env={**env, "SMTP_PORT": str(smtp.port), "SMTP_HOST": "127.0.0.1"},
                                  stdout=(tmp_path / "worker.log").open("w"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        processes.append(worker)
        _wait_for(lambda: smtp.messages, 60, "the worker sending the mail", worker)
        recipients, message = smtp.messages[0]
        assert recipients == ["nouvelle@example.org"] and message["Subject"] == "Installation"
        assert "Bonjour depuis la roue" in message.get_body(("plain",)).get_content()
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        _database("drop", database)
    shutil.rmtree(installed.parent, ignore_errors=True)
