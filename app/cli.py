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


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="HTTP processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Production HTTP server (no worker inside: run `tremplin worker` separately)."""
    import uvicorn

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
    from app.jobs.worker import build_worker

    build_worker(handle_signals=True).run()


@main.command()
def migrate() -> None:
    """Apply the database migrations (PostgreSQL), or create the tables (embedded SQLite)."""
    from app import db

    if db.is_sqlite():
        asyncio.run(db.create_sqlite_tables())
        click.echo("SQLite tables ready.")
        return
    env = {**os.environ, "PICCOLO_CONF": "piccolo_conf"}
    result = subprocess.run([sys.executable, "-m", "piccolo.main", "migrations", "forwards", "tremplin"], env=env)
    if result.returncode:
        sys.exit(result.returncode)


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


if __name__ == "__main__":
    main()
