"""2026-12-07T09:20:00: the enrolments get their learner's name sort key (existing rows filled in), two
triggers keep it, and a session's page sorted by name is a range of the index (session, name_key, id)
(issue 24: a join and sort of the whole session otherwise)."""

import asyncpg
import pytest

from tests.conftest import BACKEND
from tests.migrations.scratch import migrate, scratch_database

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="migrations run on PostgreSQL")

BEFORE = "2026-12-07T07:00:00:000000"


async def test_existing_enrolments_get_the_key_and_the_triggers_keep_it():
    async with scratch_database() as url:
        migrate(url, BEFORE)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("""
                INSERT INTO delegation (id, code, name) VALUES (1, 'ALP', 'Alpes');
                INSERT INTO establishment (id, code, name, delegation) VALUES (1, 'ALP001', 'CH', 1);
                INSERT INTO app_user (id, username, password_hash, first_name, last_name, email, last_name_key) VALUES
                    (1, 'a', 'x', 'Ana', 'Éluard', 'a@x', 'eluard'), (2, 'b', 'x', 'Béa', 'Zola', 'b@x', 'zola'),
                    (3, 'c', 'x', 'Cyril', 'Abel', 'c@x', 'abel');
                INSERT INTO training_session (id, establishment, full_name, short_name, start_date, end_date, code)
                    VALUES (1, 1, 'S', 'S', '2026-01-01', '2026-01-02', '26X00S1');
                INSERT INTO enrolment (session, "user") VALUES (1, 1), (1, 2);
            """)
        finally:
            await conn.close()
        migrate(url)
        conn = await asyncpg.connect(url)
        try:
            async def keys():
                return {r["user"]: r["name_key"] for r in await conn.fetch('SELECT "user", name_key FROM enrolment')}

            assert await keys() == {1: "eluard", 2: "zola"}  # filled in by the migration
            await conn.execute('INSERT INTO enrolment (session, "user") VALUES (1, 3)')
            assert (await keys())[3] == "abel"  # an enrolment made afterwards
            await conn.execute("UPDATE app_user SET last_name = 'Anonyme', last_name_key = 'anonyme' WHERE id = 2")
            assert (await keys())[2] == "anonyme"  # the name changed, whoever wrote it
            await conn.execute("UPDATE enrolment SET name_key = 'zzz' WHERE \"user\" = 1")
            assert (await keys())[1] == "eluard"  # never another key than its user's
            # The same order byte by byte as app_user.last_name_key (folded keys, COLLATE "C").
            assert await conn.fetchval(
                "SELECT collation_name FROM information_schema.columns WHERE table_name = 'enrolment' "
                "AND column_name = 'name_key'") == "C"
            # The page's query (app/lists/progress.py, sort by name): a range of the index, no sort.
            await conn.execute("SET enable_seqscan = off; SET enable_sort = off")  # 3 rows: it could sort them
            plan = "\n".join(r[0] for r in await conn.fetch(
                "EXPLAIN SELECT id FROM enrolment WHERE session = 1 AND active ORDER BY name_key, id LIMIT 50"))
            assert "Index Scan using enrolment_session_name" in plan and "Sort" not in plan, plan
        finally:
            await conn.close()
