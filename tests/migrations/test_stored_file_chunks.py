"""2026-12-07T06:00: the bytes already kept in ``stored_file.data`` move to ``stored_file_chunk``,
cut in pieces of 1 MiB by the database; the files read back the same through the application."""

import hashlib
import os

import asyncpg
import pytest

from tests.conftest import BACKEND
from tests.migrations.scratch import migrate, scratch_database

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="migrations run on PostgreSQL")

BEFORE = "2026-12-07T03:00:00:000000"
MiB = 1024 * 1024


async def test_the_kept_files_move_to_chunks_and_read_back_the_same():
    big, small = os.urandom(2 * MiB + 5), b"%PDF-1.4 petit"
    async with scratch_database() as url:
        migrate(url, BEFORE)
        conn = await asyncpg.connect(url)
        try:
            await conn.executemany(
                "INSERT INTO stored_file (id, name, content_type, size, sha256, data) VALUES ($1, $2, '', $3, $4, $5)",
                [(i, f"f{i}", len(data), hashlib.sha256(data).hexdigest(), data)
                 for i, data in ((1, big), (2, small), (3, b""), (4, os.urandom(MiB)))])
        finally:
            await conn.close()
        migrate(url)
        conn = await asyncpg.connect(url)
        try:
            chunks = await conn.fetch("SELECT file, seq, length(data) AS size FROM stored_file_chunk ORDER BY file, seq")
            assert [tuple(r) for r in chunks] == [(1, 0, MiB), (1, 1, MiB), (1, 2, 5), (2, 0, len(small)), (4, 0, MiB)]
            whole = await conn.fetch("SELECT f.id, f.sha256, string_agg(c.data, '' ORDER BY c.seq) AS data "
                                     "FROM stored_file f JOIN stored_file_chunk c ON c.file = f.id GROUP BY f.id")
            assert all(hashlib.sha256(r["data"]).hexdigest() == r["sha256"] for r in whole) and len(whole) == 3
            assert "data" not in {r["column_name"] for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'stored_file'")}
            # Deleting a file deletes its chunks (the unreferenced-files cron deletes stored_file rows).
            await conn.execute("DELETE FROM stored_file WHERE id = 1")
            assert await conn.fetchval("SELECT count(*) FROM stored_file_chunk WHERE file = 1") == 0
        finally:
            await conn.close()
