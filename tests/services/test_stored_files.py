"""Issue 24, point 7: a stored file's bytes are kept in chunks (stored_file_chunk) and go in and out
a chunk at a time — a job's result from its scratch file to the database, a download from the
database to the client — so a process's memory does not grow with the file's size. Memory is that
of Python's allocator (tracemalloc): bytes objects, the driver's buffers."""

import asyncio
import hashlib
import os
import sqlite3
import subprocess
import sys
import tracemalloc

import pytest

from app.jobs import results
from app.lists import MEDIA_TYPES
from app.services import files, progress
from app.tables.accounts import User
from app.tables.files import CHUNK_BYTES, StoredFileChunk
from tests.conftest import ROOT
from tests.helpers import login

MiB = 1024 * 1024


async def _chunk_sizes(file_id: int) -> list[int]:
    rows = await StoredFileChunk.select(StoredFileChunk.seq, StoredFileChunk.data).where(
        StoredFileChunk.file == file_id).order_by(StoredFileChunk.seq)
    assert [r["seq"] for r in rows] == list(range(len(rows)))
    return [len(r["data"]) for r in rows]


@pytest.mark.smoke
async def test_a_result_is_kept_in_chunks_and_any_range_reads_back_the_same_bytes(clean, tmp_path):
    content = os.urandom(3 * CHUNK_BYTES + 12_345)
    scratch = tmp_path / "result.zip"
    scratch.write_bytes(content)
    stored = await results.store("Résultat.zip", "application/zip", scratch, None)
    info = await files.info(stored["file_id"])
    assert info["size"] == len(content) and info["sha256"] == hashlib.sha256(content).hexdigest()
    assert await _chunk_sizes(stored["file_id"]) == [CHUNK_BYTES] * 3 + [12_345]  # no row holds the file
    assert await files.content(stored["file_id"]) == content
    for first, last in [(0, 0), (CHUNK_BYTES - 1, CHUNK_BYTES), (CHUNK_BYTES, 2 * CHUNK_BYTES - 1),
                        (5, 3 * CHUNK_BYTES + 100), (len(content) - 1, len(content) - 1)]:
        parts = [part async for part in files.pieces(stored["file_id"], first, last)]
        assert b"".join(parts) == content[first:last + 1]
        assert all(len(part) <= CHUNK_BYTES for part in parts)
    # From bytes (an export), the same cut; an exact multiple of a chunk has no empty last chunk.
    exact = (await results.store("export.csv", "text/csv", content[:2 * CHUNK_BYTES], None))["file_id"]
    assert await _chunk_sizes(exact) == [CHUNK_BYTES] * 2
    assert await files.content(exact) == content[:2 * CHUNK_BYTES]


async def test_keeping_a_large_scratch_file_reads_it_a_chunk_at_a_time(clean, tmp_path):
    scratch = tmp_path / "large.zip"
    with open(scratch, "wb") as out:
        for _ in range(24):
            out.write(os.urandom(MiB))
    tracemalloc.start()
    try:
        stored = await results.store("large.zip", "application/zip", scratch, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (await files.info(stored["file_id"]))["size"] == 24 * MiB
    assert peak < 8 * MiB, f"{peak / MiB:.1f} MiB held to keep a 24 MiB file"


async def _asgi_get(app, client, path: str) -> tuple[int, dict, list[int], str, int]:
    """GET ``path`` straight through the ASGI app (httpx's transport joins the body): the status,
    the headers, each body message's size, the body's SHA-256, and the peak of Python's memory."""
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             # As a browser asks: a download must still come as it is, with its length (not recompressed).
             "headers": [(b"host", b"testserver.local"), (b"cookie", cookie.encode()),
                         (b"accept-encoding", b"gzip, deflate, br")],
             "client": ("127.0.0.1", 5000), "server": ("testserver.local", 80)}
    start, sizes, digest, asked, complete = {}, [], hashlib.sha256(), [], asyncio.Event()

    async def receive():  # the request; then, as a server does, the disconnect once the answer is sent
        if asked:
            await complete.wait()
            return {"type": "http.disconnect"}
        asked.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            start.update(status=message["status"],
                         headers={k.decode().lower(): v.decode() for k, v in message["headers"]})
        elif message.get("body"):
            sizes.append(len(message["body"]))
            digest.update(message["body"])
        if message["type"] == "http.response.body" and not message.get("more_body"):
            complete.set()

    tracemalloc.start()
    try:
        await app(scope, receive, send)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return start["status"], start["headers"], sizes, digest.hexdigest(), peak


async def test_a_large_export_is_downloaded_as_a_stream_of_chunks(app, client, redis_client):
    content = os.urandom(16 * MiB)
    expected = hashlib.sha256(content).hexdigest()
    user = await User.select(User.id).where(User.username == "alp001.get").first()
    stored = await results.store("utilisateurs.xlsx", MEDIA_TYPES["xlsx"], content, user["id"])
    del content
    await progress.start(redis_client, "bigexport", user["id"], "Export Excel", 1)
    await progress.update(redis_client, "bigexport", state="done", format="xlsx", **stored)
    await login(client, "alp001.get")
    status, headers, sizes, digest, peak = await _asgi_get(app, client, "/exports/bigexport")
    assert status == 200 and headers["content-length"] == str(16 * MiB) and digest == expected
    assert "content-encoding" not in headers
    assert headers["content-type"] == MEDIA_TYPES["xlsx"] and "utilisateurs.xlsx" in headers["content-disposition"]
    assert len(sizes) == 16 and max(sizes) <= CHUNK_BYTES  # sent as it is read, a chunk at a time
    assert peak < 6 * MiB, f"{peak / MiB:.1f} MiB held to serve a 16 MiB file"
    # Someone else's token is « plus disponible » as ever.
    await progress.update(redis_client, "bigexport", owner=user["id"] + 100_000)
    assert (await client.get("/exports/bigexport")).status_code == 404


def test_an_older_embedded_database_keeps_its_files(tmp_path):
    """A var/ made before the chunks: ``tremplin dev`` moves each file's bytes into chunks and drops
    ``stored_file.data``; the files read back the same."""
    path = tmp_path / "old.sqlite"
    big, small = os.urandom(2 * CHUNK_BYTES + 7), b"%PDF-1.4 petit"
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE "stored_file" ("id" INTEGER PRIMARY KEY NOT NULL, "name" VARCHAR(255) NOT NULL '
                 "DEFAULT '', \"content_type\" VARCHAR(100) NOT NULL DEFAULT '', \"size\" INTEGER NOT NULL "
                 "DEFAULT 0, \"sha256\" VARCHAR(64) NOT NULL DEFAULT '', \"data\" BLOB NOT NULL DEFAULT '', "
                 '"created_by" INTEGER NULL DEFAULT null, "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)')
    conn.executemany("INSERT INTO stored_file (id, name, size, data) VALUES (?, ?, ?, ?)",
                     [(1, "big.zip", len(big), big), (2, "small.pdf", len(small), small), (3, "empty", 0, b"")])
    conn.commit()
    conn.close()
    script = ("import asyncio\nfrom app import db\nfrom app.services import files\n"
              "async def main():\n    await db.create_sqlite_tables()\n"
              "    for i in (1, 2, 3):\n        print((await files.content(i)).hex())\n"
              "asyncio.run(main())\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "DATABASE_URL": f"sqlite:///{path}", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == [big.hex(), small.hex(), ""]
    conn = sqlite3.connect(path)
    assert "data" not in {r[1] for r in conn.execute('PRAGMA table_info("stored_file")')}
    assert conn.execute("SELECT file, seq, length(data) FROM stored_file_chunk ORDER BY file, seq").fetchall() == [
        (1, 0, CHUNK_BYTES), (1, 1, CHUNK_BYTES), (1, 2, 7), (2, 0, len(small))]
    conn.close()
