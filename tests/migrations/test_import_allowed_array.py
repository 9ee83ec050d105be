"""``import_row.allowed``, comma-separated text before 2026-12-06T21:00, becomes an array: the rows of
the batches already previewed keep the decisions they offered."""


import asyncpg
import pytest

from tests.conftest import BACKEND
from tests.migrations.scratch import migrate, scratch_database

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="migrations run on PostgreSQL")

BEFORE = "2026-12-06T19:10:01:000000"



async def test_the_offered_decisions_become_an_array():
    async with scratch_database() as url:
        migrate(url, BEFORE)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("""
                INSERT INTO delegation (id, code, name) VALUES (1, 'ALP', 'Alpes');
                INSERT INTO establishment (id, code, name, delegation) VALUES (1, 'ALP001', 'CH', 1);
                INSERT INTO import_batch (id, establishment, filename) VALUES (1, 1, 'a.csv');
                INSERT INTO import_row (batch, line, allowed) VALUES (1, 2, 'create,skip'), (1, 3, 'skip'),
                    (1, 4, 'skip,update,update_password');
                INSERT INTO import_row (batch, line) VALUES (1, 5);
            """)
        finally:
            await conn.close()
        migrate(url)
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT line, allowed FROM import_row ORDER BY line")
            assert [(r["line"], r["allowed"]) for r in rows] == [
                (2, ["create", "skip"]), (3, ["skip"]), (4, ["skip", "update", "update_password"]), (5, ["create", "skip"])]
            await conn.execute("INSERT INTO import_row (batch, line) VALUES (1, 6)")
            assert await conn.fetchval("SELECT allowed FROM import_row WHERE line = 6") == ["create", "skip"]
        finally:
            await conn.close()
