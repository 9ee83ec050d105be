"""The embedded default's SMTP server: a real SMTP endpoint on 127.0.0.1 that keeps every
message as an .eml file under var/mails, so mails can be read without a mail server."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

log = logging.getLogger(__name__)


class _SaveToFolder:
    def __init__(self, folder: Path):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns()}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted"


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def start_sink(host: str, port: int, folder: Path):
    """Start the sink unless something already listens there (then mails go to it)."""
    if host not in ("127.0.0.1", "localhost") or _port_in_use(host, port):
        return None
    from aiosmtpd.controller import Controller

    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(_SaveToFolder(folder), hostname=host, port=port)
    controller.start()
    return folder
