"""The `tremplin` command: dev, serve, worker, migrate, demo."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys

import click


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # WeasyPrint logs seven « Step n » lines per PDF at INFO (7,000 for a ZIP of 1,000 certificates)
    # and fontTools one per font subset: their warnings and errors are what ops need.
    for noisy in ("weasyprint.progress", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group()
def main() -> None:
    """Tremplin — administration des formations et inscriptions en ligne."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-demo", is_flag=True, help="Do not load the demo data into an empty database.")
def dev(host: str, port: int, no_demo: bool) -> None:
    """Everything in one process: SQLite, embedded Redis, in-process worker, local SMTP sink, demo data."""
    os.environ.setdefault("TREMPLIN_MODE", "dev")
    os.environ.setdefault("BASE_URL", f"http://{host}:{port}")
    _setup_logging()
    from app.settings import get_settings

    settings = get_settings()
    if settings.is_production:
        raise click.ClickException("`tremplin dev` is for the embedded default; use `tremplin serve` in production.")
    from app import db, queue
    from app.mail.sink import start_sink

    # Whatever stops it (SIGTERM at any moment, even during start-up; Ctrl-C; an error), `tremplin dev`
    # stops the embedded redis-server it started. uvicorn re-raises the signal that stopped it once it
    # has shut down: with a Python handler, the `finally` runs instead of the process dying at once.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        queue.redis_url()  # starts the embedded Redis under var/ unless REDIS_URL is set

        async def prepare() -> tuple[bool, list[str]]:
            from app.demo import load_demo, open_session_codes

            if db.is_sqlite():
                await db.create_sqlite_tables()
            loaded = False
            if not no_demo and await db.is_empty():
                await load_demo()
                loaded = True
            return loaded, await open_session_codes()

        loaded, codes = asyncio.run(prepare())
        sink_dir = start_sink(settings.mail.host, settings.mail.port, settings.var_dir / "mails")
        from app.demo import print_logins

        print_logins(loaded, f"http://{host}:{port}", sink_dir, codes)
        import uvicorn

        from app.asgi import create_app

        uvicorn.run(create_app(run_worker=True), host=host, port=port, log_level="info", proxy_headers=False)
    finally:
        queue.stop_embedded_redis()


def _refuse_evicting_redis() -> None:
    """Stop here, with the reason, when the queue's Redis may evict keys (app/queue.py): said once
    by the command, not by each of uvicorn's processes failing its start-up. The embedded Redis
    (no REDIS_URL) is checked by the app's start-up instead: the command does not start one. A
    Redis that does not answer yet is checked when it does (the worker's and the app's start-up)."""
    from redis.exceptions import RedisError

    from app import queue
    from app.settings import get_settings

    if not get_settings().redis.url:
        return
    try:
        asyncio.run(queue.check_queue_redis())
    except queue.EvictingRedis as refusal:
        raise click.ClickException(str(refusal)) from None
    except (RedisError, OSError) as error:
        logging.getLogger("tremplin").warning("Redis unavailable at start-up (%s): checked once it answers", error)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="HTTP processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Production HTTP server (no worker inside: run `tremplin worker` separately)."""
    import uvicorn

    _refuse_evicting_redis()

    uvicorn.run(
        "app.asgi:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        log_level="info",
    )


@main.command()
def worker() -> None:
    """An arq worker: mails, imports, PDFs, exports. Run as many as needed."""
    _setup_logging()
    import time

    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

    from app.jobs.worker import build_worker

    # arq's worker stops at the first Redis error. Redis going away for a while (a restart, a
    # failover) must not stop the background work for good: start again once it answers. The runs
    # it held are in the database; arq or the job sweep hands them over again.
    delay = 1.0
    log = logging.getLogger("tremplin.worker")
    _refuse_evicting_redis()
    # Said at once, not found out from 18,000 mails waiting: the SMTP server refusing MAIL_FROM, or an
    # outbox whose every try of the last hour failed.
    try:
        from app.services.mail_health import startup_problems

        for problem in _run_db(startup_problems):
            log.error(problem)
    except Exception as exc:  # noqa: BLE001 - the worker starts anyway
        log.warning("Could not check the mail delivery at start-up: %s", exc)
    while True:
        started = time.monotonic()
        try:
            build_worker(handle_signals=True).run()
            return  # stopped by SIGINT/SIGTERM
        except (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError) as exc:
            delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, 5.0)
            log.warning("Redis unavailable (%s): the worker starts again in %.0f s", exc, delay)
            try:
                time.sleep(delay)
            except KeyboardInterrupt:
                return


@main.command()
def migrate() -> None:
    """Apply the database migrations (PostgreSQL), or create the tables (embedded SQLite)."""
    from app import db

    if db.is_sqlite():
        asyncio.run(db.create_sqlite_tables())
        click.echo("SQLite tables ready.")
        return
    from app.settings import ROOT, get_settings

    # Piccolo puts its working directory first on sys.path: run it from the folder that holds the
    # package (site-packages, or the source checkout), so piccolo_conf and the migrations are the
    # installed ones whatever the caller's directory holds.
    env = {**os.environ, "PICCOLO_CONF": "piccolo_conf", "TREMPLIN_VAR_DIR": str(get_settings().var_dir)}
    result = subprocess.run([sys.executable, "-m", "piccolo.main", "migrations", "forwards", "tremplin"], env=env,
                            cwd=ROOT)
    if result.returncode:
        sys.exit(result.returncode)
    asyncio.run(_refresh_analytics())


async def _refresh_analytics() -> None:
    """The analytics rollup brought up to date at the upgrade (the migration that made it noted every
    session: ~20 s of CPU at 3,000,000 enrolments), rather than by the first dashboard computed."""
    from app import db
    from app.services import analytics_rollup

    await db.open_pool()
    try:
        if count := await analytics_rollup.refresh():
            click.echo(f"Analytics: figures of {count} sessions computed.")
    finally:
        await db.close_pool()


@main.command()
def demo() -> None:
    """Load the demo data into an empty database."""
    from app import db
    from app.demo import load_demo, print_logins

    async def run() -> bool:
        if not await db.is_empty():
            return False
        await load_demo()
        return True

    print_logins(asyncio.run(run()), os.environ.get("BASE_URL", "http://127.0.0.1:8000"), None)


@main.command("create-admin")
@click.argument("username")
@click.option("--email", required=True, help="The administrator's address.")
@click.option("--first-name", default="Administrateur", show_default=True)
@click.option("--last-name", default="Tremplin", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
def create_admin(username: str, email: str, first_name: str, last_name: str, password_stdin: bool) -> None:
    """Create an administrator (the first one of a production database), or give the role to an
    existing account of that username. The password is asked for (twice), never an argument."""
    from app.services.passwords import hash_password, policy_error

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt="Confirmez le mot de passe")
    problem = policy_error(password)
    if problem:
        raise click.ClickException(problem)
    password_hash = hash_password(password)

    async def run() -> str:
        from app import db
        from app.services.accounts import normalise_email
        from app.services.roles import ADMIN
        from app.services.text import user_text_fields
        from app.tables.accounts import RoleAssignment, User

        address = normalise_email(email)
        async with db.transaction():
            existing = await User.select(User.id).where(User.username == username).first()
            if existing:
                user_id, done = existing["id"], "existing account"
                await User.update({User.password_hash: password_hash,
                                   User.credentials_version: User.credentials_version + 1}).where(User.id == user_id)
            else:
                rows = await User.insert(User(
                    username=username, password_hash=password_hash, first_name=first_name, last_name=last_name,
                    email=address, status="staff", **user_text_fields(first_name, last_name, username, address),
                )).returning(User.id)
                user_id, done = rows[0]["id"], "created"
            if not await RoleAssignment.exists().where((RoleAssignment.user == user_id) & (RoleAssignment.role == ADMIN)):
                await RoleAssignment.insert(RoleAssignment(user=user_id, role=ADMIN))
        return done

    from app.services.uniqueness import INTEGRITY_ERRORS, message_for

    try:
        done = _run_db(run)
    except INTEGRITY_ERRORS as exc:  # the address is another account's: a message, not a traceback
        raise click.ClickException(message_for(exc)[1]) from exc
    click.echo(f"Administrator {username}: {done}, role admin granted.")


def _age(text: str):
    """'30d', '12h', '90m' or a number of days, as a timedelta."""
    from datetime import timedelta

    text = text.strip().lower()
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    try:
        if text[-1:] in units:
            return timedelta(**{units[text[-1]]: float(text[:-1])})
        return timedelta(days=float(text))
    except ValueError:
        raise click.BadParameter(f"durée invalide : {text!r} (exemples : 30d, 12h)") from None


@main.group()
def jobs() -> None:
    """Background job runs (the durable jobs recorded in the database): failed, retry, purge."""


def _run_db(coroutine_factory):
    from app import db

    async def run():
        opened = await db.open_pool()
        try:
            return await coroutine_factory()
        finally:
            if opened:
                await db.close_pool()

    return asyncio.run(run())


@jobs.command("failed")
@click.option("--kind", default=None, help="Only this job kind (e.g. import_accounts).")
@click.option("--limit", default=50, show_default=True, type=int)
def jobs_failed(kind: str | None, limit: int) -> None:
    """List the failed runs, newest first (arguments and errors redacted)."""
    import json

    from app.jobs.redaction import redact
    from app.tables.jobs import JobRun

    async def fetch():
        where = JobRun.status == "failed"
        if kind:
            where &= JobRun.kind == kind
        rows = await JobRun.select(JobRun.id, JobRun.kind, JobRun.args, JobRun.tries, JobRun.finished_at,
                                   JobRun.error).where(where).order_by(JobRun.id, ascending=False).limit(limit)
        return await JobRun.count().where(where), rows

    total, rows = _run_db(fetch)
    for r in rows:
        args = json.dumps(redact(json.loads(r["args"] or "[]")), ensure_ascii=False)
        last = ((r["error"] or "").strip().splitlines() or [""])[-1]
        finished = f"{r['finished_at']:%Y-%m-%d %H:%M:%S}" if r["finished_at"] else "-"
        click.echo(f"{r['id']}\t{r['kind']}\t{args}\ttries={r['tries']}\t{finished}\t{redact(last)[:200]}")
    click.echo(f"{total} run(s) failed" + (f" ({len(rows)} shown)" if total > len(rows) else ""))


@jobs.command("retry")
@click.argument("run_ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Every failed run (of --kind if given).")
@click.option("--kind", default=None, help="With --all-failed: only this job kind.")
def jobs_retry(run_ids: tuple[int, ...], all_failed: bool, kind: str | None) -> None:
    """Run failed (or aborted) runs again: every try again, recorded as an operator action (cli)."""
    if not run_ids and not all_failed:
        raise click.UsageError("give run ids or --all-failed")
    from app import queue
    from app.jobs import durable
    from app.jobs.worker import BOUND
    from app.tables.jobs import JobRun

    async def run():
        ids = list(run_ids)
        if all_failed:
            query = JobRun.select(JobRun.id).where(JobRun.status == "failed")
            if kind:
                query = query.where(JobRun.kind == kind)
            ids += [r["id"] for r in await query]
        redis = await queue.connect()
        try:
            return await durable.retry(redis, sorted(set(ids)), None, "cli", BOUND)
        finally:
            await redis.aclose()

    click.echo(f"{_run_db(run)} run(s) queued again")


@jobs.command("purge")
@click.option("--older-than", "older_than", default="30d", show_default=True, help="Age: 30d, 12h, …")
def jobs_purge(older_than: str) -> None:
    """Delete finished runs older than this (the daily cron keeps 30 days)."""
    from app.jobs import durable

    age = _age(older_than)
    click.echo(f"{_run_db(lambda: durable.purge(age))} run(s) deleted")


if __name__ == "__main__":
    main()
