"""A PgBouncer of its own, in transaction pooling mode, in front of the local PostgreSQL: the
production set-up README « Running at scale » describes, for the tests and the benches
(bench/*.py import it too, so it needs nothing from conftest).

    bouncer = start_pgbouncer(folder, "postgres://postgres@127.0.0.1:5432/mydb")
    url = bouncer.url          # postgres://postgres@127.0.0.1:<port>/mydb, through PgBouncer
    ...
    bouncer.stop()

Debian's package ``pgbouncer`` (scripts/bootstrap --test installs it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Bouncer:
    process: subprocess.Popen
    port: int
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_pgbouncer(folder: Path, database_url: str, pool_size: int = 10, max_client_conn: int = 500) -> Bouncer:
    """Start PgBouncer (transaction mode, ``pool_size`` server connections per database/user) with its
    files under ``folder``; returns once it accepts connections. Every database of the target server
    is reachable through it under its own name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = urlsplit(database_url)
    user = target.username or "postgres"
    port = _free_port()
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={target.hostname or '127.0.0.1'} port={target.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = {max_client_conn}\n"
        # asyncpg announces this parameter at connect; PgBouncer must let it through.
        "ignore_startup_parameters = extra_float_digits\n"
        f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
    )
    log = folder / "pgbouncer.out"
    command = [PGBOUNCER, str(ini)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root: as the postgres user, owning its folder
        command[1:1] = ["-u", "postgres"]
        for path in (folder, *folder.iterdir()):
            shutil.chown(path, "postgres")
    process = subprocess.Popen(command, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("pgbouncer did not listen in 15 s")
    url = f"{target.scheme}://{user}@127.0.0.1:{port}{target.path}"
    return Bouncer(process, port, url, log)
